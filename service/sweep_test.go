package service

// An internal test: TestSweepTakesTurns pauses a pass through the unexported duringSweep hook.

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/tokens"
)

const day = 24 * time.Hour

// TestSweepKeepsWhatReuseDetectionNeeds: a used refresh token survives the sweeper until its
// own expiry, so a reuse within that window still revokes the session, and one after it
// is an unknown token that revokes nothing.
func TestSweepKeepsWhatReuseDetectionNeeds(t *testing.T) {
	t.Run("reuse before expiry revokes the session", func(t *testing.T) {
		e := newEnv(t, nil)
		first := e.login()
		e.clock.Advance(day)
		second, err := e.refresh(first.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(day)
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
		e := newEnv(t, nil)
		first := e.login()
		e.clock.Advance(day)
		second, err := e.refresh(first.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(13*day + time.Minute) // first's 14 days are over, second's are not
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
	e := newEnv(t, nil)
	e.svc.duringSweep = func() {
		once.Do(func() {
			close(locked)
			<-release
		})
	}
	e.login()
	e.login()
	e.clock.Advance(time.Hour) // both access tokens expired

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

// TestSweepYieldsToABatchElsewhere: the lock is a transaction's, as another instance's
// batch holds it (through a pooler in transaction mode too): while such a transaction
// holds it Sweep does nothing and says so, and once it commits Sweep runs.
func TestSweepYieldsToABatchElsewhere(t *testing.T) {
	e := newEnv(t, nil)
	e.login()
	e.login()
	e.clock.Advance(time.Hour) // both access tokens expired
	ctx := context.Background()
	tx, err := e.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1::bigint)`, sweepLockKey); err != nil {
		t.Fatal(err)
	}
	if st := e.mustSweep(); st != (SweepStats{Skipped: true}) {
		t.Errorf("sweep while another transaction holds the lock: %+v, want skipped and nothing done", st)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if st := e.mustSweep(); st.Skipped || st.Tokens != 2 {
		t.Errorf("sweep after that transaction: %+v, want 2 tokens swept", st)
	}
}

// TestSweepPass: one pass loops every kind of batch until it runs dry.
func TestSweepPass(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SweepBatch = 2; c.EventRetention = 30 * day })
	ctx := context.Background()
	for range 3 {
		e.login() // 3 sessions, 6 tokens
	}
	// Tenant "b" keeps its events for a day, and tenant "c" is deleted with its rows.
	if _, err := e.svc.CreateTenant(ctx, testkit.Actor, "b", "B"); err != nil {
		t.Fatal(err)
	}
	short := day
	if _, err := e.svc.UpdateTenant(ctx, testkit.Actor, "b", func(tn *db.Tenant) { tn.EventRetention = &short }); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateTenant(ctx, testkit.Actor, "c", "C"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.CreateClient(ctx, testkit.Actor, "c", ClientSpec{Name: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateUser(ctx, testkit.Actor, "c", "carol", testkit.AlicePassword, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteTenant(ctx, testkit.Actor, "c"); err != nil {
		t.Fatal(err)
	}
	eventsOf := func(slug string) int {
		return e.count(`SELECT count(*) FROM events e JOIN tenants t ON t.id = e.tenant_id WHERE t.slug = $1`, slug)
	}
	bEvents, aEvents := eventsOf("b"), eventsOf("a")

	e.clock.Advance(2 * day) // access tokens expired, b's events past retention
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

	e.clock.Advance(89 * day) // refresh tokens and sessions ended; everything older than 30 days
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
	var buf testkit.Buffer
	h := &notifyHandler{Handler: slog.NewJSONHandler(&buf, nil), done: make(chan struct{}, 1)}
	e := newEnv(t, nil, WithLogger(slog.New(h)))
	tok := e.login()
	e.clock.Advance(time.Hour)

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
