package api

// OpenAPIJSON is the document GET /openapi.json serves for issuer.
var OpenAPIJSON = openAPIJSON

// Routes lists every route of the server as method and Gin path ("/tenants/:slug").
func Routes(s *Server) [][2]string {
	var out [][2]string
	for _, r := range s.engine.Routes() {
		out = append(out, [2]string{r.Method, r.Path})
	}
	return out
}
