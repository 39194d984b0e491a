package rs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// mint returns a fresh well-formed access token, as jeton's tokens.New makes them.
func mint(t *testing.T) string {
	t.Helper()
	return mintKind(t, accessPrefix)
}

func mintKind(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	body := base62Fixed(new(big.Int).SetBytes(b), randomLen)
	return prefix + body + base62Fixed(big.NewInt(int64(crc32.ChecksumIEEE([]byte(body)))), crcLen)
}

func base62Fixed(n *big.Int, width int) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	out := make([]byte, width)
	rem, base := new(big.Int), big.NewInt(62)
	for i := width - 1; i >= 0; i-- {
		n.QuoRem(n, base, rem)
		out[i] = alphabet[rem.Int64()]
	}
	return string(out)
}

func hexHash(token string) string {
	h := hashOf(token)
	return hex.EncodeToString(h[:])
}

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// logBuffer collects log output from concurrent goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fakeJeton serves /introspect and /revocations as docs/FEED.md describes them, with knobs
// to hold calls in flight, fail, and drop streams.
type fakeJeton struct {
	t   *testing.T
	srv *httptest.Server

	mu               sync.Mutex
	answers          map[string]introspection // by token string; absent: inactive
	calls            map[string]int           // introspection calls by token
	hold             chan struct{}            // non-nil: introspection calls wait until it is closed
	arrived          chan string              // each introspection call's token, as it arrives
	introspectStatus int                      // non-zero: /introspect answers this status
	feedStatus       int                      // non-zero: /revocations answers this status
	events           []fakeEvent
	head             int64
	notify           chan struct{} // closed and replaced by push
	kill             chan struct{} // closed and replaced by dropStreams
	subscriptions    []string      // each /revocations request's Last-Event-ID ("none" if absent)
}

type fakeEvent struct {
	id         int64
	name, data string
}

const (
	rsID     = "jc_resourceserver0000000000"
	rsSecret = "jcs_secret"
)

func newFakeJeton(t *testing.T) *fakeJeton {
	f := &fakeJeton{t: t, answers: map[string]introspection{}, calls: map[string]int{},
		arrived: make(chan string, 1000), notify: make(chan struct{}), kill: make(chan struct{}), head: 100}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /introspect", f.introspect)
	mux.HandleFunc("GET /revocations", f.revocations)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// live makes token active with the given sub, sid and client, expiring at exp.
func (f *fakeJeton) live(token, sub, sid, clientID string, exp time.Time, scope string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers[token] = introspection{Active: true, Sub: sub, Sid: sid, ClientID: clientID, Scope: scope,
		Exp: exp.Unix(), Iat: exp.Add(-15 * time.Minute).Unix(), Tenant: "a", Username: "user-" + sub, Jti: "jti-" + sid, Iss: "http://jeton"}
}

func (f *fakeJeton) revoke(token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.answers, token)
}

func (f *fakeJeton) callsOf(token string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[token]
}

func (f *fakeJeton) totalCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		n += c
	}
	return n
}

func (f *fakeJeton) set(fn func(f *fakeJeton)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// holdCalls makes the next introspection calls wait until the returned function is called.
func (f *fakeJeton) holdCalls() (release func()) {
	gate := make(chan struct{})
	f.set(func(f *fakeJeton) { f.hold = gate })
	return func() {
		f.set(func(f *fakeJeton) { f.hold = nil })
		close(gate)
	}
}

// waitArrival waits for an introspection call of token to reach the fake.
func (f *fakeJeton) waitArrival(token string) {
	f.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case got := <-f.arrived:
			if got == token {
				return
			}
		case <-deadline:
			f.t.Fatal("no introspection call arrived")
		}
	}
}

func (f *fakeJeton) authorized(w http.ResponseWriter, r *http.Request) bool {
	id, secret, ok := r.BasicAuth()
	if !ok || id != rsID || secret != rsSecret {
		w.Header().Set("WWW-Authenticate", `Basic realm="jeton"`)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":"invalid_client"}`)
		return false
	}
	return true
}

func (f *fakeJeton) introspect(w http.ResponseWriter, r *http.Request) {
	if !f.authorized(w, r) {
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		f.t.Errorf("introspect Content-Type %q", ct)
	}
	token := r.PostFormValue("token")
	f.mu.Lock()
	f.calls[token]++
	gate, status := f.hold, f.introspectStatus
	in, ok := f.answers[token] // read on arrival, as the database would be
	f.mu.Unlock()
	f.arrived <- token
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	if status != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, `{"error":"server_error"}`)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		fmt.Fprint(w, `{"active":false}`)
		return
	}
	fmt.Fprintf(w, `{"active":true,"scope":%q,"client_id":%q,"username":%q,"sub":%q,"token_type":"Bearer","exp":%d,"iat":%d,"iss":%q,"jti":%q,"tenant":%q,"sid":%q}`,
		in.Scope, in.ClientID, in.Username, in.Sub, in.Exp, in.Iat, in.Iss, in.Jti, in.Tenant, in.Sid)
}

