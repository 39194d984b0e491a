package db_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/jeton-auth/jeton/db"
)

// aWebhook gives tenant A an endpoint with a delivery of one of A's events, written
// without an event of its own (the harness compares A's events), and returns it, the
// event's id and a check that neither changed.
func aWebhook(t *testing.T, w *world) (db.WebhookEndpoint, int64, func()) {
	t.Helper()
	ctx := context.Background()
	id := uuid.New()
	var event int64
	err := w.pool.QueryRow(ctx, `SELECT id FROM events WHERE tenant_id = $1 ORDER BY id LIMIT 1`, w.a.ID).Scan(&event)
	must(t, err)
	_, err = w.pool.Exec(ctx, `INSERT INTO webhook_endpoints (id, tenant_id, url, events, secret, created_at, updated_at)
		VALUES ($1, $2, 'https://a.example/hook', '{*}', '\x01', $3, $3)`, id, w.a.ID, isoNow)
	must(t, err)
	_, err = w.pool.Exec(ctx, `INSERT INTO webhook_deliveries (endpoint_id, event_id, created_at, next_attempt_at)
		VALUES ($1, $2, $3, $3)`, id, event, isoNow)
	must(t, err)
	rows := func() []string {
		var out []string
		for _, q := range []string{`SELECT to_jsonb(x)::text FROM webhook_endpoints x WHERE id = $1`,
			`SELECT to_jsonb(x)::text FROM webhook_deliveries x WHERE endpoint_id = $1`} {
			var s string
			must(t, w.pool.QueryRow(ctx, q, id).Scan(&s))
			out = append(out, s)
		}
		return out
	}
	before := rows()
	wh, err := w.store.Webhook(ctx, &w.a.ID, id)
	must(t, err)
	return wh, event, func() {
		if diff := cmp.Diff(before, rows()); diff != "" {
			t.Errorf("A's webhook changed (-before +after):\n%s", diff)
		}
	}
}

var isolationWebhooks = []isolationCase{
	{name: "CreateWebhook", act: func(t *testing.T, w *world) {
		a, _, unchanged := aWebhook(t, w)
		_, err := w.store.CreateWebhook(context.Background(), db.WebhookEndpoint{ID: a.ID, TenantID: &w.b.ID,
			URL: "https://b.example/", Events: []string{"*"}, Secret: []byte{2}}, evIn(w.b.ID, "webhook_created"))
		if !errors.Is(err, db.ErrConflict) {
			t.Errorf("B's webhook with A's id: %v, want ErrConflict", err)
		}
		unchanged()
	}},
	{name: "Webhook", act: func(t *testing.T, w *world) {
		a, _, _ := aWebhook(t, w)
		_, err := w.store.Webhook(context.Background(), &w.b.ID, a.ID)
		wantNotFound(t, "Webhook", err)
		_, err = w.store.Webhook(context.Background(), nil, a.ID)
		wantNotFound(t, "Webhook of the global stream", err)
	}},
	{name: "ListWebhooks", act: func(t *testing.T, w *world) {
		aWebhook(t, w)
		for _, scope := range []*uuid.UUID{&w.b.ID, nil} {
			ws, err := w.store.ListWebhooks(context.Background(), scope)
			must(t, err)
			if len(ws) != 0 {
				t.Errorf("webhooks of scope %v: %+v, want none", scope, ws)
			}
		}
	}},
	{name: "UpdateWebhook", act: func(t *testing.T, w *world) {
		a, _, unchanged := aWebhook(t, w)
		_, err := w.store.UpdateWebhook(context.Background(), &w.b.ID, a.ID,
			func(cur db.WebhookEndpoint) (db.WebhookEndpoint, db.Event, error) {
				t.Error("edit called with A's webhook")
				cur.URL = "https://evil.example/"
				return cur, evIn(w.b.ID, "webhook_updated"), nil
			})
		wantNotFound(t, "UpdateWebhook", err)
		unchanged()
	}},
	{name: "DeleteWebhook", act: func(t *testing.T, w *world) {
		a, _, unchanged := aWebhook(t, w)
		wantNotFound(t, "DeleteWebhook", w.store.DeleteWebhook(context.Background(), &w.b.ID, a.ID, evIn(w.b.ID, "webhook_deleted")))
		unchanged()
	}},
	{name: "ListDeliveries", act: func(t *testing.T, w *world) {
		a, _, _ := aWebhook(t, w)
		ds, err := w.store.ListDeliveries(context.Background(), &w.b.ID, a.ID, 0, 10)
		must(t, err)
		if len(ds) != 0 {
			t.Errorf("A's deliveries as B: %+v", ds)
		}
	}},
	{name: "Redeliver", act: func(t *testing.T, w *world) {
		a, event, unchanged := aWebhook(t, w)
		_, err := w.store.Redeliver(context.Background(), &w.b.ID, a.ID, event, isoNow)
		wantNotFound(t, "Redeliver", err)
		unchanged()
	}},
	{name: "EventsByID", act: func(t *testing.T, w *world) {
		_, event, _ := aWebhook(t, w)
		evs, err := w.store.EventsByID(context.Background(), &w.b.ID, []int64{event})
		must(t, err)
		if len(evs) != 0 {
			t.Errorf("A's events as B: %+v", evs)
		}
	}},
}
