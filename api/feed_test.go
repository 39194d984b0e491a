package api_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/dbtest"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/service"
)

// The revocation feed, GET /revocations (docs/FEED.md). These tests check what arrives and
// in which order; their deadlines only catch hangs.

// revokes reads the next n revoke events, skipping ready and heartbeats; anything else
// fails the test.
func (s *feedStream) revokes(n int) []sseBlock {
	s.t.Helper()
	var out []sseBlock
	for len(out) < n {
		switch b := s.event(); b.Event {
		case "revoke":
			out = append(out, b)
		case "ready":
		default:
			s.t.Fatalf("unexpected %+v", b)
		}
	}
	return out
}

func id(t *testing.T, b sseBlock) int64 {
	t.Helper()
	n, err := strconv.ParseInt(b.ID, 10, 64)
	if err != nil {
		t.Fatalf("event %+v: id: %v", b, err)
	}
	return n
}

// increasing fails unless the events' ids go up.
func increasing(t *testing.T, events []sseBlock) {
	t.Helper()
	for i := 1; i < len(events); i++ {
		if id(t, events[i]) <= id(t, events[i-1]) {
			t.Fatalf("ids out of order: %+v", events)
		}
	}
}

// TestFeedEvents: each kind of revocation reaches the stream as its event, in order; what
// revokes nothing (a token already revoked, a secret rotation) sends nothing.
func TestFeedEvents(t *testing.T) {
	w, _ := newFeedWorld(t)
	ctx := context.Background()
	s := w.openFeed(w.rs, "")
	if before, _ := s.ready(); len(before) != 0 {
		t.Fatalf("a new stream replayed %+v", before)
	}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	revokeToken := func(token string) {
		t.Helper()
		if r := w.post("/revoke", &w.app, url.Values{"token": {token}}); r.Status != http.StatusOK {
			t.Fatalf("revoke: %d %s", r.Status, r.Body)
		}
	}

	tok := w.login(w.app, "alice", testkit.AlicePassword)
	at, rt := tok["access_token"].(string), tok["refresh_token"].(string)
	sid := w.introspect(w.rs, at)["sid"].(string)
	revokeToken(at)
	revokeToken(at)
	revokeToken(rt)

	// Reuse detection revokes the session.
	tok2 := w.login(w.app, "alice", testkit.AlicePassword)
	sid2 := w.introspect(w.rs, tok2["access_token"].(string))["sid"].(string)
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok2["refresh_token"].(string)}}
	if r := w.post("/token", &w.app, refresh); r.Status != http.StatusOK {
		t.Fatalf("refresh: %d %s", r.Status, r.Body)
	}
	if r := w.post("/token", &w.app, refresh); r.Status != http.StatusBadRequest {
		t.Fatalf("reuse: %d %s", r.Status, r.Body)
	}

	_, err := w.svc.RotateSecret(ctx, w.cli, "a", w.app.ID, time.Hour)
	must("rotate secret", err)
	must("set password", w.svc.SetPassword(ctx, w.cli, "a", "alice", "another long password"))
	_, err = w.svc.UpdateUser(ctx, w.cli, "a", "alice", func(u *db.User) { u.Disabled = true })
	must("disable user", err)
	_, err = w.svc.RevokeUserTokens(ctx, w.cli, "a", "alice")
	must("revoke user tokens", err)
	_, err = w.svc.RevokeClientTokens(ctx, w.cli, "a", w.app.ID)
	must("revoke client tokens", err)
	_, err = w.svc.UpdateClient(ctx, w.cli, "a", w.app.ID, func(c *db.Client) { c.Disabled = true })
	must("disable client", err)
	must("delete user", w.svc.DeleteUser(ctx, w.cli, "a", "alice"))
	_, err = w.svc.RevokeTenantTokens(ctx, w.cli, "a")
	must("revoke tenant tokens", err)
	must("delete client", w.svc.DeleteClient(ctx, w.cli, "a", w.app.ID))

	user := `{"kind":"user","sub":"` + w.alice.ID.String() + `"}`
	app := `{"kind":"client","client_id":"` + w.app.ID + `"}`
	want := []sseBlock{
		revoke(`{"kind":"token","token_hash":"` + tokenHash(at) + `"}`),
		revoke(`{"kind":"session","sid":"` + sid + `"}`),
		revoke(`{"kind":"session","sid":"` + sid2 + `"}`),
		revoke(user), revoke(user), revoke(user),
		revoke(app), revoke(app),
		revoke(user),
		revoke(`{"kind":"tenant"}`),
		revoke(app), // the stream outlived a tenant event that disabled nothing
	}
	got := s.revokes(len(want))
	increasing(t, got)
	if diff := cmp.Diff(want, withoutIDs(got)); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
}

