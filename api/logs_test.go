package api_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/service"
)

// Secrets never reach the logs. A whole session, admin calls included, runs
// against a server that logs everything at debug level, and the log is searched for every
// password, token, client secret and admin key the session used, whole and in part.
func TestLogsHoldNoSecrets(t *testing.T) {
	w := newWorld(t)
	cc := w.mustClient("a", service.ClientSpec{Name: "batch", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	key := w.mustAdminKey("")
	secrets := map[string]string{"alice's password": testkit.AlicePassword, "the app's secret": w.app.Secret,
		"the rs's secret": w.rs.Secret, "the batch client's secret": cc.Secret, "the admin key": key}

	// Admin calls: a tenant, a client, a user with a password, a new password.
	w.adminOK(http.StatusCreated, key, "POST", "/admin/v1/tenants", map[string]any{"slug": "b"})
	made := w.adminOK(http.StatusCreated, key, "POST", "/admin/v1/tenants/b/clients", map[string]any{
		"name": "app", "grant_types": []string{"password", "refresh_token"}, "scopes": []string{"read"}})
	bApp := client{ID: made["client_id"].(string), Secret: made["client_secret"].(string)}
	secrets["b's client secret"] = bApp.Secret
	const bobFirst, bobSecond = "bob's first password, long enough", "bob's second password, longer still"
	secrets["bob's first password"], secrets["bob's second password"] = bobFirst, bobSecond
	w.adminOK(http.StatusCreated, key, "POST", "/admin/v1/tenants/b/users", map[string]any{"username": "bob", "password": bobFirst})
	w.admin(key, "PUT", "/admin/v1/tenants/b/users/bob/password", map[string]any{"password": bobSecond})
	w.admin(key, "GET", "/admin/v1/tenants/b/events", nil)
	w.admin(key, "GET", "/admin/v1/tenants", nil)

	// OAuth: logins (right, wrong, throttled, over HTTP Basic and in the form), refresh,
	// client_credentials, introspection, revocation by the client and by the admin key.
	tok := w.login(w.app, "alice", testkit.AlicePassword)
	at, rt := tok["access_token"].(string), tok["refresh_token"].(string)
	secrets["an access token"], secrets["a refresh token"] = at, rt
	const wrong = "a wrong password that must not be logged"
	secrets["a wrong password"] = wrong
	for range 7 {
		w.post("/token", &w.app, loginForm("alice", wrong))
	}
	w.post("/token", nil, url.Values{"grant_type": {"password"}, "username": {"bob"}, "password": {bobSecond},
		"client_id": {bApp.ID}, "client_secret": {bApp.Secret}})
	w.post("/token", &bApp, loginForm("bob", bobSecond+"x"))
	refreshed := w.post("/token", &w.app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}).JSON(t)
	rt2, _ := refreshed["refresh_token"].(string)
	at2, _ := refreshed["access_token"].(string)
	secrets["the refreshed access token"], secrets["the rotated refresh token"] = at2, rt2
	w.post("/token", &w.app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}) // reuse
	ccTok := w.post("/token", &cc, url.Values{"grant_type": {"client_credentials"}}).JSON(t)["access_token"].(string)
	secrets["a client_credentials token"] = ccTok
	w.introspect(w.rs, at2)
	w.introspect(w.rs, ccTok)
	w.post("/revoke", &w.app, url.Values{"token": {at2}})
	req, _ := http.NewRequest(http.MethodPost, w.srv.URL+"/revoke", strings.NewReader(url.Values{"token": {ccTok}}.Encode()))
	req.Header.Set("Content-Type", formType)
	req.Header.Set("Authorization", "Bearer "+key)
	w.do(req)
	// Failures that carry secrets in odd places.
	w.send(http.MethodPost, "/token?client_secret="+url.QueryEscape(w.app.Secret)+"&password="+url.QueryEscape(testkit.AlicePassword),
		headers("Content-Type", formType), loginForm("alice", testkit.AlicePassword).Encode())
	w.send(http.MethodPost, "/introspect", headers("Content-Type", "application/json", "Authorization", basic(w.rs.ID, w.rs.Secret)),
		`{"token":"`+at+`"}`)
	w.adminRaw(key+"x", "GET", "/admin/v1/tenants", "", "")

	logs := w.logs.String()
	if strings.Count(logs, "msg=request") < 20 {
		t.Fatalf("the access log has %d requests; is it captured?\n%s", strings.Count(logs, "msg=request"), logs)
	}
	assertNotLogged(t, logs, secrets)
}

// assertNotLogged fails for every secret found in logs: whole, URL-encoded,
// base64-encoded, or (for tokens, secrets and keys) the start of its random part. A
// 6-digit code counts only standing alone, not inside a longer number or an id.
func assertNotLogged(t *testing.T, logs string, secrets map[string]string) {
	t.Helper()
	for name, s := range secrets {
		if s == "" {
			t.Errorf("%s: the session did not get it", name)
			continue
		}
		for _, form := range []string{s, url.QueryEscape(s), base64.StdEncoding.EncodeToString([]byte(s))} {
			found := strings.Contains(logs, form)
			if len(form) == 6 {
				found = regexp.MustCompile(`(^|[^0-9A-Za-z.])` + regexp.QuoteMeta(form) + `([^0-9A-Za-z]|$)`).MatchString(logs)
			}
			if found {
				t.Errorf("%s is in the log", name)
			}
		}
		// A secret's random part alone (tokens, secrets and keys after their prefix).
		if _, body, ok := strings.Cut(s, "_"); ok && len(body) >= 16 && strings.Contains(logs, body[:16]) {
			t.Errorf("part of %s is in the log", name)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", logs)
	}
}
