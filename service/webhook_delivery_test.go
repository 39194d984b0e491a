package service_test

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/dbtest"
	"github.com/jeton-auth/jeton/service"
	"github.com/jeton-auth/jeton/webhooks/webhookstest"
)

// disabledEvent returns the webhook_disabled events of the tenant.
func (e *hookEnv) disabledEvents(w db.WebhookEndpoint) []db.Event {
	e.t.Helper()
	evs, err := e.store.ListEvents(context.Background(), w.TenantID, db.EventFilter{Kind: "webhook_disabled", Limit: 10})
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

func TestWebhookDisabledAfterThreeDays(t *testing.T) {
	e := newHookEnv(t)
	r := webhookstest.NewReceiver(t)
	w := e.mustEndpoint(&e.tenant.ID, r, "*")
	d := e.dispatcher()
	e.settle(d, r)
	r.Answer = func(int, webhookstest.Delivery) int { return 503 }
	id := e.mustEvent(&e.tenant.ID, "login_success")
	first := e.clock.Now()
	var waits []time.Duration
	last := first
	for i := 0; i < 100 && e.endpoint(w).DisabledAt == nil; i++ {
		e.tick(d)
		del := e.delivery(w, id)
		if del.State != db.DeliveryPending {
			break
		}
		waits = append(waits, del.NextAttemptAt.Sub(last))
		last = del.NextAttemptAt
		e.clock.Set(del.NextAttemptAt)
	}
	h := time.Hour
	want := []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, h}
	for range 12 {
		want = append(want, 6*h)
	}
	if diff := cmp.Diff(want, waits); diff != "" {
		t.Errorf("back-off schedule (-want +got):\n%s", diff)
	}
	got := e.endpoint(w)
	if got.DisabledAt == nil || e.clock.Now().Sub(first) < service.GiveUpAfter || got.DisabledReason != "deliveries failed for 3 days" {
		t.Fatalf("endpoint disabled at %v (%q), %v after the first attempt", got.DisabledAt, got.DisabledReason, e.clock.Now().Sub(first))
	}
	if del := e.delivery(w, id); del.State != db.DeliveryFailed || del.Attempts != len(want)+1 {
		t.Errorf("delivery %s after %d attempts, want failed after %d", del.State, del.Attempts, len(want)+1)
	}
	evs := e.disabledEvents(w)
	if len(evs) != 1 || evs[0].SubjectID != w.ID.String() || evs[0].Detail["reason"] != "deliveries failed for 3 days" {
		t.Fatalf("webhook_disabled events %+v", evs)
	}
	// A disabled endpoint gets nothing more, and its queue waits.
	n := len(r.Deliveries())
	e.mustEvent(&e.tenant.ID, "login_success")
	e.clock.Advance(24 * h)
	e.tick(d)
	if len(r.Deliveries()) != n {
		t.Fatal("a disabled endpoint was called")
	}
}

func TestWebhookJitter(t *testing.T) {
	tests := []struct {
		name     string
		jitter   float64
		min, max time.Duration
	}{
		{"lowest", 0, 4 * time.Second, 4 * time.Second},
		{"highest", 0.999999, 5999 * time.Millisecond, 6 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newHookEnv(t)
			r := webhookstest.NewReceiver(t)
			w := e.mustEndpoint(&e.tenant.ID, r, "*")
			d := e.dispatcher(service.WithJitter(func() float64 { return tc.jitter }))
			e.settle(d, r)
			r.Answer = func(int, webhookstest.Delivery) int { return 500 }
			id := e.mustEvent(&e.tenant.ID, "login_success")
			e.tick(d)
			wait := e.delivery(w, id).NextAttemptAt.Sub(e.clock.Now())
			if wait < tc.min || wait > tc.max {
				t.Fatalf("first retry after %v, want [%v, %v]", wait, tc.min, tc.max)
			}
		})
	}
}

