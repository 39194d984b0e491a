package api_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jeton-auth/jeton/api"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/service"
)

// feedRefused opens GET /revocations as c and returns the refusal, failing on a stream.
func (e *env) feedRefused(c client) response {
	e.t.Helper()
	resp, cancel := e.feedRequest(c, "")
	defer cancel()
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		e.t.Fatalf("GET /revocations as %s: 200, want a refusal", c.ID)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// feedGauge is the jeton_feed_streams line of the metrics.
func (e *env) feedGauge() string {
	e.t.Helper()
	rec := httptest.NewRecorder()
	e.metrics.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, "jeton_feed_streams ") {
			return line
		}
	}
	e.t.Fatalf("no jeton_feed_streams in the metrics")
	return ""
}

// TestFeedCaps: over the per-tenant or the global cap on open streams, a stream is refused
// with 503 temporarily_unavailable and Retry-After; a closed stream frees its place.
func TestFeedCaps(t *testing.T) {
	w, feed := newFeedWorld(t, withFeed(service.FeedConfig{MaxStreams: 2, MaxStreamsPerTenant: 1}))
	rs2 := w.mustClient("a", service.ClientSpec{Name: "api 2", Introspect: true})
	w.mustTenant("b")
	rsB := w.mustClient("b", service.ClientSpec{Name: "api b", Introspect: true})
	w.mustTenant("c")
	rsC := w.mustClient("c", service.ClientSpec{Name: "api c", Introspect: true})

	s := w.openFeed(w.rs, "")
	s.ready()
	full := func(c client, why string) {
		t.Helper()
		r := w.feedRefused(c)
		if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") != "5" ||
			string(r.Body) != `{"error":"temporarily_unavailable"}` {
			t.Fatalf("%s: %d Retry-After %q %s", why, r.Status, r.Header.Get("Retry-After"), r.Body)
		}
	}
	full(w.rs, "tenant cap, same client")
	full(rs2, "tenant cap, another client")
	b := w.openFeed(rsB, "")
	b.ready()
	full(rsC, "global cap")
	if g := w.feedGauge(); g != "jeton_feed_streams 2" {
		t.Errorf("gauge: %q", g)
	}
	s.close()
	waitStreams(t, feed, 1)
	w.openFeed(rs2, "").ready()
}

// TestFeedAuthentication: HTTP Basic only, a resource server of the tenant; credentials in
// the query string are never read.
func TestFeedAuthentication(t *testing.T) {
	w, _ := newFeedWorld(t)
	invalidClient := func(name string, r response) {
		t.Helper()
		if r.Status != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") != `Basic realm="jeton"` ||
			string(r.Body) != `{"error":"invalid_client"}` {
			t.Errorf("%s: %d %v %s", name, r.Status, r.Header, r.Body)
		}
	}
	get := func(url, auth string) response {
		t.Helper()
		req := mustRequest(t, http.MethodGet, url)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		return w.do(req)
	}
	invalidClient("no credentials", get(w.srv.URL+"/revocations", ""))
	invalidClient("wrong secret", get(w.srv.URL+"/revocations", basic(w.rs.ID, w.app.Secret)))
	invalidClient("bearer", get(w.srv.URL+"/revocations", "Bearer "+w.rs.Secret))
	invalidClient("query string", get(w.srv.URL+"/revocations?client_id="+w.rs.ID+"&client_secret="+w.rs.Secret, ""))
	if r := w.feedRefused(w.app); r.Status != http.StatusForbidden || string(r.Body) != `{"error":"unauthorized_client"}` {
		t.Errorf("a client without introspect: %d %s", r.Status, r.Body)
	}
	if r := w.post("/revocations", &w.rs, nil); r.Status != http.StatusMethodNotAllowed {
		t.Errorf("POST /revocations: %d %s", r.Status, r.Body)
	}
}

// TestFeedOutlivesServerTimeouts: a stream lives past the server's ReadTimeout and
// WriteTimeout (it sets a deadline per write) and still delivers.
func TestFeedOutlivesServerTimeouts(t *testing.T) {
	const timeout = 100 * time.Millisecond
	w, _ := newFeedWorld(t, withFeed(service.FeedConfig{Heartbeat: 20 * time.Millisecond}),
		withHTTP(func(s *http.Server) { s.ReadTimeout, s.WriteTimeout = timeout, timeout }))
	s := w.openFeed(w.rs, "")
	s.ready()
	for start := time.Now(); time.Since(start) < 5*timeout; {
		s.next()
	}
	if _, err := w.svc.RevokeTenantTokens(context.Background(), w.cli, "a"); err != nil {
		t.Fatal(err)
	}
	if got := s.revokes(1)[0]; got.Data != `{"kind":"tenant"}` {
		t.Fatalf("got %+v", got)
	}
}

