package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jeton-auth/jeton/internal/testkit"
	dto "github.com/prometheus/client_model/go"
)

// tenantRound drives one tenant through everything that is counted, through the real
// endpoints: created through the admin API with a client and a user, a login, a refresh,
// a revocation, a reuse of the used refresh token, introspection, a failed login of a
// username of its own, an admin read of an unknown user and a bulk revocation. It runs on
// several goroutines at once, so it returns its first error instead of failing the test.
func tenantRound(e *env, key string, i int) error {
	slug := fmt.Sprintf("tenant-%04d", i)
	call := func(want int, method, path, key, contentType, body string) (map[string]any, error) {
		req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", contentType)
		if key != "" {
			req.Header.Set("Authorization", key)
		}
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != want {
			return nil, fmt.Errorf("%s %s: %d %s %v, want %d", method, path, resp.StatusCode, b, err, want)
		}
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return m, nil
	}
	admin := func(want int, method, path string, body any) (map[string]any, error) {
		var j []byte
		if body != nil {
			j, _ = json.Marshal(body)
		}
		return call(want, method, path, "Bearer "+key, "application/json", string(j))
	}
	var app client
	oauth := func(want int, path string, form url.Values) (map[string]any, error) {
		return call(want, "POST", path, basic(app.ID, app.Secret), "application/x-www-form-urlencoded", form.Encode())
	}

	if _, err := admin(http.StatusCreated, "POST", "/admin/v1/tenants", map[string]any{"slug": slug}); err != nil {
		return err
	}
	c, err := admin(http.StatusCreated, "POST", tenantPath(slug, "clients"), map[string]any{"name": "app-" + slug,
		"grant_types": []string{"password", "refresh_token"}, "scopes": []string{"read"}, "introspect": true})
	if err != nil {
		return err
	}
	app.ID, _ = c["client_id"].(string)
	app.Secret, _ = c["client_secret"].(string)
	username := "user-" + slug
	u, err := admin(http.StatusCreated, "POST", tenantPath(slug, "users"), map[string]any{"username": username, "password": testkit.AlicePassword})
	if err != nil {
		return err
	}
	first, err := oauth(http.StatusOK, "/token", url.Values{"grant_type": {"password"}, "username": {username}, "password": {testkit.AlicePassword}})
	if err != nil {
		return err
	}
	rt, _ := first["refresh_token"].(string)
	second, err := oauth(http.StatusOK, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	if err != nil {
		return err
	}
	at, _ := second["access_token"].(string)
	steps := []struct {
		want int
		path string
		form url.Values
	}{
		{http.StatusOK, "/revoke", url.Values{"token": {at}}},
		{http.StatusBadRequest, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}}, // reuse
		{http.StatusOK, "/introspect", url.Values{"token": {at}}},
		{http.StatusBadRequest, "/token", url.Values{"grant_type": {"password"}, "username": {"nobody-" + slug}, "password": {"wrong " + slug}}},
	}
	for _, s := range steps {
		if _, err := oauth(s.want, s.path, s.form); err != nil {
			return err
		}
	}
	if _, err := admin(http.StatusNotFound, "GET", tenantPath(slug, "users", uuid.NewString()), nil); err != nil {
		return err
	}
	id, _ := u["id"].(string)
	_, err = admin(http.StatusOK, "POST", tenantPath(slug, "users", id, "revoke"), nil)
	return err
}

// series returns every jeton_ series of the registry, by name and labels.
func series(t *testing.T, e *env) map[string]bool {
	t.Helper()
	fams, err := e.metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, f := range fams {
		if !strings.HasPrefix(f.GetName(), "jeton_") {
			continue
		}
		for _, m := range f.GetMetric() {
			out[f.GetName()+labelString(m)] = true
		}
	}
	return out
}

func labelString(m *dto.Metric) string {
	var b strings.Builder
	for _, l := range m.GetLabel() {
		fmt.Fprintf(&b, " %s=%q", l.GetName(), l.GetValue())
	}
	return b.String()
}

// Labels take only bounded values. After one tenant has been through every counted
// path, a thousand more tenants, each with its own clients, users, tokens and failed
// usernames, leave the set of series exactly as it was.
func TestMetricsSeriesBoundedByTenants(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 tenants")
	}
	e := newEnv(t)
	if err := e.metrics.WatchPool("main", e.pool); err != nil {
		t.Fatal(err)
	}
	e.metrics.WatchHashing(e.svc.HashLoad, e.svc.HashWorkers(), e.svc.HashCapacity())
	key := e.mustAdminKey("")
	if err := tenantRound(e, key, 0); err != nil {
		t.Fatal(err)
	}
	before := series(t, e)
	const workers = 8
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			for i := 1 + w; i <= 1000; i += workers {
				if err := tenantRound(e, key, i); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	after := series(t, e)
	for s := range after {
		if !before[s] {
			t.Errorf("new series %s", s)
		}
		if strings.Contains(s, "tenant-") || strings.Contains(s, "jc_") || strings.Contains(s, "user-") {
			t.Errorf("series %s names a tenant, client or user", s)
		}
	}
	if len(after) != len(before) {
		t.Errorf("%d series after 1,000 tenants, %d before", len(after), len(before))
	}
	// The paths did run and were counted.
	for _, want := range []string{
		`jeton_tokens_issued_total grant_type="password"`,
		`jeton_tokens_issued_total grant_type="refresh_token"`,
		`jeton_revocations_total target="token"`,
		`jeton_revocations_total target="user"`,
		`jeton_refresh_reuse_detected_total`,
		`jeton_hash_wait_seconds`,
		`jeton_http_request_duration_seconds grant_type="refresh_token" method="POST" route="/token" status="4xx"`,
		`jeton_http_request_duration_seconds grant_type="" method="GET" route="/admin/v1/tenants/:slug/users/:user" status="4xx"`,
	} {
		if !before[want] {
			t.Errorf("no series %s", want)
		}
	}
}