func TestWebhookGoneDisablesAtOnce(t *testing.T) {
	e := newHookEnv(t)
	r := webhookstest.NewReceiver(t)
	w := e.mustEndpoint(&e.tenant.ID, r, "*")
	d := e.dispatcher()
	e.settle(d, r)
	r.Answer = func(int, webhookstest.Delivery) int { return 410 }
	id := e.mustEvent(&e.tenant.ID, "login_success")
	e.mustEvent(&e.tenant.ID, "login_success")
	e.tick(d)
	got := e.endpoint(w)
	if got.DisabledAt == nil || len(r.Deliveries()) != 1 {
		t.Fatalf("after 410: disabled %v, %d requests", got.DisabledAt, len(r.Deliveries()))
	}
	if del := e.delivery(w, id); del.State != db.DeliveryFailed || *del.LastStatus != 410 {
		t.Errorf("delivery %+v", del)
	}
	if evs := e.disabledEvents(w); len(evs) != 1 || evs[0].Detail["reason"] != "the receiver answered 410 Gone" {
		t.Fatalf("webhook_disabled events %+v", evs)
	}
}

// One receiver hangs; another endpoint's deliveries go on meanwhile.
func TestWebhookDownReceiverHoldsOnlyItsQueue(t *testing.T) {
	e := newHookEnv(t)
	other := e.mustTenant("other")
	down, up := webhookstest.NewReceiver(t), webhookstest.NewReceiver(t)
	e.mustEndpoint(&e.tenant.ID, down, "*")
	e.mustEndpoint(&other.ID, up, "*")
	d := e.dispatcher()
	e.settle(d, down, up)
	hung, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	down.Answer = func(int, webhookstest.Delivery) int {
		once.Do(func() { close(hung) })
		<-release
		return 200
	}
	got := make(chan struct{}, 10)
	up.Answer = func(int, webhookstest.Delivery) int { got <- struct{}{}; return 200 }
	e.mustEvent(&e.tenant.ID, "login_success")
	e.mustEvent(&other.ID, "login_success")
	done := make(chan error)
	go func() { done <- d.Tick(context.Background()) }()
	<-hung
	<-got // delivered while the other receiver still holds its request
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(down.Deliveries()) != 1 || len(up.Deliveries()) != 1 {
		t.Fatalf("down %d, up %d deliveries", len(down.Deliveries()), len(up.Deliveries()))
	}
}

func TestWebhookPerEndpointOrder(t *testing.T) {
	e := newHookEnv(t)
	r := webhookstest.NewReceiver(t)
	e.mustEndpoint(&e.tenant.ID, r, "*")
	d := e.dispatcher()
	e.settle(d, r)
	var want []string
	for range 30 {
		want = append(want, strconv.FormatInt(e.mustEvent(&e.tenant.ID, "login_success"), 10))
	}
	e.tick(d)
	if diff := cmp.Diff(want, r.IDs()); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	if r.MaxInFlight() != 1 {
		t.Errorf("%d deliveries in flight at once, want 1", r.MaxInFlight())
	}
}

// Two instances, each running its rounds concurrently with the other's: every event once.
func TestWebhookTwoInstancesDeliverOnce(t *testing.T) {
	e := newHookEnv(t)
	rs := []*webhookstest.Receiver{webhookstest.NewReceiver(t), webhookstest.NewReceiver(t), webhookstest.NewReceiver(t)}
	for _, r := range rs {
		e.mustEndpoint(&e.tenant.ID, r, "*")
	}
	a, b := e.dispatcher(), e.dispatcher()
	e.settle(a, rs...)
	var want []string
	var wg sync.WaitGroup
	for _, d := range []*service.Dispatcher{a, b} {
		wg.Go(func() {
			for range 20 {
				if err := d.Tick(context.Background()); err != nil {
					t.Error(err)
				}
			}
		})
	}
	for range 60 {
		want = append(want, strconv.FormatInt(e.mustEvent(&e.tenant.ID, "login_success"), 10))
	}
	wg.Wait()
	e.tick(a)
	for i, r := range rs {
		if diff := cmp.Diff(want, r.IDs()); diff != "" {
			t.Errorf("receiver %d (-want +got):\n%s", i, diff)
		}
	}
}

