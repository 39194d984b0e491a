package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/dbtest"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/service"
	"github.com/jeton-auth/jeton/webhooks"
)

// capture keeps the raw requests the receiver got, for the Python check.
type capture struct {
	mu   sync.Mutex
	reqs []captured
	next http.Handler
}

type captured struct {
	header http.Header
	body   []byte
}

func (c *capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := readAll(r)
	c.mu.Lock()
	c.reqs = append(c.reqs, captured{r.Header.Clone(), body})
	c.mu.Unlock()
	r.Body = nopCloser{bytes.NewReader(body)}
	c.next.ServeHTTP(w, r)
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

func readAll(r *http.Request) ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(r.Body)
	return b.Bytes(), err
}

// The example receiver behind TLS gets real deliveries from jeton's dispatcher: it prints
// each event once (a redelivery is recognised by its webhook-id), refuses a forged one, and
// the Python snippet of docs/WEBHOOKS.md accepts the same delivery and refuses a tampered one.
func TestExampleReceiver(t *testing.T) {
	ctx := context.Background()
	store := db.New(dbtest.New(t))
	out := &testkit.Buffer{}
	rc := &receiver{now: time.Now, out: out, seen: map[string]bool{}}
	cp := &capture{next: rc}
	srv := httptest.NewTLSServer(cp)
	defer srv.Close()
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	sender := webhooks.NewSender(webhooks.SenderConfig{AllowPrivate: true, RootCAs: roots, UserAgent: "jeton/test"})
	cfg := service.DefaultConfig()
	cfg.Hash = testkit.FastHash
	svc, err := service.New(store, cfg, service.WithWebhookSender(sender))
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if _, err := svc.CreateTenant(ctx, testkit.Actor, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	w, secret, err := svc.CreateWebhook(ctx, testkit.Actor, "acme", service.WebhookSpec{URL: srv.URL + "/jeton", Events: []string{"user_created"}})
	if err != nil {
		t.Fatal(err)
	}
	rc.secret = secret
	u, err := svc.CreateUser(ctx, testkit.Actor, "acme", "alice", testkit.AlicePassword, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := service.NewDispatcher(store, sender, service.DispatcherConfig{}, nil)
	if err := d.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("printed %q, want one event", out.String())
	}
	var printed struct {
		ID   string
		Type string
		Data struct {
			ID     int64  `json:"id"`
			UserID string `json:"user_id"`
		}
	}
	if err := json.Unmarshal([]byte(lines[0]), &printed); err != nil || printed.Type != "user_created" || printed.Data.UserID != u.ID.String() {
		t.Fatalf("printed %q (%v)", lines[0], err)
	}

	// A redelivery is acknowledged and not printed again.
	if _, err := svc.Redeliver(ctx, "acme", w.ID, printed.Data.ID); err != nil {
		t.Fatal(err)
	}
	if err := d.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(out.String(), "\n"); got != 1 || len(cp.reqs) != 2 {
		t.Fatalf("after the redelivery: %d lines, %d requests", got, len(cp.reqs))
	}
	page, err := svc.WebhookDeliveries(ctx, "acme", w.ID, "", 10)
	if err != nil || len(page.Items) != 1 || page.Items[0].State != db.DeliveryDelivered || *page.Items[0].LastStatus != 204 {
		t.Fatalf("delivery log %+v, %v", page.Items, err)
	}

	// A delivery signed with another secret is refused.
	other, _, _ := webhooks.NewSecret(bytes.NewReader(bytes.Repeat([]byte{7}, 32)))
	okey, _ := webhooks.ParseSecret(other)
	forged := sender.Post(ctx, srv.URL, webhooks.Message{ID: "1", At: time.Now(), Body: []byte(`{"type":"x"}`), Keys: [][]byte{okey}})
	if forged.Status != http.StatusUnauthorized {
		t.Fatalf("forged delivery answered %d", forged.Status)
	}

	checkPython(t, secret, cp.reqs[0])
	checkDocs(t)
}

// checkPython runs verify.py, as docs/WEBHOOKS.md shows it, on a real delivery.
func checkPython(t *testing.T, secret string, c captured) {
	t.Helper()
	dir := t.TempDir()
	headers := map[string]string{}
	for _, h := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
		headers[h] = c.header.Get(h)
	}
	hj, _ := json.Marshal(headers)
	for name, data := range map[string][]byte{"headers.json": hj, "body": c.body} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	script := `
import json, sys
sys.path.insert(0, sys.argv[1])
from verify import verify
headers = json.load(open(sys.argv[2] + "/headers.json"))
body = open(sys.argv[2] + "/body", "rb").read()
verify(sys.argv[3], headers, body)
for bad in (body + b" ", body.replace(b"user_created", b"user_deleted")):
    try:
        verify(sys.argv[3], headers, bad)
    except ValueError:
        continue
    sys.exit("a tampered body verified")
try:
    verify(sys.argv[3], headers, body, now=int(headers["webhook-timestamp"]) + 301)
    sys.exit("a stale delivery verified")
except ValueError:
    pass
print("ok")
`
	here, _ := os.Getwd()
	cmd := exec.Command("/usr/bin/python3", "-c", script, here, dir, secret)
	got, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(got)) != "ok" {
		t.Fatalf("python3: %v\n%s", err, got)
	}
}

// checkDocs makes sure docs/WEBHOOKS.md shows the code this test ran.
func checkDocs(t *testing.T) {
	t.Helper()
	doc, err := os.ReadFile("../../docs/WEBHOOKS.md")
	if err != nil {
		t.Fatal(err)
	}
	py, _ := os.ReadFile("verify.py")
	src, _ := os.ReadFile("main.go")
	goVerify := string(src)
	start := strings.Index(goVerify, "func verify(")
	goVerify = goVerify[start : start+strings.Index(goVerify[start:], "\n}\n")+3]
	for name, snippet := range map[string]string{"verify.py": string(py), "verify in main.go": goVerify} {
		if !strings.Contains(string(doc), snippet) {
			t.Errorf("docs/WEBHOOKS.md does not show %s as it is", name)
		}
	}
}
