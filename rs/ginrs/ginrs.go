// Package ginrs adapts package rs to Gin: the same checks and answers as
// rs.Client.Middleware, as a gin.HandlerFunc.
//
//	r.GET("/notes", ginrs.Middleware(c, rs.RequireScopes("read")), func(g *gin.Context) {
//		tok, _ := ginrs.FromContext(g)
//		g.JSON(http.StatusOK, gin.H{"sub": tok.Sub})
//	})
package ginrs

import (
	"github.com/gin-gonic/gin"
	"github.com/jeton-auth/jeton/rs"
)

// Middleware lets a request through only with a live jeton access token holding the scopes
// opts require, and puts the token in the request's context (FromContext, or
// rs.FromContext on g.Request.Context()). Refused requests are answered by
// rs.Client.WriteError and aborted.
func Middleware(c *rs.Client, opts ...rs.Option) gin.HandlerFunc {
	return func(g *gin.Context) {
		tok, err := c.Authorize(g.Request, opts...)
		if err != nil {
			c.WriteError(g.Writer, err)
			g.Abort()
			return
		}
		g.Request = g.Request.WithContext(rs.NewContext(g.Request.Context(), tok))
		g.Next()
	}
}

// FromContext returns the token Middleware accepted for this request, and false when there
// is none.
func FromContext(g *gin.Context) (rs.Token, bool) {
	return rs.FromContext(g.Request.Context())
}
