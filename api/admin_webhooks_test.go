package api_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jeton-auth/jeton/service"
	"github.com/jeton-auth/jeton/webhooks"
	"github.com/jeton-auth/jeton/webhooks/webhookstest"
)

// newHookEnv is newEnv whose webhooks may reach the test's loopback receivers.
func newHookEnv(t *testing.T) (*env, *webhookstest.Receiver, *service.Dispatcher) {
	t.Helper()
	r := webhookstest.NewReceiver(t)
	sender := webhooks.NewSender(webhooks.SenderConfig{AllowPrivate: true, RootCAs: r.RootCAs(), UserAgent: "jeton/test"})
	e := newEnv(t, withService(service.WithWebhookSender(sender)))
	d := service.NewDispatcher(e.store, sender, service.DispatcherConfig{}, nil, service.WithDispatcherClock(e.clock.Now))
	return e, r, d
}

func tick(t *testing.T, d *service.Dispatcher) {
	t.Helper()
	if err := d.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestAdminWebhookCRUD(t *testing.T) {
	e, r, _ := newHookEnv(t)
	e.mustTenant("a")
	key := e.mustAdminKey("")
	hooks := tenantPath("a", "webhooks")

	created := e.adminOK(http.StatusCreated, key, "POST", hooks, map[string]any{"url": r.URL + "/in",
		"events": []string{"login_failure", "user_created"}, "description": "SIEM"})
	id, _ := created["id"].(string)
	secret, _ := created["secret"].(string)
	if _, err := webhooks.ParseSecret(secret); err != nil || len(secret) != len("whsec_")+44 {
		t.Fatalf("secret %q: %v", secret, err)
	}
	want := map[string]any{"id": id, "url": r.URL + "/in", "events": []any{"login_failure", "user_created"},
		"description": "SIEM", "disabled": false, "disabled_at": nil, "previous_secret_expires_at": nil,
		"created_at": "2026-01-02T03:04:05Z", "updated_at": "2026-01-02T03:04:05Z"}
	delete(created, "secret")
	if d := cmp.Diff(want, created); d != "" {
		t.Errorf("created (-want +got):\n%s", d)
	}
	got := e.adminOK(http.StatusOK, key, "GET", hooks+"/"+id, nil)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("GET (-want +got):\n%s", d)
	}
	if l := items(t, e.adminOK(http.StatusOK, key, "GET", hooks, nil)); len(l) != 1 || l[0]["id"] != id || l[0]["secret"] != nil {
		t.Errorf("list %v", l)
	}

	e.clock.Advance(time.Minute)
	got = e.adminOK(http.StatusOK, key, "PATCH", hooks+"/"+id, map[string]any{"events": []string{"*"}, "disabled": true,
		"description": "all"})
	if got["disabled"] != true || got["disabled_at"] != "2026-01-02T03:05:05Z" || !cmp.Equal(got["events"], []any{"*"}) ||
		got["description"] != "all" || got["disabled_reason"] != "disabled by an administrator" {
		t.Errorf("patched %v", got)
	}
	got = e.adminOK(http.StatusOK, key, "PATCH", hooks+"/"+id, map[string]any{"disabled": false})
	if got["disabled"] != false || got["disabled_at"] != nil || got["disabled_reason"] != nil {
		t.Errorf("re-enabled %v", got)
	}

	rotated := e.adminOK(http.StatusOK, key, "POST", hooks+"/"+id+"/rotate-secret", nil)
	if s, _ := rotated["secret"].(string); s == secret || !strings.HasPrefix(s, "whsec_") ||
		rotated["previous_secret_expires_at"] != "2026-01-03T03:05:05Z" {
		t.Errorf("rotated %v", rotated)
	}

	if r := e.admin(key, "DELETE", hooks+"/"+id, nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	wantProblem(t, e.admin(key, "GET", hooks+"/"+id, nil), http.StatusNotFound, "not-found", "")
	evs := items(t, e.adminOK(http.StatusOK, key, "GET", tenantPath("a", "events")+"?limit=10", nil))
	var kinds []string
	for _, ev := range evs {
		if k := ev["kind"].(string); strings.HasPrefix(k, "webhook_") {
			kinds = append(kinds, k)
		}
	}
	if d := cmp.Diff([]string{"webhook_deleted", "webhook_secret_rotated", "webhook_updated", "webhook_updated", "webhook_created"}, kinds); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	if strings.Contains(e.logs.String(), strings.TrimPrefix(secret, "whsec_")) {
		t.Error("the secret is in the log")
	}
}

func TestAdminWebhookProblems(t *testing.T) {
	e, r, _ := newHookEnv(t)
	e.mustTenant("a")
	e.mustTenant("b")
	key := e.mustAdminKey("")
	hooks := tenantPath("a", "webhooks")
	ok := map[string]any{"url": r.URL, "events": []string{"*"}}
	tests := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"http", map[string]any{"url": "http://example.com/", "events": []string{"*"}}, "url"},
		{"no url", map[string]any{"events": []string{"*"}}, "url"},
		{"no events", map[string]any{"url": r.URL}, "events"},
		{"empty events", map[string]any{"url": r.URL, "events": []string{}}, "events"},
		{"star and more", map[string]any{"url": r.URL, "events": []string{"*", "login_failure"}}, "events"},
		{"bad kind", map[string]any{"url": r.URL, "events": []string{"Login Failure"}}, "events"},
		{"long description", map[string]any{"url": r.URL, "events": []string{"*"}, "description": strings.Repeat("x", 300)}, "description"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantProblem(t, e.admin(key, "POST", hooks, tc.body), http.StatusBadRequest, "validation", tc.field)
		})
	}
	t.Run("unknown field", func(t *testing.T) {
		wantProblem(t, e.admin(key, "POST", hooks, map[string]any{"url": r.URL, "events": []string{"*"}, "secret": "x"}),
			http.StatusBadRequest, "unknown-field", "secret")
	})
	created := e.adminOK(http.StatusCreated, key, "POST", hooks, ok)
	id := created["id"].(string)
	t.Run("null in patch", func(t *testing.T) {
		wantProblem(t, e.admin(key, "PATCH", hooks+"/"+id, map[string]any{"events": nil}), http.StatusBadRequest, "validation", "events")
	})
	t.Run("bad id", func(t *testing.T) {
		wantProblem(t, e.admin(key, "GET", hooks+"/nope", nil), http.StatusNotFound, "not-found", "")
		wantProblem(t, e.admin(key, "POST", hooks+"/"+id+"/deliveries/x/redeliver", nil), http.StatusNotFound, "not-found", "")
		wantProblem(t, e.admin(key, "GET", hooks+"/"+id+"/deliveries?cursor=zz", nil), http.StatusBadRequest, "validation", "cursor")
	})
	t.Run("other tenant's key", func(t *testing.T) {
		other := e.mustAdminKey("b")
		wantProblem(t, e.admin(other, "GET", hooks+"/"+id, nil), http.StatusNotFound, "not-found", "")
		wantProblem(t, e.admin(other, "GET", tenantPath("b", "webhooks", id), nil), http.StatusNotFound, "not-found", "")
	})
	t.Run("tenant key on the global stream", func(t *testing.T) {
		own := e.mustAdminKey("a")
		wantProblem(t, e.admin(own, "GET", "/admin/v1/webhooks", nil), http.StatusForbidden, "forbidden", "")
		wantProblem(t, e.admin(own, "POST", "/admin/v1/webhooks", ok), http.StatusForbidden, "forbidden", "")
		if l := items(t, e.adminOK(http.StatusOK, own, "GET", hooks, nil)); len(l) != 1 {
			t.Errorf("the tenant key's own list: %v", l)
		}
	})
}

