package api

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	"go.yaml.in/yaml/v3"
)

// openAPIYAML is the OpenAPI 3.0.3 document of every public and admin endpoint, written by
// hand. The api tests validate every response they get against it (openapi_test.go), so a
// handler and its description cannot drift apart unnoticed.
//
//go:embed openapi.yaml
var openAPIYAML []byte

// openAPIJSON returns the document as JSON, its servers set to the issuer.
func openAPIJSON(issuer string) ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(openAPIYAML, &doc); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	if issuer != "" {
		doc["servers"] = []any{map[string]any{"url": issuer}}
	}
	b, err := json.Marshal(jsonable(doc))
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	return b, nil
}

// jsonable turns the maps YAML may decode with non-string keys (a status code written
// unquoted) into maps encoding/json takes.
func jsonable(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = jsonable(e)
		}
		return v
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case []any:
		for i, e := range v {
			v[i] = jsonable(e)
		}
		return v
	}
	return v
}

// openAPIRoute serves the document at GET /openapi.json, rendered once.
func (s *Server) openAPIRoute(e *gin.Engine) error {
	doc, err := openAPIJSON(s.cfg.Issuer)
	if err != nil {
		return err
	}
	e.GET("/openapi.json", func(c *gin.Context) { c.Data(http.StatusOK, "application/json", doc) })
	return nil
}
