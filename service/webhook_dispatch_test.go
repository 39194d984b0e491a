package service_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/service"
	"github.com/jeton-auth/jeton/webhooks"
	"github.com/jeton-auth/jeton/webhooks/webhookstest"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func nonNil(in []string) []string {
	if in == nil {
		return []string{}
	}
	return in
}

func TestWebhookSubscriptionFiltering(t *testing.T) {
	e := newHookEnv(t)
	other := e.mustTenant("other")
	all, failures, otherAll, global := webhookstest.NewReceiver(t), webhookstest.NewReceiver(t),
		webhookstest.NewReceiver(t), webhookstest.NewReceiver(t)
	e.mustEndpoint(&e.tenant.ID, all, "*")
	e.mustEndpoint(&e.tenant.ID, failures, "login_failure", "refresh_reuse_detected")
	e.mustEndpoint(&other.ID, otherAll, "*")
	e.mustEndpoint(nil, global, "*")
	e.settle(e.dispatcher(), all, failures, otherAll, global)

	f1 := e.mustEvent(&e.tenant.ID, "login_failure")
	s1 := e.mustEvent(&e.tenant.ID, "login_success")
	o1 := e.mustEvent(&other.ID, "login_success")
	r1 := e.mustEvent(&e.tenant.ID, "refresh_reuse_detected")
	g1 := e.mustEvent(nil, "tenant_deleted")
	e.tick(e.dispatcher())

	tests := []struct {
		name string
		r    *webhookstest.Receiver
		want []string
	}{
		{"tenant, every kind", all, ids(f1, s1, r1)},
		{"tenant, two kinds", failures, ids(f1, r1)},
		{"other tenant", otherAll, ids(o1)},
		{"global stream", global, ids(g1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, nonNil(tc.r.IDs())); diff != "" {
				t.Errorf("webhook-ids (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWebhookSignatureAndHeaders(t *testing.T) {
	e := newHookEnv(t)
	r := webhookstest.NewReceiver(t)
	w := e.mustEndpoint(&e.tenant.ID, r, "*")
	e.settle(e.dispatcher(), r)
	id := e.mustEvent(&e.tenant.ID, "login_success")
	e.clock.Advance(90 * time.Second) // the attempt's time, not the event's, is webhook-timestamp
	e.tick(e.dispatcher())

	got := r.Deliveries()
	if len(got) != 1 {
		t.Fatalf("%d deliveries, want 1", len(got))
	}
	d := got[0]
	want := map[string]string{"webhook-id": itoa(id), "webhook-timestamp": itoa(e.clock.Now().Unix()),
		"Content-Type": "application/json", "User-Agent": "jeton/test"}
	for h, v := range want {
		if d.Header.Get(h) != v {
			t.Errorf("%s = %q, want %q", h, d.Header.Get(h), v)
		}
	}
	if !d.Verified[0] {
		t.Errorf("signature %q does not verify", d.Header.Get("webhook-signature"))
	}
	evs, err := e.store.EventsByID(context.Background(), &e.tenant.ID, []int64{id})
	if err != nil {
		t.Fatal(err)
	}
	ev := evs[id]
	var data map[string]any
	b, _ := json.Marshal(service.ViewEvent(ev))
	_ = json.Unmarshal(b, &data)
	if d.Payload.Type != "login_success" || d.Payload.Timestamp != ev.At.UTC().Format(time.RFC3339Nano) {
		t.Errorf("type %q timestamp %q", d.Payload.Type, d.Payload.Timestamp)
	}
	if diff := cmp.Diff(data, d.Payload.Data); diff != "" {
		t.Errorf("data is not the event as the admin API shows it (-want +got):\n%s", diff)
	}

	// During a rotation both secrets sign; after the overlap only the new one.
	oldSecret := rSecret(t, e, w)
	newSecret := rotate(t, e, w, 24*time.Hour)
	r.SetSecrets(newSecret, oldSecret)
	e.settle(e.dispatcher(), r) // the rotation's own event
	e.mustEvent(&e.tenant.ID, "login_success")
	e.tick(e.dispatcher())
	e.clock.Advance(24*time.Hour + time.Second)
	e.mustEvent(&e.tenant.ID, "login_success")
	e.tick(e.dispatcher())
	got = r.Deliveries()
	if len(got) != 2 {
		t.Fatalf("%d deliveries, want 2", len(got))
	}
	if n := len(splitSigs(got[0])); n != 2 || !got[0].Verified[0] || !got[0].Verified[1] {
		t.Errorf("during the overlap: %d signatures, verified %v", n, got[0].Verified)
	}
	if n := len(splitSigs(got[1])); n != 1 || !got[1].Verified[0] || got[1].Verified[1] {
		t.Errorf("after the overlap: %d signatures, verified %v", n, got[1].Verified)
	}
}

func TestWebhookRetriesUntilSuccess(t *testing.T) {
	e := newHookEnv(t)
	r := webhookstest.NewReceiver(t)
	w := e.mustEndpoint(&e.tenant.ID, r, "*")
	d := e.dispatcher()
	e.settle(d, r)
	r.Answer = func(n int, _ webhookstest.Delivery) int {
		if n < 3 {
			return 500
		}
		return 200
	}
	id := e.mustEvent(&e.tenant.ID, "login_success")
	// The event behind waits for the head and never overtakes it.
	behind := e.mustEvent(&e.tenant.ID, "login_success")
	e.tick(d) // the first attempt fails
	for attempt := 2; attempt <= 4; attempt++ {
		next := e.delivery(w, id).NextAttemptAt
		e.clock.Set(next.Add(-time.Second))
		e.tick(d) // not due yet: no attempt
		if n := len(r.Deliveries()); n != attempt-1 {
			t.Fatalf("%d attempts a second before attempt %d is due, want %d", n, attempt, attempt-1)
		}
		e.clock.Set(next)
		e.tick(d)
		if n := len(r.Deliveries()); n != attempt && !(attempt == 4 && n == 5) {
			t.Fatalf("%d attempts once attempt %d is due at %v: %+v", n, attempt, next, e.delivery(w, id))
		}
	}
	if got := e.delivery(w, id); got.State != db.DeliveryDelivered || got.Attempts != 4 || *got.LastStatus != 200 ||
		got.LastResponse != "answer 200" {
		t.Fatalf("delivery %+v, want delivered after 4 attempts", got)
	}
	if diff := cmp.Diff(ids(id, id, id, id, behind), r.IDs()); diff != "" {
		t.Fatalf("requests (-want +got):\n%s", diff)
	}
	at := func(i int) time.Time {
		ts, _ := strconv.ParseInt(r.Deliveries()[i].Header.Get("webhook-timestamp"), 10, 64)
		return time.Unix(ts, 0)
	}
	for i, want := range []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute} {
		if got := at(i + 1).Sub(at(i)); got != want {
			t.Errorf("retry %d after %v, want %v", i+1, got, want)
		}
	}
}

func formatKey(k []byte) string { return webhooks.FormatSecret(k) }

func splitSigs(d webhookstest.Delivery) []string {
	return strings.Fields(d.Header.Get("webhook-signature"))
}

// rSecret is the endpoint's current secret as its receiver knows it.
func rSecret(t *testing.T, e *hookEnv, w db.WebhookEndpoint) string {
	t.Helper()
	return formatKey(e.endpoint(w).Secret)
}

// rotate gives the endpoint a new secret, the old one signing for overlap.
func rotate(t *testing.T, e *hookEnv, w db.WebhookEndpoint, overlap time.Duration) string {
	t.Helper()
	key := make([]byte, 32)
	copy(key, uuid.New().String())
	_, err := e.store.UpdateWebhook(context.Background(), w.TenantID, w.ID, func(cur db.WebhookEndpoint) (db.WebhookEndpoint, db.Event, error) {
		until := e.clock.Now().Add(overlap)
		cur.OldSecret, cur.OldSecretUntil, cur.Secret = cur.Secret, &until, key
		return cur, db.Event{At: e.clock.Now(), Kind: "webhook_secret_rotated", TenantID: w.TenantID, Actor: db.Actor{Type: "cli"}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return formatKey(key)
}

// An update of the URL (or anything else) applies to what is delivered from then on.
func TestWebhookUpdateApplies(t *testing.T) {
	e := newHookEnv(t)
	before, after := webhookstest.NewReceiver(t), webhookstest.NewReceiver(t)
	w := e.mustEndpoint(&e.tenant.ID, before, "*")
	d := e.dispatcher()
	e.settle(d, before)
	first := e.mustEvent(&e.tenant.ID, "login_success")
	e.tick(d)
	_, err := e.store.UpdateWebhook(context.Background(), w.TenantID, w.ID, func(cur db.WebhookEndpoint) (db.WebhookEndpoint, db.Event, error) {
		cur.URL, cur.Events = after.URL, []string{"login_failure"}
		return cur, db.Event{At: e.clock.Now(), Kind: "webhook_updated", TenantID: w.TenantID, Actor: db.Actor{Type: "cli"}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	after.SetSecrets(rSecret(t, e, w))
	e.mustEvent(&e.tenant.ID, "login_success")
	second := e.mustEvent(&e.tenant.ID, "login_failure")
	e.tick(d)
	if diff := cmp.Diff(ids(first), before.IDs()); diff != "" {
		t.Errorf("the old URL (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(ids(second), after.IDs()); diff != "" {
		t.Errorf("the new URL (-want +got):\n%s", diff)
	}
}