// TestFeedReplay: a stream that comes back with Last-Event-ID gets exactly what it missed,
// of its own tenant, in order, then ready; Last-Event-ID 0 replays the whole log; without
// the header (the query string is never read) a stream starts at the head.
func TestFeedReplay(t *testing.T) {
	w, _ := newFeedWorld(t)
	ctx := context.Background()
	w.mustTenant("b")
	watcher := w.openFeed(w.rs, "") // stays connected: once it has an event, the hub has it
	watcher.ready()
	s := w.openFeed(w.rs, "")
	s.ready()

	if _, err := w.svc.RevokeTenantTokens(ctx, w.cli, "a"); err != nil {
		t.Fatal(err)
	}
	first := s.revokes(1)[0]
	s.close()
	// Missed while away: a's user and client revocations, and b's, which is not a's business.
	if _, err := w.svc.RevokeUserTokens(ctx, w.cli, "a", "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.RevokeTenantTokens(ctx, w.cli, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.RevokeClientTokens(ctx, w.cli, "a", w.app.ID); err != nil {
		t.Fatal(err)
	}
	seen := watcher.revokes(3)

	missed := []sseBlock{seen[1], seen[2]}
	back := w.openFeed(w.rs, first.ID)
	before, head := back.ready()
	if diff := cmp.Diff(missed, before); diff != "" {
		t.Fatalf("replay after %s (-want +got):\n%s", first.ID, diff)
	}
	if head != seen[2].ID {
		t.Fatalf("ready head %s, want %s", head, seen[2].ID)
	}

	all := w.openFeed(w.rs, "0")
	if before, _ := all.ready(); !cmp.Equal(seen, before) {
		t.Fatalf("Last-Event-ID 0 replayed %+v, want %+v", before, seen)
	}

	fresh := w.openFeed(w.rs, "")
	if before, head := fresh.ready(); len(before) != 0 || head != seen[2].ID {
		t.Fatalf("a new stream got %+v and head %s, want nothing and %s", before, head, seen[2].ID)
	}

	req, err := http.NewRequest(http.MethodGet, w.srv.URL+"/revocations?last_event_id="+first.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", basic(w.rs.ID, w.rs.Secret))
	resp, err := w.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	q := &feedStream{t: t, resp: resp, cancel: func() {}, blocks: make(chan sseBlock, 100)}
	go q.read()
	t.Cleanup(q.close)
	if before, _ := q.ready(); len(before) != 0 {
		t.Fatalf("?last_event_id= was read: %+v", before)
	}
}

// TestFeedReset: a stream whose Last-Event-ID the log was trimmed past, or that is not an
// id of this log, starts with reset at the head; one the log still reaches is replayed.
func TestFeedReset(t *testing.T) {
	w, _ := newFeedWorld(t)
	ctx := context.Background()
	watcher := w.openFeed(w.rs, "")
	watcher.ready()
	if _, err := w.svc.RevokeTenantTokens(ctx, w.cli, "a"); err != nil {
		t.Fatal(err)
	}
	old := watcher.revokes(1)[0]
	w.clock.Advance(25 * time.Hour) // past the feed retention (24 h)
	if _, err := w.svc.RevokeUserTokens(ctx, w.cli, "a", "alice"); err != nil {
		t.Fatal(err)
	}
	kept := watcher.revokes(1)[0]
	st, err := w.svc.Sweep(ctx)
	if err != nil || st.Revocations != 1 {
		t.Fatalf("sweep: %+v, %v; want 1 revocation trimmed", st, err)
	}

	reset := sseBlock{ID: kept.ID, Event: "reset", Data: "{}"}
	beforeOld := strconv.FormatInt(id(t, old)-1, 10)
	for _, last := range []string{beforeOld, "999999999", "abc", "-1", "1e3"} {
		s := w.openFeed(w.rs, last)
		before, head := s.ready()
		if diff := cmp.Diff([]sseBlock{reset}, before); diff != "" || head != kept.ID {
			t.Errorf("Last-Event-ID %q: head %s, before ready (-want +got):\n%s", last, head, diff)
		}
		s.close()
	}
	// The trimmed row itself was seen: nothing after it is missing.
	s := w.openFeed(w.rs, old.ID)
	if before, _ := s.ready(); !cmp.Equal([]sseBlock{kept}, before) {
		t.Errorf("Last-Event-ID %s replayed %+v, want %+v", old.ID, before, kept)
	}
}

// pauser holds one revoking transaction just before it appends to the revocation log:
// as the tracer of the test's pool, it sees the append's batch (the INSERT INTO
// revocations naming the subject) before it is sent, inside the transaction.
type pauser struct {
	mu      sync.Mutex
	subject string
	reached chan struct{}
	release chan struct{}
}

func (p *pauser) TraceBatchStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	for _, q := range data.Batch.QueuedQueries {
		if strings.Contains(q.SQL, "INSERT INTO revocations") {
			for _, a := range q.Arguments {
				if s, ok := a.(string); ok {
					p.hook(s)
				}
			}
		}
	}
	return ctx
}