// hangFirst makes r hold the first delivery until its sender gives up on it (hung is
// closed when it arrives) and answer the others 200; arrived lists the webhook-ids of
// the deliveries as they arrived. The receiver itself lists a delivery once its handler
// returns, and the held one's returns only when its server notices the client gone,
// which may be after the next delivery has been answered.
func hangFirst(r *webhookstest.Receiver) (hung <-chan struct{}, arrived func() []string) {
	held := make(chan struct{})
	var mu sync.Mutex
	var ids []string
	r.Answer = func(_ int, d webhookstest.Delivery) int {
		mu.Lock()
		ids = append(ids, d.ID())
		first := len(ids) == 1
		mu.Unlock()
		if first {
			close(held)
			<-d.Done
		}
		return 200
	}
	return held, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), ids...)
	}
}

// The instance delivering dies mid-request (its pool closes under it and its context ends,
// as when the process is killed): nothing is recorded or released, the lease expires and
// another instance delivers that event again, then the rest, each once.
func TestWebhookKilledMidDelivery(t *testing.T) {
	e := newHookEnv(t)
	r := webhookstest.NewReceiver(t)
	w := e.mustEndpoint(&e.tenant.ID, r, "*")
	e.settle(e.dispatcher(), r)
	hung, arrived := hangFirst(r)
	var want []string
	for range 3 {
		want = append(want, strconv.FormatInt(e.mustEvent(&e.tenant.ID, "login_success"), 10))
	}
	pool, err := pgxpool.New(context.Background(), e.pool.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	first := service.NewDispatcher(db.New(pool, db.WithListenConfig(dbtest.ListenConfig(pool))), e.sender, service.DispatcherConfig{Lease: time.Minute}, nil,
		service.WithDispatcherClock(e.clock.Now))
	ctx, kill := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- first.Tick(ctx) }()
	<-hung
	pool.Close()
	kill()
	<-done
	second := e.dispatcher()
	e.tick(second)
	if got := arrived(); len(got) != 1 {
		t.Fatalf("requests %v while the dead instance's lease holds, want only the one it sent", got)
	}
	e.clock.Advance(time.Minute)
	e.tick(second)
	// The first request never got its answer recorded: the receiver saw it, and sees it again.
	if diff := cmp.Diff(append(want[:1:1], want...), arrived()); diff != "" {
		t.Errorf("after the lease expired (-want +got):\n%s", diff)
	}
	for _, id := range want {
		n, _ := strconv.ParseInt(id, 10, 64)
		if del := e.delivery(w, n); del.State != db.DeliveryDelivered || del.Attempts != 1 {
			t.Errorf("event %s: %s after %d recorded attempts", id, del.State, del.Attempts)
		}
	}
}

// An instance shutting down cuts the delivery in flight short and releases its queue: the
// next instance makes that delivery at once, without waiting for the lease.
func TestWebhookShutdownHandsOver(t *testing.T) {
	e := newHookEnv(t)
	r := webhookstest.NewReceiver(t)
	e.mustEndpoint(&e.tenant.ID, r, "*")
	e.settle(e.dispatcher(), r)
	hung, arrived := hangFirst(r)
	id := e.mustEvent(&e.tenant.ID, "login_success")
	first := e.dispatcher()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- first.Tick(ctx) }()
	<-hung
	stop()
	<-done
	e.tick(e.dispatcher())
	if diff := cmp.Diff(ids(id, id), arrived()); diff != "" {
		t.Errorf("deliveries that arrived (-want +got):\n%s", diff)
	}
}

