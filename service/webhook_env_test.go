package service_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/dbtest"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/service"
	"github.com/jeton-auth/jeton/webhooks"
	"github.com/jeton-auth/jeton/webhooks/webhookstest"
)

// hookEnv is a database, a tenant, a clock the test moves and the dispatchers it made.
type hookEnv struct {
	t      testing.TB
	pool   *pgxpool.Pool
	store  *db.Store
	tenant db.Tenant
	sender *webhooks.Sender
	clock  *testkit.Clock
}

func newHookEnv(t testing.TB) *hookEnv {
	t.Helper()
	pool := dbtest.New(t)
	e := &hookEnv{t: t, pool: pool, store: db.New(pool, db.WithListenConfig(dbtest.ListenConfig(pool))), clock: testkit.NewClock(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))}
	e.tenant = e.mustTenant("acme")
	probe := webhookstest.NewReceiver(t)
	e.sender = webhooks.NewSender(webhooks.SenderConfig{AllowPrivate: true, RootCAs: probe.RootCAs(),
		UserAgent: "jeton/test", Timeout: 5 * time.Second})
	return e
}

func (e *hookEnv) mustTenant(slug string) db.Tenant {
	e.t.Helper()
	tn, err := e.store.CreateTenant(context.Background(), slug, slug, db.Event{At: e.clock.Now(), Kind: "tenant_created",
		Actor: db.Actor{Type: "cli"}})
	if err != nil {
		e.t.Fatal(err)
	}
	return tn
}

// dispatcher returns a dispatcher on the env's clock, with the jitter in the middle (the
// schedule's own delays) unless the test says otherwise.
func (e *hookEnv) dispatcher(opts ...service.DispatcherOption) *service.Dispatcher {
	opts = append([]service.DispatcherOption{service.WithDispatcherClock(e.clock.Now),
		service.WithJitter(func() float64 { return 0.5 })}, opts...)
	return service.NewDispatcher(e.store, e.sender, service.DispatcherConfig{Lease: time.Minute}, nil, opts...)
}

// mustEndpoint creates an endpoint of tenant (nil: global) for r, and tells r its secret.
func (e *hookEnv) mustEndpoint(tenant *uuid.UUID, r *webhookstest.Receiver, events ...string) db.WebhookEndpoint {
	e.t.Helper()
	secret, key, err := webhooks.NewSecret(bytes.NewReader(bytes.Repeat([]byte{byte(len(r.URL))}, 32)))
	if err != nil {
		e.t.Fatal(err)
	}
	w, err := e.store.CreateWebhook(context.Background(), db.WebhookEndpoint{ID: uuid.New(), TenantID: tenant,
		URL: r.URL + "/hook", Events: events, Secret: key}, db.Event{At: e.clock.Now(), Kind: "webhook_created",
		Actor: db.Actor{Type: "cli"}, TenantID: tenant})
	if err != nil {
		e.t.Fatal(err)
	}
	r.SetSecrets(secret)
	return w
}

// mustEvent writes one event of tenant (nil: the global stream) and returns its id.
func (e *hookEnv) mustEvent(tenant *uuid.UUID, kind string) int64 {
	e.t.Helper()
	var id int64
	err := e.pool.QueryRow(context.Background(), `INSERT INTO events (tenant_id, at, kind, actor_type, actor_id, actor_name)
		VALUES ($1, $2, $3, 'user', 'u1', 'alice') RETURNING id`, tenant, e.clock.Now(), kind).Scan(&id)
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *hookEnv) tick(d *service.Dispatcher) {
	e.t.Helper()
	if err := d.Tick(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

func (e *hookEnv) deliveries(w db.WebhookEndpoint) []db.WebhookDelivery {
	e.t.Helper()
	ds, err := e.store.ListDeliveries(context.Background(), w.TenantID, w.ID, 0, 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	return ds
}

func (e *hookEnv) endpoint(w db.WebhookEndpoint) db.WebhookEndpoint {
	e.t.Helper()
	got, err := e.store.Webhook(context.Background(), w.TenantID, w.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

func ids(ns ...int64) []string {
	out := []string{}
	for _, n := range ns {
		out = append(out, itoa(n))
	}
	return out
}

// settle delivers what setting up wrote (the tenant's and the endpoints' own events) and
// makes the receivers forget it.
func (e *hookEnv) settle(d *service.Dispatcher, rs ...*webhookstest.Receiver) {
	e.t.Helper()
	e.tick(d)
	for _, r := range rs {
		r.Reset()
	}
}

// delivery returns the endpoint's delivery of the event.
func (e *hookEnv) delivery(w db.WebhookEndpoint, event int64) db.WebhookDelivery {
	e.t.Helper()
	for _, d := range e.deliveries(w) {
		if d.EventID == event {
			return d
		}
	}
	e.t.Fatalf("no delivery of event %d", event)
	return db.WebhookDelivery{}
}