// TestFeedWriteDeadline: a subscriber that stops reading is cut off once a write waits
// longer than the feed's write timeout; the stream ends and frees its place.
func TestFeedWriteDeadline(t *testing.T) {
	small := func(c syscall.RawConn, opt int) {
		_ = c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, opt, 4096) })
	}
	w, feed := newFeedWorld(t, withAPI(api.Config{FeedWriteTimeout: 200 * time.Millisecond}), withHTTP(func(s *http.Server) {
		s.ConnState = func(c net.Conn, st http.ConnState) {
			if tc, ok := c.(*net.TCPConn); ok && st == http.StateNew {
				if rc, err := tc.SyscallConn(); err == nil {
					small(rc, syscall.SO_SNDBUF)
				}
			}
		}
	}))
	// Far more to replay than the two sockets buffer.
	tn, err := w.svc.Tenant(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.pool.Exec(context.Background(), `INSERT INTO revocations (tenant_id, kind, subject, at)
		SELECT $1, 'user', gen_random_uuid()::text, $2 FROM generate_series(1, 5000)`, tn.ID, w.clock.Now()); err != nil {
		t.Fatal(err)
	}
	// A revocation after them, which the hub hears of: it has read them all once the
	// watcher has that one.
	watcher := w.openFeed(w.rs, "")
	watcher.ready()
	if _, err := w.svc.RevokeTenantTokens(context.Background(), w.cli, "a"); err != nil {
		t.Fatal(err)
	}
	if got := watcher.revokes(5001)[5000]; got.Data != `{"kind":"tenant"}` {
		t.Fatalf("the watcher's last event: %+v", got)
	}
	watcher.close()
	waitStreams(t, feed, 0)
	logged := len(w.logs.String())
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error { small(c, syscall.SO_RCVBUF); return nil }}
	conn, err := d.Dial("tcp", strings.TrimPrefix(w.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := "GET /revocations HTTP/1.1\r\nHost: jeton\r\nAuthorization: " + basic(w.rs.ID, w.rs.Secret) +
		"\r\nLast-Event-ID: 0\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	// The stream starts, then its replay blocks on the unread socket until the deadline.
	deadline := time.Now().Add(hang)
	for !strings.Contains(w.logs.String()[logged:], "revocation feed stream ended") {
		if time.Now().After(deadline) {
			t.Fatalf("the stalled stream was never cut off; streams open: %d", feed.Streams())
		}
		time.Sleep(10 * time.Millisecond)
	}
	waitStreams(t, feed, 0)
	if l := w.logs.String()[logged:]; !strings.Contains(l, "i/o timeout") {
		t.Errorf("the stream did not end on its write deadline:\n%s", l)
	}
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || status != "HTTP/1.1 200 OK\r\n" {
		t.Fatalf("the stalled stream began with %q, %v", status, err)
	}

	// A subscriber that reads gets the whole replay, page after page, in order.
	before, head := w.openFeed(w.rs, "0").ready()
	if len(before) != 5001 || before[5000].ID != head {
		t.Fatalf("replayed %d events up to %s", len(before), head)
	}
	increasing(t, before)
}

// TestFeedShutdown: draining the feed (what serve does on SIGTERM, before the server's
// Shutdown) sends every stream retry: 1000 and ends it; new streams are refused.
func TestFeedShutdown(t *testing.T) {
	w, feed := newFeedWorld(t)
	rs2 := w.mustClient("a", service.ClientSpec{Name: "api 2", Introspect: true})
	s1, s2 := w.openFeed(w.rs, ""), w.openFeed(rs2, "")
	s1.ready()
	s2.ready()
	drained := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), hang)
		defer cancel()
		drained <- feed.Drain(ctx)
	}()
	for i, s := range []*feedStream{s1, s2} {
		if diff := cmp.Diff([]sseBlock{{Retry: "1000"}}, s.ended()); diff != "" {
			t.Errorf("stream %d's end (-want +got):\n%s", i, diff)
		}
	}
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
	if r := w.feedRefused(w.rs); r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
		t.Fatalf("a stream while shutting down: %d %v %s", r.Status, r.Header, r.Body)
	}
}