// An event whose transaction commits after a later event's is delivered after it, and not
// skipped.
func TestWebhookLateCommitDelivered(t *testing.T) {
	e := newHookEnv(t)
	r := webhookstest.NewReceiver(t)
	e.mustEndpoint(&e.tenant.ID, r, "*")
	d := e.dispatcher()
	e.settle(d, r)
	ctx := context.Background()
	tx, err := e.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	var late int64
	if err := tx.QueryRow(ctx, `INSERT INTO events (tenant_id, at, kind, actor_type, actor_id, actor_name)
		VALUES ($1, $2, 'user_updated', 'cli', '', '') RETURNING id`, e.tenant.ID, e.clock.Now()).Scan(&late); err != nil {
		t.Fatal(err)
	}
	early := e.mustEvent(&e.tenant.ID, "login_success")
	e.tick(d)
	if diff := cmp.Diff(ids(early), r.IDs()); diff != "" {
		t.Fatalf("while the first transaction is open (-want +got):\n%s", diff)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	after := e.mustEvent(&e.tenant.ID, "login_success")
	e.tick(d)
	if diff := cmp.Diff(ids(early, late, after), r.IDs()); diff != "" {
		t.Fatalf("after it committed (-want +got):\n%s", diff)
	}
	if late > early {
		t.Fatalf("ids %d, %d: the late event should have the smaller id", late, early)
	}
}

// A rolled-back transaction's event is never delivered, and does not hold the queue.
func TestWebhookRolledBackEventNotDelivered(t *testing.T) {
	e := newHookEnv(t)
	r := webhookstest.NewReceiver(t)
	e.mustEndpoint(&e.tenant.ID, r, "*")
	d := e.dispatcher()
	e.settle(d, r)
	ctx := context.Background()
	tx, err := e.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO events (tenant_id, at, kind, actor_type, actor_id, actor_name)
		VALUES ($1, $2, 'user_updated', 'cli', '', '')`, e.tenant.ID, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.tick(d)
	_ = tx.Rollback(ctx)
	kept := e.mustEvent(&e.tenant.ID, "login_success")
	e.tick(d)
	if diff := cmp.Diff(ids(kept), r.IDs()); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

// Events the sweeper deleted before their delivery are skipped, and say so in the log.
func TestWebhookSweptEventSkipped(t *testing.T) {
	e := newHookEnv(t)
	r := webhookstest.NewReceiver(t)
	w := e.mustEndpoint(&e.tenant.ID, r, "*")
	d := e.dispatcher()
	e.settle(d, r)
	r.Answer = func(int, webhookstest.Delivery) int { return 500 }
	old := e.mustEvent(&e.tenant.ID, "login_success")
	e.tick(d) // fails, waits for its retry
	e.clock.Advance(48 * time.Hour)
	if _, err := e.store.SweepEvents(context.Background(), e.clock.Now(), 24*time.Hour, 1000); err != nil {
		t.Fatal(err)
	}
	r.Answer = nil
	fresh := e.mustEvent(&e.tenant.ID, "login_success")
	e.tick(d)
	if del := e.delivery(w, old); del.State != db.DeliverySkipped || del.LastError == "" {
		t.Errorf("swept event's delivery %+v, want skipped", del)
	}
	if diff := cmp.Diff(ids(old, fresh), r.IDs()); diff != "" {
		t.Fatalf("requests (-want +got):\n%s", diff)
	}
}

func TestWebhookRedeliver(t *testing.T) {
	e := newHookEnv(t)
	r := webhookstest.NewReceiver(t)
	w := e.mustEndpoint(&e.tenant.ID, r, "*")
	d := e.dispatcher()
	e.settle(d, r)
	id := e.mustEvent(&e.tenant.ID, "login_success")
	e.tick(d)
	e.clock.Advance(time.Hour)
	got, err := e.store.Redeliver(context.Background(), w.TenantID, w.ID, id, e.clock.Now())
	if err != nil || got.State != db.DeliveryPending || got.Attempts != 0 {
		t.Fatalf("Redeliver = %+v, %v", got, err)
	}
	e.tick(d)
	if diff := cmp.Diff(ids(id, id), r.IDs()); diff != "" {
		t.Fatalf("requests (-want +got):\n%s", diff)
	}
	if del := e.delivery(w, id); del.State != db.DeliveryDelivered || !del.LastAttemptAt.Equal(e.clock.Now()) {
		t.Errorf("delivery %+v", del)
	}
	other := e.mustTenant("other")
	foreign := e.mustEvent(&other.ID, "login_success")
	if _, err := e.store.Redeliver(context.Background(), w.TenantID, w.ID, foreign, e.clock.Now()); err == nil {
		t.Error("redelivered another tenant's event")
	}
	if _, err := e.store.Redeliver(context.Background(), &other.ID, w.ID, id, e.clock.Now()); err == nil {
		t.Error("another tenant redelivered the endpoint's event")
	}
}

// The sweeper deletes finished deliveries once their events are gone, keeps pending ones
// (the dispatcher marks them skipped), and purges a deleted tenant's endpoints.
func TestWebhookSweep(t *testing.T) {
	e := newHookEnv(t)
	r, down := webhookstest.NewReceiver(t), webhookstest.NewReceiver(t)
	w := e.mustEndpoint(&e.tenant.ID, r, "*")
	other := e.mustTenant("other")
	wd := e.mustEndpoint(&other.ID, down, "*")
	d := e.dispatcher()
	e.settle(d, r, down)
	down.Answer = func(int, webhookstest.Delivery) int { return 500 }
	done := e.mustEvent(&e.tenant.ID, "login_success")
	waiting := e.mustEvent(&other.ID, "login_success")
	e.tick(d)
	ctx := context.Background()
	e.clock.Advance(48 * time.Hour)
	e.mustEvent(&e.tenant.ID, "login_success") // kept: the smallest id left
	if _, err := e.store.SweepEvents(ctx, e.clock.Now(), 24*time.Hour, 1000); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.SweepWebhookDeliveries(ctx, 1000); err != nil {
		t.Fatal(err)
	}
	for _, del := range e.deliveries(w) {
		if del.EventID == done {
			t.Errorf("the delivered delivery of a swept event is still in the log: %+v", del)
		}
	}
	if del := e.delivery(wd, waiting); del.State != db.DeliveryPending {
		t.Errorf("pending delivery %+v, want kept", del)
	}

	if err := e.store.DeleteTenant(ctx, other.ID, db.Event{At: e.clock.Now(), Kind: "tenant_deleted", Actor: db.Actor{Type: "cli"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.PurgeDeletedTenants(ctx, 1000); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Webhook(ctx, &other.ID, wd.ID); err == nil {
		t.Error("a deleted tenant's webhook survived the purge")
	}
}

// Rounds capped at a few events still take everything, in order, a transaction's events
// together however many.
func TestWebhookRoundsCapped(t *testing.T) {
	e := newHookEnv(t)
	r := webhookstest.NewReceiver(t)
	e.mustEndpoint(&e.tenant.ID, r, "*")
	d := service.NewDispatcher(e.store, e.sender, service.DispatcherConfig{Batch: 2}, nil, service.WithDispatcherClock(e.clock.Now))
	e.settle(d, r)
	var want []int64
	for range 5 {
		want = append(want, e.mustEvent(&e.tenant.ID, "login_success"))
	}
	ctx := context.Background()
	rows, err := e.pool.Query(ctx, `INSERT INTO events (tenant_id, at, kind, actor_type, actor_id, actor_name)
		SELECT $1, $2, 'user_created', 'cli', '', '' FROM generate_series(1, 5) RETURNING id`, e.tenant.ID, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	rows.Close()
	want = append(want, e.mustEvent(&e.tenant.ID, "login_success"))
	slices.Sort(want)
	e.tick(d)
	if diff := cmp.Diff(ids(want...), r.IDs()); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}
