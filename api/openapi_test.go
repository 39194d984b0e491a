package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/jeton-auth/jeton/api"
	"github.com/jeton-auth/jeton/service"
)

// The OpenAPI document is checked two ways: it is a valid OpenAPI 3.0.3 document that
// describes every route the server has, and every response of every api test is validated
// against it as the test runs (validating, installed by newEnv), so a handler and the
// document cannot drift apart.

// spec is the document and its router, loaded once per test binary.
var spec struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error
}

func openAPI(t *testing.T) (*openapi3.T, routers.Router) {
	t.Helper()
	spec.once.Do(func() {
		data, err := api.OpenAPIJSON("")
		if err != nil {
			spec.err = err
			return
		}
		spec.doc, spec.err = openapi3.NewLoader().LoadFromData(data)
		if spec.err != nil {
			return
		}
		if spec.err = spec.doc.Validate(context.Background()); spec.err != nil {
			return
		}
		spec.router, spec.err = gorillamux.NewRouter(spec.doc)
	})
	if spec.err != nil {
		t.Fatalf("OpenAPI document: %v", spec.err)
	}
	return spec.doc, spec.router
}

// validating wraps h so that every response it writes is validated against the OpenAPI
// document once the handler returns; a mismatch fails t, the test that made the request.
func validating(t *testing.T, h http.Handler) http.Handler {
	t.Helper()
	openAPI(t)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &teeWriter{ResponseWriter: w}
		h.ServeHTTP(tw, r)
		if tw.header == nil {
			tw.WriteHeader(http.StatusOK)
		}
		if err := checkResponse(t, r, tw.status, tw.header, tw.body.Bytes()); err != nil {
			t.Errorf("OpenAPI: the %d answer to %s %s does not match the document: %v\nbody: %.500s",
				tw.status, r.Method, r.URL.Path, err, tw.body.Bytes())
		}
	})
}

// teeWriter passes a response through and keeps a copy of its status, headers (as sent)
// and body. It flushes, so streams stay streams.
type teeWriter struct {
	http.ResponseWriter
	status int
	header http.Header
	body   bytes.Buffer
}

