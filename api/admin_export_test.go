package api

// AdminRoutes lists the admin API's routes as "METHOD /path/:param", for the test that
// checks every one of them keeps tenant keys inside their tenant.
func AdminRoutes(s *Server) []string {
	var out []string
	for _, r := range s.engine.Routes() {
		if len(r.Path) >= len("/admin/") && r.Path[:len("/admin/")] == "/admin/" {
			out = append(out, r.Method+" "+r.Path)
		}
	}
	return out
}
