package api

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/jeton-auth/jeton/service"
)

const wellKnown = "/.well-known/oauth-authorization-server"

// discoveryPaths are where the RFC 8414 document is served: the root, and for an issuer
// with a path also the §3 location (the well-known segment inserted before the path).
func discoveryPaths(issuer string) []string {
	paths := []string{wellKnown}
	if u, err := url.Parse(issuer); err == nil {
		if p := strings.TrimSuffix(u.Path, "/"); p != "" {
			paths = append(paths, wellKnown+p)
		}
	}
	return paths
}

// metadata is the authorization server metadata (RFC 8414 §2), with the authorization
// challenge endpoint of draft-ietf-oauth-first-party-apps §4.1. response_types_supported
// is "code": the challenge endpoint's codes (jeton has no browser authorization endpoint);
// scopes_supported is omitted because one document serves every tenant.
type metadata struct {
	Issuer                           string   `json:"issuer"`
	TokenEndpoint                    string   `json:"token_endpoint"`
	IntrospectionEndpoint            string   `json:"introspection_endpoint"`
	RevocationEndpoint               string   `json:"revocation_endpoint"`
	AuthorizationChallengeEndpoint   string   `json:"authorization_challenge_endpoint"`
	ResponseTypesSupported           []string `json:"response_types_supported"`
	CodeChallengeMethodsSupported    []string `json:"code_challenge_methods_supported"`
	GrantTypesSupported              []string `json:"grant_types_supported"`
	TokenEndpointAuthMethods         []string `json:"token_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethods []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethods    []string `json:"revocation_endpoint_auth_methods_supported"`
}

func (s *Server) discovery(c *gin.Context) {
	base := strings.TrimSuffix(s.cfg.Issuer, "/")
	confidential := []string{"client_secret_basic", "client_secret_post"}
	// Public clients authenticate with their client_id alone ("none") at /token and /revoke.
	withPublic := append(append([]string{}, confidential...), "none")
	c.JSON(http.StatusOK, metadata{
		Issuer:                           s.cfg.Issuer,
		TokenEndpoint:                    base + "/token",
		IntrospectionEndpoint:            base + "/introspect",
		RevocationEndpoint:               base + "/revoke",
		AuthorizationChallengeEndpoint:   base + "/authorize-challenge",
		ResponseTypesSupported:           []string{"code"},
		CodeChallengeMethodsSupported:    []string{"S256"},
		GrantTypesSupported:              service.GrantTypes,
		TokenEndpointAuthMethods:         withPublic,
		IntrospectionEndpointAuthMethods: confidential,
		RevocationEndpointAuthMethods:    withPublic,
	})
}