func (p *pauser) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (p *pauser) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}
func (p *pauser) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}
func (p *pauser) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (p *pauser) arm(subject string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.subject, p.reached, p.release = subject, make(chan struct{}), make(chan struct{})
}

// hook waits for release when subject is the one armed.
func (p *pauser) hook(subject string) {
	p.mu.Lock()
	hit := subject != "" && subject == p.subject
	reached, release := p.reached, p.release
	p.mu.Unlock()
	if hit {
		close(reached)
		<-release
	}
}

// TestFeedLateCommit: of two concurrent revocations, the one that started first (and would
// hold the lower id if ids came with its row) commits last. A stream that saw the other one
// and reconnects between the commits still gets it: ids follow commit order.
func TestFeedLateCommit(t *testing.T) {
	p := &pauser{}
	pool := dbtest.NewWithConfig(t, func(c *pgxpool.Config) { c.ConnConfig.Tracer = p })
	w, _ := newFeedWorld(t, onPool(pool))
	first := w.login(w.app, "alice", testkit.AlicePassword)["access_token"].(string)
	second := w.login(w.app, "alice", testkit.AlicePassword)["access_token"].(string)
	s := w.openFeed(w.rs, "")
	s.ready()

	p.arm(tokenHash(first))
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, w.srv.URL+"/revoke", strings.NewReader(url.Values{"token": {first}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", basic(w.app.ID, w.app.Secret))
		resp, err := w.srv.Client().Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	select {
	case <-p.reached: // the first revocation's row is updated, its append not yet made
	case <-time.After(hang):
		t.Fatal("the first revocation never reached its append")
	}
	if r := w.post("/revoke", &w.app, url.Values{"token": {second}}); r.Status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	got := s.revokes(1)[0]
	if want := revoke(`{"kind":"token","token_hash":"` + tokenHash(second) + `"}`); !cmp.Equal(want, withoutIDs([]sseBlock{got})[0]) {
		t.Fatalf("first event %+v, want %+v", got, want)
	}
	s.close()

	back := w.openFeed(w.rs, got.ID) // between the two commits
	if before, head := back.ready(); len(before) != 0 || head != got.ID {
		t.Fatalf("reconnected: %+v before ready at %s", before, head)
	}
	close(p.release)
	if status := <-done; status != http.StatusOK {
		t.Fatalf("first revoke: %d", status)
	}
	late := back.revokes(1)[0]
	if want := revoke(`{"kind":"token","token_hash":"` + tokenHash(first) + `"}`); !cmp.Equal(want, withoutIDs([]sseBlock{late})[0]) {
		t.Fatalf("after the late commit %+v, want %+v", late, want)
	}
	if id(t, late) <= id(t, got) {
		t.Fatalf("the late commit has id %s, not above %s", late.ID, got.ID)
	}
}

// TestFeedAcrossInstances: two jeton instances on one database; a revocation through
// either reaches the streams of both (LISTEN/NOTIFY).
func TestFeedAcrossInstances(t *testing.T) {
	pool := dbtest.New(t)
	a := newEnv(t, onPool(pool), withFeed(service.FeedConfig{}))
	b := newEnv(t, onPool(pool), withFeed(service.FeedConfig{}))
	a.mustTenant("a")
	app := a.mustClient("a", service.ClientSpec{Name: "app", GrantTypes: []string{"password"}})
	rs := a.mustClient("a", service.ClientSpec{Name: "api", Introspect: true})
	a.mustUser("a", "alice", testkit.AlicePassword)
	onA, onB := a.openFeed(rs, ""), b.openFeed(rs, "")
	onA.ready()
	onB.ready()

	tok := a.login(app, "alice", testkit.AlicePassword)["access_token"].(string)
	if r := a.post("/revoke", &app, url.Values{"token": {tok}}); r.Status != http.StatusOK {
		t.Fatalf("revoke through a: %d %s", r.Status, r.Body)
	}
	if _, err := b.svc.RevokeUserTokens(context.Background(), b.cli, "a", "alice"); err != nil {
		t.Fatal(err)
	}
	fromA, fromB := onA.revokes(2), onB.revokes(2)
	if !cmp.Equal(fromA, fromB) || fromA[0].Data != `{"kind":"token","token_hash":"`+tokenHash(tok)+`"}` ||
		!strings.HasPrefix(fromA[1].Data, `{"kind":"user"`) {
		t.Fatalf("instance a streamed %+v, instance b %+v", fromA, fromB)
	}
}

// listeners counts the feed's LISTEN connections to the test database.
func listeners(t *testing.T, w world) int {
	t.Helper()
	var n int
	if err := w.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN%'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func waitListeners(t *testing.T, w world, n int) {
	t.Helper()
	deadline := time.Now().Add(hang)
	for listeners(t, w) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d LISTEN connections, want %d", listeners(t, w), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFeedListenerReconnects: when the LISTEN connection dies, the feed reconnects and
// reads the log from where it was, so what was revoked meanwhile still arrives.
func TestFeedListenerReconnects(t *testing.T) {
	w, _ := newFeedWorld(t)
	ctx := context.Background()
	s := w.openFeed(w.rs, "")
	s.ready()
	waitListeners(t, w, 1)
	if _, err := w.pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN%'`); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.RevokeUserTokens(ctx, w.cli, "a", "alice"); err != nil {
		t.Fatal(err)
	}
	if got := s.revokes(1)[0]; !strings.HasPrefix(got.Data, `{"kind":"user"`) {
		t.Fatalf("after the listener died: %+v", got)
	}
	waitListeners(t, w, 1)
	if _, err := w.svc.RevokeTenantTokens(ctx, w.cli, "a"); err != nil {
		t.Fatal(err)
	}
	if got := s.revokes(1)[0]; got.Data != `{"kind":"tenant"}` {
		t.Fatalf("after the listener came back: %+v", got)
	}
	if !strings.Contains(w.logs.String(), "revocation feed: listen failed") {
		t.Errorf("the lost listener was not logged:\n%s", w.logs.String())
	}
}

// TestFeedHeartbeat: a silent stream carries a ": ping" comment every heartbeat.
func TestFeedHeartbeat(t *testing.T) {
	w, _ := newFeedWorld(t, withFeed(service.FeedConfig{Heartbeat: 20 * time.Millisecond}))
	s := w.openFeed(w.rs, "")
	s.ready()
	for i := 0; i < 3; i++ {
		if b := s.next(); !cmp.Equal(sseBlock{Comments: []string{"ping"}}, b) {
			t.Fatalf("heartbeat %d: %+v", i, b)
		}
	}
}
