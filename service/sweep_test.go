package service

// An internal test: TestSweepTakesTurns pauses a pass through the unexported duringSweep hook.

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/dbtest"
	"github.com/jeton-auth/jeton/password"
	"github.com/jeton-auth/jeton/tokens"
)

const day = 24 * time.Hour

// sweepEnv is a service over a fresh database with a settable clock, tenant "a", an app
// client allowed password and refresh_token, and alice.
type sweepEnv struct {
	t    *testing.T
	svc  *Service
	pool *pgxpool.Pool
	app  db.ClientAuth

	mu  sync.Mutex
	now time.Time
}

const alicePassword = "correct horse battery staple"

var cli = db.Actor{Type: "cli", ID: "test", Name: "cli:test"}

func newSweepEnv(t *testing.T, configure func(*Config), opts ...Option) *sweepEnv {
	t.Helper()
	e := &sweepEnv{t: t, pool: dbtest.New(t), now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	cfg := DefaultConfig()
	cfg.Hash = password.Params{Memory: 64, Time: 1, Threads: 1}
	if configure != nil {
		configure(&cfg)
	}
	svc, err := New(db.New(e.pool), cfg, append([]Option{WithClock(e.clock)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	ctx := context.Background()
	if _, err := svc.CreateTenant(ctx, cli, "a", "A"); err != nil {
		t.Fatal(err)
	}
	c, secret, err := svc.CreateClient(ctx, cli, "a", ClientSpec{Name: "app",
		GrantTypes: []string{GrantPassword, GrantRefreshToken}, Scopes: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}
	if e.app, err = svc.AuthenticateClient(ctx, Credentials{ClientID: c.ID, Secret: secret}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateUser(ctx, cli, "a", "alice", alicePassword, nil); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *sweepEnv) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *sweepEnv) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

func (e *sweepEnv) login() TokenResponse {
	e.t.Helper()
	r, err := e.svc.PasswordGrant(context.Background(), e.app, PasswordLogin{Username: "alice", Password: alicePassword, Actor: cli})
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *sweepEnv) refresh(rt string) (TokenResponse, error) {
	return e.svc.RefreshGrant(context.Background(), e.app, rt, "", cli)
}

func (e *sweepEnv) mustSweep() SweepStats {
	e.t.Helper()
	st, err := e.svc.Sweep(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// stored returns the token's row, or nil when there is none.
func (e *sweepEnv) stored(tok string) *db.Token {
	e.t.Helper()
	h := tokens.HashOf(tok)
	got, err := e.svc.store.TokenByHash(context.Background(), e.app.Tenant.ID, h[:])
	if errors.Is(err, db.ErrNotFound) {
		return nil
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return &got
}

func (e *sweepEnv) count(sql string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestSweepKeepsWhatReuseDetectionNeeds: a used refresh token survives the sweeper until its
// own expiry, so a reuse within that window still revokes the session, and one after it
// is an unknown token that revokes nothing.
func TestSweepKeepsWhatReuseDetectionNeeds(t *testing.T) {
	t.Run("reuse before expiry revokes the session", func(t *testing.T) {
		e := newSweepEnv(t, nil)
		first := e.login()
		e.advance(day)
		second, err := e.refresh(first.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		e.advance(day)
		if st := e.mustSweep(); st.Tokens != 2 {
			t.Errorf("swept %d tokens, want the 2 expired access tokens", st.Tokens)
		}
		if e.stored(first.AccessToken) != nil || e.stored(second.AccessToken) != nil {
			t.Error("an expired access token survived the sweep")
		}
		if used := e.stored(first.RefreshToken); used == nil || used.UsedAt == nil {
			t.Fatalf("used refresh token after the sweep: %+v; want it kept, used", used)
		}
		if _, err := e.refresh(first.RefreshToken); !errors.Is(err, ErrInvalidGrant) {
			t.Fatalf("reuse: %v, want invalid_grant", err)
		}
		if _, err := e.refresh(second.RefreshToken); !errors.Is(err, ErrInvalidGrant) {
			t.Errorf("the session's live refresh token after the reuse: %v, want invalid_grant", err)
		}
		if n := e.count(`SELECT count(*) FROM events WHERE kind = 'refresh_reuse_detected'`); n != 1 {
			t.Errorf("%d refresh_reuse_detected events, want 1", n)
		}
	})
	t.Run("reuse after expiry revokes nothing", func(t *testing.T) {
		e := newSweepEnv(t, nil)
		first := e.login()
		e.advance(day)
		second, err := e.refresh(first.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		e.advance(13*day + time.Minute) // first's 14 days are over, second's are not
		if st := e.mustSweep(); st.Tokens != 3 {
			t.Errorf("swept %d tokens, want 2 access tokens and the used refresh token", st.Tokens)
		}
		if e.stored(first.RefreshToken) != nil {
			t.Fatal("the used refresh token outlived its expiry")
		}
		if _, err := e.refresh(first.RefreshToken); !errors.Is(err, ErrInvalidGrant) {
			t.Fatalf("reuse after expiry: %v, want invalid_grant", err)
		}
		if _, err := e.refresh(second.RefreshToken); err != nil {
			t.Errorf("the session's live refresh token after a late reuse: %v, want it working", err)
		}
		if n := e.count(`SELECT count(*) FROM events WHERE kind = 'refresh_reuse_detected'`); n != 0 {
			t.Errorf("%d refresh_reuse_detected events, want none", n)
		}
	})
}

// TestSweepTakesTurns: while one pass holds the lock, another Sweep does nothing and says so.
func TestSweepTakesTurns(t *testing.T) {
	locked, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	e := newSweepEnv(t, nil)
	e.svc.duringSweep = func() {
		once.Do(func() {
			close(locked)
			<-release
		})
	}
	e.login()
	e.login()
	e.advance(time.Hour) // both access tokens expired

	type result struct {
		st  SweepStats
		err error
	}
	first := make(chan result, 1)
	go func() {
		st, err := e.svc.Sweep(context.Background())
		first <- result{st, err}
	}()
	<-locked
	second := e.mustSweep()
	close(release)
	got := <-first
	if got.err != nil {
		t.Fatal(got.err)
	}
	if !second.Skipped || second != (SweepStats{Skipped: true}) {
		t.Errorf("sweep while another runs: %+v, want skipped and nothing done", second)
	}
	if got.st.Skipped || got.st.Tokens != 2 {
		t.Errorf("the pass holding the lock: %+v, want 2 tokens swept", got.st)
	}
	if again := e.mustSweep(); again.Skipped {
		t.Errorf("sweep after the lock was released: %+v, want it to run", again)
	}
}

// TestSweepPass: one pass loops every kind of batch until it runs dry.
func TestSweepPass(t *testing.T) {
	e := newSweepEnv(t, func(c *Config) { c.SweepBatch = 2; c.EventRetention = 30 * day })
	ctx := context.Background()
	for range 3 {
		e.login() // 3 sessions, 6 tokens
	}
	// Tenant "b" keeps its events for a day, and tenant "c" is deleted with its rows.
	if _, err := e.svc.CreateTenant(ctx, cli, "b", "B"); err != nil {
		t.Fatal(err)
	}
	short := day
	if _, err := e.svc.UpdateTenant(ctx, cli, "b", func(tn *db.Tenant) { tn.EventRetention = &short }); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateTenant(ctx, cli, "c", "C"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.CreateClient(ctx, cli, "c", ClientSpec{Name: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateUser(ctx, cli, "c", "carol", alicePassword, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteTenant(ctx, cli, "c"); err != nil {
		t.Fatal(err)
	}
	eventsOf := func(slug string) int {
		return e.count(`SELECT count(*) FROM events e JOIN tenants t ON t.id = e.tenant_id WHERE t.slug = $1`, slug)
	}
	bEvents, aEvents := eventsOf("b"), eventsOf("a")

	e.advance(2 * day) // access tokens expired, b's events past retention
	st := e.mustSweep()
	// Throttles: the logins' username and address counters, past their hour; the address
	// alice logged in from stays known for 30 days.
	want := SweepStats{Tokens: 3, Events: int64(bEvents), TenantRows: 3, Throttles: 2} // client, its secret, carol
	if st != want {
		t.Errorf("after 2 days: %+v, want %+v", st, want)
	}
	if eventsOf("a") != aEvents || eventsOf("b") != 0 {
		t.Errorf("events of a: %d (want %d), of b: %d (want 0)", eventsOf("a"), aEvents, eventsOf("b"))
	}

	e.advance(89 * day) // refresh tokens and sessions ended; everything older than 30 days
	st = e.mustSweep()
	if st.Tokens != 3 || st.Sessions != 3 || st.Events == 0 || st.Throttles != 1 {
		t.Errorf("after 91 days: %+v, want 3 tokens, 3 sessions, the old events and the known address", st)
	}
	if n := e.count(`SELECT count(*) FROM sessions`) + e.count(`SELECT count(*) FROM tokens`) +
		e.count(`SELECT count(*) FROM events`) + e.count(`SELECT count(*) FROM login_throttles`) +
		e.count(`SELECT count(*) FROM known_ips`); n != 0 {
		t.Errorf("%d sessions, tokens, events, throttle counters and known addresses left", n)
	}
}

// TestRunSweeper: the loop sweeps at once, logs counts without secrets, and stops with ctx.
func TestRunSweeper(t *testing.T) {
	var buf syncBuffer
	h := &notifyHandler{Handler: slog.NewJSONHandler(&buf, nil), done: make(chan struct{}, 1)}
	e := newSweepEnv(t, nil, WithLogger(slog.New(h)))
	tok := e.login()
	e.advance(time.Hour)

	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		e.svc.RunSweeper(ctx, time.Hour)
		close(stopped)
	}()
	<-h.done
	cancel()
	<-stopped

	if e.stored(tok.AccessToken) != nil {
		t.Error("the expired access token survived the first pass")
	}
	out := buf.String()
	if !strings.Contains(out, `"msg":"sweep done"`) || !strings.Contains(out, `"tokens":1`) {
		t.Errorf("log %q: want a sweep done line counting 1 token", out)
	}
	for _, secret := range []string{string(tokens.Access), string(tokens.Refresh), tok.AccessToken, tok.RefreshToken} {
		if strings.Contains(out, secret) {
			t.Errorf("log %q contains %q", out, secret)
		}
	}
}

// notifyHandler signals done after each record it handles.
type notifyHandler struct {
	slog.Handler
	done chan struct{}
}

func (h *notifyHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	select {
	case h.done <- struct{}{}:
	default:
	}
	return err
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