func (w *teeWriter) WriteHeader(status int) {
	if w.header == nil {
		w.status, w.header = status, w.ResponseWriter.Header().Clone()
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *teeWriter) Write(b []byte) (int, error) {
	if w.header == nil {
		w.WriteHeader(http.StatusOK)
	}
	if w.body.Len() < 1<<20 {
		w.body.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

func (w *teeWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *teeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

const wellKnown = "/.well-known/oauth-authorization-server"

// checkResponse validates one response against the operation the document has for its
// request. A request for no documented operation must have been answered 404 or 405 with
// the error body of its part of the API, or redirected (a trailing slash).
func checkResponse(t *testing.T, r *http.Request, status int, header http.Header, body []byte) error {
	doc, router := openAPI(t)
	if r.Method == http.MethodHead {
		return nil
	}
	lookup := r
	if strings.HasPrefix(r.URL.Path, wellKnown+"/") {
		// RFC 8414 §3: the same document at the well-known location of an issuer's path.
		lookup = r.Clone(r.Context())
		lookup.URL = &url.URL{Path: wellKnown}
	}
	route, params, err := router.FindRoute(lookup)
	if errors.Is(err, routers.ErrPathNotFound) || errors.Is(err, routers.ErrMethodNotAllowed) {
		return checkUnrouted(doc, r, status, header, body)
	}
	if err != nil {
		return err
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if mt, _, _ := mime.ParseMediaType(header.Get("Content-Type")); mt == "text/event-stream" || mt == "application/x-ndjson" {
		input.Options.ExcludeResponseBody = true
	}
	input.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(r.Context(), input); err != nil {
		return err
	}
	// ValidateResponse lets a body through where the document promises none.
	if resp := route.Operation.Responses.Status(status); resp != nil && len(resp.Value.Content) == 0 && len(body) > 0 {
		return fmt.Errorf("a body where the document describes none")
	}
	return nil
}

var unroutedStatuses = map[int]bool{http.StatusMovedPermanently: true, http.StatusTemporaryRedirect: true,
	http.StatusPermanentRedirect: true}

func checkUnrouted(doc *openapi3.T, r *http.Request, status int, header http.Header, body []byte) error {
	if unroutedStatuses[status] {
		return nil
	}
	admin := false // the admin and account APIs answer problem details
	for _, api := range []string{"/admin/v1", "/account/v1"} {
		admin = admin || r.URL.Path == api || strings.HasPrefix(r.URL.Path, api+"/")
	}
	var schema, mediaType string
	switch {
	case status == http.StatusNotFound && admin, status == http.StatusMethodNotAllowed && admin:
		schema, mediaType = "Problem", "application/problem+json"
	case status == http.StatusNotFound:
		schema, mediaType = "RouteNotFound", "application/json"
	case status == http.StatusMethodNotAllowed:
		schema, mediaType = "OAuthError", "application/json"
	default:
		return errors.New("no such operation in the document")
	}
	if mt, _, _ := mime.ParseMediaType(header.Get("Content-Type")); mt != mediaType {
		return fmt.Errorf("content type %q, want %s", header.Get("Content-Type"), mediaType)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return err
	}
	return doc.Components.Schemas[schema].Value.VisitJSON(v)
}

// TestOpenAPIDocumentsEveryRoute: every route the server registers is an operation of the
// document, and every operation of the document is a route.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	doc, _ := openAPI(t)
	e := newEnv(t)
	feed := service.NewFeed(e.store, service.FeedConfig{}, nil) // serves GET /revocations
	srv, err := api.NewServer(api.Config{Issuer: issuer, Feed: feed}, e.svc, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`:([A-Za-z_]+)`)
	served := map[string]bool{}
	for _, rt := range api.Routes(srv) {
		path := param.ReplaceAllString(rt[1], "{$1}")
		served[rt[0]+" "+path] = true
		item := doc.Paths.Find(path)
		if item == nil || item.GetOperation(rt[0]) == nil {
			t.Errorf("%s %s is served but not in the OpenAPI document", rt[0], path)
		}
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !served[method+" "+path] {
				t.Errorf("%s %s is in the OpenAPI document but not served", method, path)
			}
		}
	}
}

// TestOpenAPIServed: GET /openapi.json is the document, its server the issuer.
func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t)
	r := e.do(mustRequest(t, http.MethodGet, e.srv.URL+"/openapi.json"))
	if r.Status != http.StatusOK {
		t.Fatalf("GET /openapi.json: %d %s", r.Status, r.Body)
	}
	doc, err := openapi3.NewLoader().LoadFromData(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.0.3" || len(doc.Servers) != 1 || doc.Servers[0].URL != issuer {
		t.Errorf("openapi %q, servers %v; want 3.0.3 and %s", doc.OpenAPI, doc.Servers, issuer)
	}
}

// TestOpenAPIValidatorCatchesMismatches: the validator is not a rubber stamp.
func TestOpenAPIValidatorCatchesMismatches(t *testing.T) {
	openAPI(t)
	get := func(path string) *http.Request { return mustRequest(t, http.MethodGet, "http://jeton.test"+path) }
	jsonHeader := http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"abc"}}
	cases := []struct {
		name   string
		req    *http.Request
		status int
		header http.Header
		body   string
	}{
		{"undocumented member", get("/healthz"), 200, jsonHeader, `{"status":"ok","extra":1}`},
		{"undocumented status", get("/healthz"), 418, jsonHeader, `{"status":"ok"}`},
		{"missing request id", get("/healthz"), 200, http.Header{"Content-Type": {"application/json"}}, `{"status":"ok"}`},
		{"wrong media type", get("/admin/v1/tenants"), 401, jsonHeader, `{"type":"x","title":"t","status":401}`},
		{"undocumented route", get("/nope"), 200, jsonHeader, `{}`},
		{"unknown path, wrong body", get("/nope"), 404, jsonHeader, `{"error":"gone"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := checkResponse(t, c.req, c.status, c.header, []byte(c.body)); err == nil {
				t.Error("validated")
			}
		})
	}
	// And a good answer passes.
	if err := checkResponse(t, get("/healthz"), 200, jsonHeader, []byte(`{"status":"ok"}`)); err != nil {
		t.Errorf("a good answer failed: %v", err)
	}
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
