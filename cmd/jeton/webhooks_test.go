package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/dbtest"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/service"
	"github.com/jeton-auth/jeton/webhooks"
	"github.com/jeton-auth/jeton/webhooks/webhookstest"
)

// serveChildEnv makes this test binary run `jeton serve` with its environment: a jeton
// process the test can kill.
const serveChildEnv = "JETON_TEST_SERVE_CHILD"

func serveChild() {
	err := run(context.Background(), []string{"jeton", "serve"}, os.Getenv, strings.NewReader(""), os.Stdout, os.Stderr)
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	os.Exit(0)
}

// startServe runs `jeton serve` as a child process on the database at url.
func startServe(t *testing.T, url, certFile, logPath string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(exe)
	cmd.Env = []string{serveChildEnv + "=1", "PATH=" + os.Getenv("PATH"), "SSL_CERT_FILE=" + certFile,
		"JETON_DATABASE_URL=" + url, "JETON_ISSUER=http://127.0.0.1:0", "JETON_ADDR=127.0.0.1:0", "JETON_OPS_ADDR=off",
		"JETON_SWEEP_INTERVAL=0", "JETON_HASH_PROCESSES=false", "JETON_WEBHOOK_ALLOW_PRIVATE=true",
		"JETON_WEBHOOK_TIMEOUT=1s", "JETON_WEBHOOK_LEASE=3s", "JETON_WEBHOOK_POLL=200ms"}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

// A jeton killed (SIGKILL) while a receiver holds its delivery: another jeton process
// delivers that event again once the lease expires, and the rest once each; nothing is lost.
func TestWebhookDeliveredAfterKill(t *testing.T) {
	url := dbtest.NewURL(t)
	dir := t.TempDir()
	r := webhookstest.NewReceiver(t)
	certFile := filepath.Join(dir, "receiver.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	held := make(chan struct{})
	var once sync.Once
	r.Answer = func(n int, d webhookstest.Delivery) int {
		if n == 0 {
			once.Do(func() { close(held) })
			<-d.Done // answered never: the sender dies first
		}
		return 204
	}

	first := startServe(t, url, certFile, filepath.Join(dir, "first.log"))
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	waitMigrated(t, pool, filepath.Join(dir, "first.log"))
	cfg := service.DefaultConfig()
	cfg.Hash = testkit.FastHash
	sender := webhooks.NewSender(webhooks.SenderConfig{AllowPrivate: true})
	svc, err := service.New(db.New(pool), cfg, service.WithWebhookSender(sender))
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if _, err := svc.CreateTenant(ctx, testkit.Actor, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	w, secret, err := svc.CreateWebhook(ctx, testkit.Actor, "acme", service.WebhookSpec{URL: r.URL, Events: []string{"user_created"}})
	if err != nil {
		t.Fatal(err)
	}
	r.SetSecrets(secret)
	var users []string
	for i := range 3 {
		u, err := svc.CreateUser(ctx, testkit.Actor, "acme", "user"+strconv.Itoa(i), testkit.AlicePassword, nil)
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, u.ID.String())
	}
	select {
	case <-held:
	case <-time.After(60 * time.Second):
		t.Fatalf("no delivery from the first jeton:\n%s", tail(filepath.Join(dir, "first.log")))
	}
	_ = first.Process.Kill()
	_ = first.Wait()
	startServe(t, url, certFile, filepath.Join(dir, "second.log"))

	deadline := time.Now().Add(60 * time.Second)
	for len(r.Deliveries()) < 4 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	var got []string
	for _, d := range r.Deliveries() {
		if !d.Verified[0] {
			t.Errorf("delivery %s does not verify", d.ID())
		}
		got = append(got, d.Payload.Data["user_id"].(string))
	}
	want := append(users[:1:1], users...) // the one in flight twice, then the rest once
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("deliveries of users %v, want %v\nsecond jeton:\n%s", got, want, tail(filepath.Join(dir, "second.log")))
	}
	// The receiver counts a delivery before its answer reaches jeton: wait for the log.
	var page service.DeliveryPage
	for time.Now().Before(deadline) {
		if page, err = svc.WebhookDeliveries(ctx, "acme", w.ID, "", 10); err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(page.Items, func(d db.WebhookDelivery) bool { return d.State == db.DeliveryPending }) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, d := range page.Items {
		if d.State != db.DeliveryDelivered || d.Attempts != 1 {
			t.Errorf("event %d: %s after %d recorded attempts", d.EventID, d.State, d.Attempts)
		}
	}
}

// waitMigrated waits until the first jeton has created the webhook tables.
func waitMigrated(t *testing.T, pool *pgxpool.Pool, logPath string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var ok bool
		if err := pool.QueryRow(context.Background(), `SELECT to_regclass('webhook_cursor') IS NOT NULL`).Scan(&ok); err == nil && ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("jeton never migrated:\n%s", tail(logPath))
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

func TestWebhookCommandsJSON(t *testing.T) {
	env := withEnv(fastArgon, "JETON_DATABASE_URL", dbtest.NewURL(t))
	if _, err := jeton(t, env, "", "tenant", "create", "acme", "--json"); err != nil {
		t.Fatal(err)
	}
	r := webhookstest.NewReceiver(t)
	if _, err := jeton(t, env, "", "webhook", "create", "--tenant", "acme", "--url", r.URL, "--event", "*", "--json"); err == nil ||
		!strings.Contains(err.Error(), "loopback") {
		t.Fatalf("a loopback URL without --allow-private: %v", err)
	}
	out, err := jeton(t, env, "", "webhook", "create", "--tenant", "acme", "--url", r.URL+"/in", "--event", "user_created,login_failure",
		"--description", "SIEM", "--allow-private", "--json")
	var created map[string]any
	if err != nil || json.Unmarshal([]byte(out), &created) != nil {
		t.Fatalf("create: %q %v", out, err)
	}
	id, _ := created["id"].(string)
	if s, _ := created["secret"].(string); !strings.HasPrefix(s, "whsec_") || created["tenant"] != "acme" ||
		fmt.Sprint(created["events"]) != "[login_failure user_created]" {
		t.Fatalf("created %v", created)
	}
	out, err = jeton(t, env, "", "webhook", "list", "--tenant", "acme", "--json")
	if err != nil || strings.Count(out, "\n") != 1 || !strings.Contains(out, id) || strings.Contains(out, "whsec_") {
		t.Fatalf("list: %q %v", out, err)
	}
	if out, err = jeton(t, env, "", "webhook", "list", "--json"); err != nil || out != "" {
		t.Fatalf("the global stream's list: %q %v", out, err)
	}
	out, err = jeton(t, env, "", "webhook", "update", "--tenant", "acme", id, "--disabled", "true", "--event", "*", "--allow-private", "--json")
	var updated map[string]any
	if err != nil || json.Unmarshal([]byte(out), &updated) != nil || updated["disabled"] != true || fmt.Sprint(updated["events"]) != "[*]" {
		t.Fatalf("update: %q %v", out, err)
	}
	out, err = jeton(t, env, "", "webhook", "rotate-secret", "--tenant", "acme", id, "--json")
	var rotated map[string]any
	if err != nil || json.Unmarshal([]byte(out), &rotated) != nil || rotated["secret"] == created["secret"] ||
		rotated["previous_secret_expires_at"] == nil {
		t.Fatalf("rotate-secret: %q %v", out, err)
	}
	// This process does not trust the receiver's certificate: the attempt gets as far as TLS.
	out, err = jeton(t, env, "", "webhook", "test", "--tenant", "acme", id, "--allow-private", "--json")
	if err != nil || !strings.Contains(out, `"delivered":false`) || !strings.Contains(out, "certificate") {
		t.Fatalf("test: %q %v", out, err)
	}
	if out, err = jeton(t, env, "", "webhook", "test", "--tenant", "acme", id, "--json"); err != nil || !strings.Contains(out, "not public") {
		t.Fatalf("test without --allow-private: %q %v", out, err)
	}
	if _, err = jeton(t, env, "", "webhook", "show", id, "--json"); err == nil {
		t.Fatal("the tenant's endpoint shown as the global stream's")
	}
	if out, err = jeton(t, env, "", "webhook", "delete", "--tenant", "acme", id, "--json"); err != nil || !strings.Contains(out, id) {
		t.Fatalf("delete: %q %v", out, err)
	}
	if _, err = jeton(t, env, "", "webhook", "show", "--tenant", "acme", id); err == nil {
		t.Fatal("shown after delete")
	}
}
