package api

import "github.com/gin-gonic/gin"

// consoleRoutes serves the admin console (Config.Console) under /console/. Gin redirects
// /console to /console/.
func (s *Server) consoleRoutes(e *gin.Engine) {
	if s.cfg.Console == nil {
		return
	}
	h := gin.WrapH(s.cfg.Console)
	e.GET("/console/*file", h)
	e.HEAD("/console/*file", h)
}