// Without --webhook-allow-private, the admin API refuses URLs of private addresses.
func TestAdminWebhookPrivateRefused(t *testing.T) {
	e := newEnv(t)
	e.mustTenant("a")
	key := e.mustAdminKey("")
	for _, u := range []string{"https://127.0.0.1/x", "https://10.0.0.1/", "https://[::1]:8443/", "https://localhost/"} {
		p := wantProblem(t, e.admin(key, "POST", tenantPath("a", "webhooks"), map[string]any{"url": u, "events": []string{"*"}}),
			http.StatusBadRequest, "validation", "url")
		if d, _ := p["detail"].(string); !strings.Contains(d, "address") && !strings.Contains(d, "resolve") {
			t.Errorf("%s: detail %q", u, d)
		}
	}
}

func TestAdminWebhookTestDeliveriesAndRedeliver(t *testing.T) {
	e, r, d := newHookEnv(t)
	e.mustTenant("a")
	key := e.mustAdminKey("a")
	hooks := tenantPath("a", "webhooks")
	created := e.adminOK(http.StatusCreated, key, "POST", hooks, map[string]any{"url": r.URL, "events": []string{"user_created"}})
	id, secret := created["id"].(string), created["secret"].(string)
	r.SetSecrets(secret)

	res := e.adminOK(http.StatusOK, key, "POST", hooks+"/"+id+"/test", nil)
	if res["delivered"] != true || res["status"] != float64(204) || res["response"] != "" || res["error"] != "" {
		t.Fatalf("test %v", res)
	}
	got := r.Deliveries()
	if len(got) != 1 || got[0].Payload.Type != "webhook.test" || !got[0].Verified[0] ||
		!strings.HasPrefix(got[0].ID(), "test_") || got[0].Payload.Data["webhook_id"] != id {
		t.Fatalf("test delivery %+v", got)
	}
	r.Reset()

	user := e.mustUser("a", "alice", "correct horse battery staple")
	tick(t, d)
	page := e.adminOK(http.StatusOK, key, "GET", hooks+"/"+id+"/deliveries", nil)
	log := items(t, page)
	if len(log) != 1 || log[0]["state"] != "delivered" || log[0]["attempts"] != float64(1) || log[0]["last_status"] != float64(204) ||
		log[0]["next_attempt_at"] != nil || page["next_cursor"] != nil {
		t.Fatalf("delivery log %v", page)
	}
	event := int64(log[0]["event_id"].(float64))
	if ids := r.IDs(); len(ids) != 1 || ids[0] != strconv.FormatInt(event, 10) || r.Deliveries()[0].Payload.Data["user_id"] != user.ID.String() {
		t.Fatalf("deliveries %v", ids)
	}

	e.clock.Advance(time.Hour)
	again := e.adminOK(http.StatusAccepted, key, "POST", hooks+"/"+id+"/deliveries/"+strconv.FormatInt(event, 10)+"/redeliver", nil)
	if again["state"] != "pending" || again["attempts"] != float64(0) || again["next_attempt_at"] != "2026-01-02T04:04:05Z" {
		t.Fatalf("redeliver %v", again)
	}
	tick(t, d)
	if ids := r.IDs(); len(ids) != 2 || ids[1] != ids[0] {
		t.Fatalf("after redeliver %v", ids)
	}
	wantProblem(t, e.admin(key, "POST", hooks+"/"+id+"/deliveries/999999/redeliver", nil), http.StatusNotFound, "not-found", "")

	// Events the sweeper deleted before delivery show as skipped.
	if _, err := e.pool.Exec(context.Background(), `UPDATE webhook_endpoints SET disabled_at = $1`, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.adminOK(http.StatusAccepted, key, "POST", hooks+"/"+id+"/deliveries/"+strconv.FormatInt(event, 10)+"/redeliver", nil)
	if _, err := e.store.SweepEvents(context.Background(), e.clock.Now().Add(48*time.Hour), time.Hour, 1000); err != nil {
		t.Fatal(err)
	}
	e.adminOK(http.StatusOK, key, "PATCH", hooks+"/"+id, map[string]any{"disabled": false})
	tick(t, d)
	log = items(t, e.adminOK(http.StatusOK, key, "GET", hooks+"/"+id+"/deliveries?limit=1", nil))
	if log[0]["state"] != "skipped" || log[0]["last_error"] == "" {
		t.Fatalf("swept event's delivery %v", log[0])
	}
	if len(r.IDs()) != 2 {
		t.Fatalf("a swept event was delivered: %v", r.IDs())
	}
}

func TestAdminGlobalWebhooks(t *testing.T) {
	e, r, d := newHookEnv(t)
	e.mustTenant("a")
	key := e.mustAdminKey("")
	created := e.adminOK(http.StatusCreated, key, "POST", "/admin/v1/webhooks", map[string]any{"url": r.URL, "events": []string{"*"}})
	id := created["id"].(string)
	r.SetSecrets(created["secret"].(string))
	if l := items(t, e.adminOK(http.StatusOK, key, "GET", "/admin/v1/webhooks", nil)); len(l) != 1 || l[0]["id"] != id {
		t.Fatalf("global list %v", l)
	}
	wantProblem(t, e.admin(key, "GET", tenantPath("a", "webhooks", id), nil), http.StatusNotFound, "not-found", "")
	e.mustUser("a", "alice", "correct horse battery staple") // a tenant event: not the global stream's
	e.adminOK(http.StatusCreated, key, "POST", "/admin/v1/tenants", map[string]any{"slug": "b", "name": "B"})
	tick(t, d)
	var kinds []string
	for _, dl := range r.Deliveries() {
		kinds = append(kinds, dl.Payload.Type)
	}
	if len(kinds) == 0 || strings.Contains(strings.Join(kinds, ","), "user_created") {
		t.Fatalf("global deliveries %v", kinds)
	}
	if log := items(t, e.adminOK(http.StatusOK, key, "GET", "/admin/v1/webhooks/"+id+"/deliveries", nil)); len(log) != len(kinds) {
		t.Fatalf("global delivery log %v, deliveries %v", log, kinds)
	}
}
