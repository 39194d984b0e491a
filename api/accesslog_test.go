package api_test

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/jeton-auth/jeton/api"
	"github.com/jeton-auth/jeton/internal/testkit"
)

// One JSON line per request, with its request id, route template, status,
// latency and tenant, and the grant type of a /token request; never the path, which holds
// ids, nor anything the request carried.
func TestAccessLogLines(t *testing.T) {
	w := newWorld(t)
	logs := &testkit.Buffer{}
	h, err := api.NewServer(api.Config{Issuer: issuer}, w.svc, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(validating(t, h))
	t.Cleanup(srv.Close)
	w.srv = srv
	key := w.mustAdminKey("a")

	type line struct {
		Msg       string  `json:"msg"`
		RequestID string  `json:"request_id"`
		Method    string  `json:"method"`
		Route     string  `json:"route"`
		Status    int     `json:"status"`
		Latency   float64 `json:"latency"`
		Tenant    string  `json:"tenant"`
		GrantType string  `json:"grant_type"`
	}
	tok := w.login(w.app, "alice", testkit.AlicePassword)
	user := w.alice.ID.String()
	cases := []struct {
		name string
		do   func() response
		want line
	}{
		{"password grant", func() response {
			return w.post("/token", &w.app, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"wrong password, long"}})
		}, line{Method: "POST", Route: "/token", Status: 400, Tenant: "a", GrantType: "password"}},
		{"unknown grant", func() response {
			return w.post("/token", &w.app, url.Values{"grant_type": {"urn:x:" + tok["access_token"].(string)}})
		}, line{Method: "POST", Route: "/token", Status: 400, Tenant: "a", GrantType: "other"}},
		{"introspection", func() response {
			return w.post("/introspect", &w.rs, url.Values{"token": {tok["access_token"].(string)}})
		}, line{Method: "POST", Route: "/introspect", Status: 200, Tenant: "a"}},
		{"admin, path with an id", func() response {
			return w.admin(key, "GET", tenantPath("a", "users", user), nil)
		}, line{Method: "GET", Route: "/admin/v1/tenants/:slug/users/:user", Status: 200, Tenant: "a"}},
		{"unknown path", func() response {
			return w.do(mustRequest(t, http.MethodGet, srv.URL+"/nope/"+user))
		}, line{Method: "GET", Route: "unmatched", Status: 404}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := len(logs.String())
			r := c.do()
			var got []line
			sc := bufio.NewScanner(strings.NewReader(logs.String()[before:]))
			for sc.Scan() {
				var l line
				if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
					t.Fatalf("not a JSON line: %q", sc.Text())
				}
				if l.Msg == "request" {
					got = append(got, l)
				}
			}
			if len(got) != 1 {
				t.Fatalf("%d request lines, want 1:\n%s", len(got), logs.String()[before:])
			}
			l := got[0]
			if l.RequestID == "" || l.RequestID != r.Header.Get("X-Request-Id") || l.Latency <= 0 {
				t.Errorf("request id %q (answered %q), latency %v", l.RequestID, r.Header.Get("X-Request-Id"), l.Latency)
			}
			l.Msg, l.RequestID, l.Latency = "", "", 0
			if l != c.want {
				t.Errorf("logged %+v, want %+v", l, c.want)
			}
			if strings.Contains(logs.String()[before:], user) || strings.Contains(logs.String()[before:], "jat_") {
				t.Errorf("the line holds the path or a token: %s", logs.String()[before:])
			}
		})
	}
}