// TestFeedDisableClosesStreams: disabling or deleting a resource server ends its own
// streams after they carry the event; disabling the tenant ends all of the tenant's.
func TestFeedDisableClosesStreams(t *testing.T) {
	w, feed := newFeedWorld(t)
	ctx := context.Background()
	rs2 := w.mustClient("a", service.ClientSpec{Name: "api 2", Introspect: true})
	rs3 := w.mustClient("a", service.ClientSpec{Name: "api 3", Introspect: true})
	s1, s2, s3 := w.openFeed(w.rs, ""), w.openFeed(rs2, ""), w.openFeed(rs3, "")
	for _, s := range []*feedStream{s1, s2, s3} {
		s.ready()
	}

	if _, err := w.svc.UpdateClient(ctx, w.cli, "a", w.rs.ID, func(c *db.Client) { c.Disabled = true }); err != nil {
		t.Fatal(err)
	}
	disabled := revoke(`{"kind":"client","client_id":"` + w.rs.ID + `"}`)
	if diff := cmp.Diff([]sseBlock{disabled}, withoutIDs(s1.ended())); diff != "" {
		t.Fatalf("the disabled client's stream (-want +got):\n%s", diff)
	}
	if r := w.feedRefused(w.rs); r.Status != http.StatusUnauthorized {
		t.Fatalf("the disabled client reconnected: %d %s", r.Status, r.Body)
	}

	if err := w.svc.DeleteClient(ctx, w.cli, "a", rs3.ID); err != nil {
		t.Fatal(err)
	}
	deleted := revoke(`{"kind":"client","client_id":"` + rs3.ID + `"}`)
	if diff := cmp.Diff([]sseBlock{disabled, deleted}, withoutIDs(s3.ended())); diff != "" {
		t.Fatalf("the deleted client's stream (-want +got):\n%s", diff)
	}

	// The others' stream carried both events and stays open.
	if _, err := w.svc.RevokeUserTokens(ctx, w.cli, "a", "alice"); err != nil {
		t.Fatal(err)
	}
	if got := withoutIDs(s2.revokes(3)); !cmp.Equal(disabled, got[0]) || !cmp.Equal(deleted, got[1]) ||
		!strings.HasPrefix(got[2].Data, `{"kind":"user"`) {
		t.Fatalf("the other stream: %+v", got)
	}

	if _, err := w.svc.UpdateTenant(ctx, w.cli, "a", func(tn *db.Tenant) { tn.Disabled = true }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]sseBlock{revoke(`{"kind":"tenant"}`)}, withoutIDs(s2.ended())); diff != "" {
		t.Fatalf("a stream of the disabled tenant (-want +got):\n%s", diff)
	}
	waitStreams(t, feed, 0)
}

// TestFeedEndsWhenAccessIsLost: removing a client's introspect permission or rotating its
// secret out writes no revocation; the client's stream still ends before it delivers
// anything once the recheck interval has passed on the service's clock.
func TestFeedEndsWhenAccessIsLost(t *testing.T) {
	w, feed := newFeedWorld(t)
	ctx := context.Background()
	rs2 := w.mustClient("a", service.ClientSpec{Name: "api 2", Introspect: true})
	lost, rotated := w.openFeed(w.rs, ""), w.openFeed(rs2, "")
	lost.ready()
	rotated.ready()

	if _, err := w.svc.UpdateClient(ctx, w.cli, "a", w.rs.ID, func(c *db.Client) { c.Introspect = false }); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.RotateSecret(ctx, w.cli, "a", rs2.ID, 0); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(service.DefaultFeedConfig().Recheck) // the recheck interval has passed
	tok := w.login(w.app, "alice", testkit.AlicePassword)["access_token"].(string)
	if r := w.post("/revoke", &w.app, url.Values{"token": {tok}}); r.Status != http.StatusOK {
		t.Fatalf("revoke: %d", r.Status)
	}
	for name, s := range map[string]*feedStream{"introspect removed": lost, "secret rotated": rotated} {
		if got := s.ended(); len(got) != 0 {
			t.Fatalf("%s: the stream delivered %+v after the client lost access", name, got)
		}
	}
	waitStreams(t, feed, 0)
}