// push appends an event to the log and streams it; it returns the event's id.
func (f *fakeJeton) push(name, data string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.head++
	f.events = append(f.events, fakeEvent{id: f.head, name: name, data: data})
	close(f.notify)
	f.notify = make(chan struct{})
	return f.head
}

// dropStreams ends every open stream, as a server shutdown would.
func (f *fakeJeton) dropStreams() {
	f.mu.Lock()
	defer f.mu.Unlock()
	close(f.kill)
	f.kill = make(chan struct{})
}

func (f *fakeJeton) subs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.subscriptions...)
}

func (f *fakeJeton) revocations(w http.ResponseWriter, r *http.Request) {
	if !f.authorized(w, r) {
		return
	}
	f.mu.Lock()
	lei := "none"
	if v := r.Header.Values("Last-Event-ID"); len(v) > 0 {
		lei = v[0]
	}
	f.subscriptions = append(f.subscriptions, lei)
	if f.feedStatus != 0 {
		status := f.feedStatus
		f.mu.Unlock()
		w.Header().Set("Retry-After", "0")
		http.Error(w, `{"error":"temporarily_unavailable"}`, status)
		return
	}
	next := len(f.events) // a new subscriber gets no replay
	if lei != "none" {
		after, err := strconv.ParseInt(lei, 10, 64)
		if err != nil {
			f.t.Errorf("Last-Event-ID %q", lei)
		}
		next = 0
		for next < len(f.events) && f.events[next].id <= after {
			next++
		}
	}
	kill := f.kill
	f.mu.Unlock()

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	fl := w.(http.Flusher)
	readySent := false
	for {
		f.mu.Lock()
		pending, head, notify := f.events[next:], f.head, f.notify
		next = len(f.events)
		f.mu.Unlock()
		for _, ev := range pending {
			fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.id, ev.name, ev.data)
		}
		if !readySent {
			fmt.Fprintf(w, "id: %d\nevent: ready\ndata: {\"head\":%d}\n\n", head, head)
			readySent = true
		}
		fl.Flush()
		select {
		case <-notify:
		case <-kill:
			fmt.Fprint(w, "retry: 1\n\n")
			return
		case <-r.Context().Done():
			return
		}
	}
}

// newTestClient is a Client of f, with cfg's non-zero fields, a fast backoff, and its log
// in the returned buffer.
func newTestClient(t *testing.T, f *fakeJeton, cfg Config) (*Client, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	cfg.URL, cfg.ClientID, cfg.ClientSecret = f.srv.URL, rsID, rsSecret
	cfg.Logger = newLogger(logs)
	if cfg.BackoffMin == 0 {
		cfg.BackoffMin, cfg.BackoffMax = time.Millisecond, 20*time.Millisecond
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, logs
}

// run follows the feed until the test ends.
func run(t *testing.T, c *Client) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := c.Run(ctx); err != context.Canceled {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// runLive follows the feed and waits until it is live.
func runLive(t *testing.T, c *Client) {
	t.Helper()
	run(t, c)
	waitCtx(t, c.WaitHealthy)
}

// waitCtx calls wait with a generous deadline: it only catches hangs.
func waitCtx(t *testing.T, wait func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := wait(ctx); err != nil {
		t.Fatal(err)
	}
}

func waitApplied(t *testing.T, c *Client, id int64) {
	t.Helper()
	waitCtx(t, func(ctx context.Context) error { return c.WaitApplied(ctx, id) })
}

func waitDown(t *testing.T, c *Client) {
	t.Helper()
	waitCtx(t, func(ctx context.Context) error {
		return c.waitFeed(ctx, func() bool { return !c.healthy })
	})
}

// mustIntrospect introspects token, failing on an error.
func mustIntrospect(t *testing.T, c *Client, token string) Token {
	t.Helper()
	tok, err := c.Introspect(context.Background(), token)
	if err != nil {
		t.Fatalf("introspect: %v", err)
	}
	return tok
}

// eventually polls cond until it holds; for log lines, whose writing has no hook.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func newLogger(logs *logBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
