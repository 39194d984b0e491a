package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jeton-auth/jeton/api"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/dbtest"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/service"
)

// lines is a concurrency-safe stdout that reports the line announcing the address.
type lines struct {
	mu        sync.Mutex
	buf       strings.Builder
	listening chan string
}

var listeningRE = regexp.MustCompile(`listening on (http://\S+),`)

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	if m := listeningRE.FindStringSubmatch(string(p)); m != nil {
		l.listening <- m[1]
	}
	return len(p), nil
}

// The example as its README runs it, against a real jeton: alice's token with both scopes
// reads and writes her notes, without a token or after a revocation she is refused.
func TestExample(t *testing.T) {
	ctx := context.Background()
	store := db.New(dbtest.New(t))
	cfg := service.DefaultConfig()
	cfg.Hash = testkit.FastHash
	log := slog.New(slog.DiscardHandler)
	svc, err := service.New(store, cfg, service.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	feed := service.NewFeed(store, service.FeedConfig{}, log)
	feedCtx, stopFeed := context.WithCancel(ctx)
	feedDone := make(chan struct{})
	go func() { defer close(feedDone); feed.Run(feedCtx) }()
	h, err := api.NewServer(api.Config{Issuer: "http://127.0.0.1:8080", Feed: feed}, svc, log)
	if err != nil {
		t.Fatal(err)
	}
	jeton := httptest.NewServer(h)
	t.Cleanup(func() { stopFeed(); <-feedDone; jeton.Close() })

	if _, err := svc.CreateTenant(ctx, testkit.Actor, "demo", "Demo"); err != nil {
		t.Fatal(err)
	}
	app, appSecret, err := svc.CreateClient(ctx, testkit.Actor, "demo", service.ClientSpec{Name: "demo-app",
		GrantTypes: []string{"password"}, Scopes: []string{"read", "write"}})
	if err != nil {
		t.Fatal(err)
	}
	rsClient, rsSecret, err := svc.CreateClient(ctx, testkit.Actor, "demo", service.ClientSpec{Name: "demo-api", Introspect: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateUser(ctx, testkit.Actor, "demo", "alice", testkit.AlicePassword, nil); err != nil {
		t.Fatal(err)
	}

	env := map[string]string{"JETON_URL": jeton.URL, "JETON_RS_CLIENT_ID": rsClient.ID, "JETON_RS_CLIENT_SECRET": rsSecret}
	out := &lines{listening: make(chan string, 1)}
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() {
		ran <- run(runCtx, []string{"goapi", "-addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, out)
	}()
	t.Cleanup(func() {
		stop()
		if err := <-ran; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	var base string
	select {
	case base = <-out.listening:
	case err := <-ran:
		t.Fatalf("run: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the example did not start")
	}

	form := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {testkit.AlicePassword}}
	req, _ := http.NewRequest(http.MethodPost, jeton.URL+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(app.ID, appSecret)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if status, body := call(t, req); status != http.StatusOK || json.Unmarshal(body, &tok) != nil {
		t.Fatalf("login: %d %s", status, body)
	}
	bearer := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if tok.AccessToken != "" {
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		}
		status, raw := call(t, req)
		return status, string(raw)
	}
	if status, body := bearer("POST", "/notes", `{"text":"buy milk"}`); status != http.StatusCreated {
		t.Errorf("POST /notes: %d %s", status, body)
	}
	if status, body := bearer("GET", "/notes", ""); status != http.StatusOK || !strings.Contains(body, "buy milk") {
		t.Errorf("GET /notes: %d %s", status, body)
	}
	if status, body := bearer("GET", "/me", ""); status != http.StatusOK || !strings.Contains(body, `"username":"alice"`) {
		t.Errorf("GET /me: %d %s", status, body)
	}

	// Revoke as the app, as make run's third curl line does; the feed makes the API refuse
	// the token (the deadline only catches a hang).
	form = url.Values{"token": {tok.AccessToken}}
	req, _ = http.NewRequest(http.MethodPost, jeton.URL+"/revoke", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(app.ID, appSecret)
	if status, body := call(t, req); status != http.StatusOK {
		t.Fatalf("revoke: %d %s", status, body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, _ := bearer("GET", "/me", "")
		if status == http.StatusUnauthorized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the revoked token still gets %d", status)
		}
		time.Sleep(10 * time.Millisecond)
	}
	tok.AccessToken = ""
	if status, _ := bearer("GET", "/me", ""); status != http.StatusUnauthorized {
		t.Errorf("no token: %d", status)
	}
}

func call(t *testing.T, req *http.Request) (int, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}
