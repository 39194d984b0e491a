package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jeton-auth/jeton/dbtest"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/password"
)

// serve's hashing workers run this test binary (password.ProcessWorkers): here it serves
// as one, as the jeton binary does.
func TestMain(m *testing.M) {
	if os.Getenv(password.WorkerEnv) != "" {
		hashWorker()
	}
	if os.Getenv(serveChildEnv) != "" {
		serveChild()
	}
	os.Exit(m.Run())
}

// jeton runs the command line as the binary would, with environ as its whole environment,
// and logs what it wrote to stderr when it fails.
func jeton(t *testing.T, environ map[string]string, stdin string, args ...string) (stdout string, err error) {
	t.Helper()
	stdout, stderr, err := runCLI(environ, stdin, args...)
	if err != nil {
		t.Logf("jeton %v: %v\nstderr: %s", args, err, stderr)
	}
	return stdout, err
}

// fastArgon keeps CLI tests quick (testkit.FastHash); serve refuses these, the admin
// commands accept them.
var fastArgon = map[string]string{"JETON_ARGON2_MEMORY": strconv.Itoa(int(testkit.FastHash.Memory)),
	"JETON_ARGON2_TIME": strconv.Itoa(int(testkit.FastHash.Time))}

func withEnv(base map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func TestMigrateUpDownUp(t *testing.T) {
	env := map[string]string{"JETON_DATABASE_URL": dbtest.NewURL(t)}
	// The newest migration is the one down rolls back.
	names, err := filepath.Glob("../../migrations/*.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("migrations: %v, %v", names, err)
	}
	newest := filepath.Base(names[len(names)-1])
	num := newest[:5]
	for _, step := range []struct{ action, want string }{
		{"status", "applied  " + num},
		{"down", "rolled back " + newest},
		{"status", "pending  " + num},
		{"up", "applied " + newest},
		{"status", "applied  " + num},
	} {
		out, err := jeton(t, env, "", "migrate", step.action)
		if err != nil || !strings.Contains(out, step.want) {
			t.Fatalf("migrate %s: %q, %v; want %q", step.action, out, err, step.want)
		}
	}
}

func TestAdminCommandsJSON(t *testing.T) {
	env := withEnv(fastArgon, "JETON_DATABASE_URL", dbtest.NewURL(t))
	out, err := jeton(t, env, "", "tenant", "create", "acme", "--name", "Acme Inc", "--json")
	if err != nil || strings.TrimSpace(out) != `{"slug":"acme","name":"Acme Inc"}` {
		t.Fatalf("tenant create: %q %v", out, err)
	}
	out, err = jeton(t, env, "", "client", "create", "--tenant", "acme", "--name", "app", "--grant", "password",
		"--scope", "read write", "--json")
	var c map[string]string
	if err != nil || json.Unmarshal([]byte(out), &c) != nil || !strings.HasPrefix(c["client_id"], "jc_") ||
		!strings.HasPrefix(c["client_secret"], "jcs_") || c["tenant"] != "acme" {
		t.Fatalf("client create: %q %v", out, err)
	}
	out, err = jeton(t, env, "", "client", "create", "--tenant", "acme", "--name", "spa", "--public", "--grant", "password", "--json")
	var pub map[string]string
	if err != nil || json.Unmarshal([]byte(out), &pub) != nil || pub["client_secret"] != "" {
		t.Fatalf("public client create: %q %v", out, err)
	}
	out, err = jeton(t, env, "correct horse battery staple\n", "user", "create", "--tenant", "acme", "--username", "Alice",
		"--password-stdin", "--json")
	var u map[string]string
	if err != nil || json.Unmarshal([]byte(out), &u) != nil || u["username"] != "alice" || u["tenant"] != "acme" || u["id"] == "" {
		t.Fatalf("user create: %q %v", out, err)
	}
	if _, err := jeton(t, env, "short\n", "user", "create", "--tenant", "acme", "--username", "bob", "--password-stdin"); err == nil {
		t.Fatal("a 5-character password was accepted")
	}
	if _, err := jeton(t, env, "", "user", "create", "--tenant", "acme", "--username", "bob"); err == nil {
		t.Fatal("user create without --password-stdin was accepted")
	}
	for _, args := range [][]string{
		{"user", "disable", "--tenant", "acme", "--username", "alice"},
		{"user", "enable", "--tenant", "acme", "--username", "alice"},
		{"tenant", "update", "acme", "--access-ttl", "5m", "--refresh-reuse-grace", "10s"},
		{"client", "update", "--tenant", "acme", "--client", c["client_id"], "--grant", "password,refresh_token"},
		{"user", "delete", "--tenant", "acme", "--username", u["id"]},
	} {
		if _, err := jeton(t, env, "", args...); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	if _, err := jeton(t, env, "", "tenant", "update", "acme", "--refresh-reuse-grace", "2m"); err == nil {
		t.Fatal("a 2-minute reuse grace was accepted")
	}
}

var curlRE = regexp.MustCompile(`client_id=(jc_\w+)\s+client_secret=(jcs_\w+)`)

// TestDevTwiceOnSameDatabase: each start is idempotent and rotates the demo credentials.
func TestDevTwiceOnSameDatabase(t *testing.T) {
	env := withEnv(fastArgon, "JETON_DEV_DATABASE_URL", dbtest.NewURL(t))
	first, err := jeton(t, env, "", "dev", "--seed-only")
	if err != nil {
		t.Fatal(err)
	}
	second, err := jeton(t, env, "", "dev", "--seed-only")
	if err != nil {
		t.Fatal(err)
	}
	a, b := curlRE.FindAllStringSubmatch(first, -1), curlRE.FindAllStringSubmatch(second, -1)
	if len(a) != 2 || len(b) != 2 {
		t.Fatalf("want two clients printed each time:\n%s\n%s", first, second)
	}
	for i := range a {
		if a[i][1] != b[i][1] {
			t.Errorf("client %d changed id: %s then %s", i, a[i][1], b[i][1])
		}
		if a[i][2] == b[i][2] {
			t.Errorf("client %d secret did not rotate", i)
		}
	}
	if !strings.Contains(second, "/token") || !strings.Contains(second, "/introspect") || !strings.Contains(second, "/revoke") {
		t.Fatalf("curl lines missing:\n%s", second)
	}
}

func TestDevRefusesUnmarkedDatabaseWithTenants(t *testing.T) {
	dbURL := dbtest.NewURL(t)
	if _, err := jeton(t, withEnv(fastArgon, "JETON_DATABASE_URL", dbURL), "", "tenant", "create", "prod"); err != nil {
		t.Fatal(err)
	}
	if _, err := jeton(t, withEnv(fastArgon, "JETON_DEV_DATABASE_URL", dbURL), "", "dev", "--seed-only"); err == nil ||
		!strings.Contains(err.Error(), "not marked") {
		t.Fatalf("dev seeded a database that is not a dev database: %v", err)
	}
}

func TestDevIgnoresDatabaseURL(t *testing.T) {
	// JETON_DATABASE_URL points at a server that does not exist; dev must not even look.
	env := withEnv(fastArgon, "JETON_DEV_DATABASE_URL", dbtest.NewURL(t), "JETON_DATABASE_URL", "postgres://nobody@127.0.0.1:1/x")
	if _, err := jeton(t, env, "", "dev", "--seed-only"); err != nil {
		t.Fatal(err)
	}
}

func TestServeRefusesInsecureSetups(t *testing.T) {
	base := map[string]string{"JETON_DATABASE_URL": "postgres://unused@127.0.0.1:1/x"}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no issuer", []string{"serve"}, "issuer"},
		{"http issuer off loopback", []string{"serve", "--issuer", "http://auth.example.com"}, "https"},
		{"plain http on all interfaces", []string{"serve", "--issuer", "https://auth.example.com", "--addr", "0.0.0.0:8080"}, "refusing plain HTTP"},
		{"behind proxy without trusted proxy", []string{"serve", "--issuer", "https://auth.example.com", "--addr", "0.0.0.0:8080", "--behind-tls-proxy"}, "refusing plain HTTP"},
		{"issuer with query", []string{"serve", "--issuer", "https://auth.example.com/?x=1"}, "query"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := jeton(t, base, "", c.args...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
		})
	}
	// The flag's environment variable works like the flag.
	if _, err := jeton(t, withEnv(base, "JETON_ISSUER", "http://auth.example.com"), "", "serve"); err == nil ||
		!strings.Contains(err.Error(), "https") {
		t.Fatalf("JETON_ISSUER was not read: %v", err)
	}
}

// TestServeOverTLS runs the real serve command with --tls-cert and walks token →
// introspect → revoke over TLS.
func TestServeOverTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	dbURL := dbtest.NewURL(t)
	admin := withEnv(fastArgon, "JETON_DATABASE_URL", dbURL)
	if _, err := jeton(t, admin, "", "tenant", "create", "acme"); err != nil {
		t.Fatal(err)
	}
	app := createClient(t, admin, "--name", "app", "--grant", "password")
	rs := createClient(t, admin, "--name", "api", "--introspect")
	if _, err := jeton(t, admin, "correct horse battery staple\n", "user", "create", "--tenant", "acme",
		"--username", "alice", "--password-stdin"); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var stderr testkit.Buffer
	done := make(chan error, 1)
	env := map[string]string{"JETON_DATABASE_URL": dbURL, "JETON_ISSUER": "https://jeton.test",
		"JETON_TLS_CERT": certFile, "JETON_TLS_KEY": keyFile, "JETON_ADDR": "127.0.0.1:0", "JETON_OPS_ADDR": "127.0.0.1:0",
		"JETON_SWEEP_INTERVAL": "0", "JETON_SHUTDOWN_DRAIN": "0s",
		// Hashing at the lowest CPU priority can starve on a busy shared machine: this test
		// is about TLS.
		"JETON_HASH_PROCESSES": "false", "JETON_REQUEST_TIMEOUT": "30s"}
	go func() {
		done <- run(ctx, []string{"jeton", "serve"}, func(k string) string { return env[k] }, strings.NewReader(""), &testkit.Buffer{}, &stderr)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	addr := waitListening(t, &stderr)

	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}}
	post := func(c map[string]string, form url.Values) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, "https://"+addr+"/"+form.Get("_path"), strings.NewReader(func() string { form.Del("_path"); return form.Encode() }()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(c["client_id"], c["client_secret"])
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	status, tok := post(app, url.Values{"_path": {"token"}, "grant_type": {"password"}, "username": {"alice"}, "password": {"correct horse battery staple"}})
	if status != 200 {
		t.Fatalf("token over TLS: %d %v", status, tok)
	}
	at := tok["access_token"].(string)
	if _, in := post(rs, url.Values{"_path": {"introspect"}, "token": {at}}); in["active"] != true || in["iss"] != "https://jeton.test" {
		t.Fatalf("introspect over TLS: %v", in)
	}
	if status, _ := post(app, url.Values{"_path": {"revoke"}, "token": {at}}); status != 200 {
		t.Fatalf("revoke over TLS: %d", status)
	}
	if _, in := post(rs, url.Values{"_path": {"introspect"}, "token": {at}}); in["active"] != false {
		t.Fatalf("introspect after revoke: %v", in)
	}
	// TLS 1.1 is refused.
	old := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MaxVersion: tls.VersionTLS11}
	if conn, err := tls.Dial("tcp", addr, old); err == nil {
		conn.Close()
		t.Fatal("TLS 1.1 handshake succeeded")
	}
}

func createClient(t *testing.T, env map[string]string, args ...string) map[string]string {
	t.Helper()
	out, err := jeton(t, env, "", append([]string{"client", "create", "--tenant", "acme", "--json"}, args...)...)
	var c map[string]string
	if err != nil || json.Unmarshal([]byte(out), &c) != nil {
		t.Fatalf("client create: %q %v", out, err)
	}
	return c
}

var listeningRE = regexp.MustCompile(`"msg":"listening","addr":"([^"]+)"`)

func waitListening(t *testing.T, stderr *testkit.Buffer) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := listeningRE.FindStringSubmatch(stderr.String()); m != nil {
			return m[1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("server never listened; stderr:\n%s", stderr.String())
	return ""
}

// selfSigned writes a certificate for 127.0.0.1 and returns its files and a pool trusting it.
func selfSigned(t *testing.T, dir string) (string, string, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "jeton test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestDevWithoutContainerFallback: a jeton dev built without the dev tag that finds no
// server says that this build has no container fallback and how to get one.
func TestDevWithoutContainerFallback(t *testing.T) {
	f := devFinder("")
	if f.StartContainer != nil {
		t.Skip("built with the dev tag: this build has the container fallback")
	}
	f.LocalURL = "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable"
	_, stop, err := devDatabaseURL(context.Background(), f)
	stop()
	if err == nil || !strings.Contains(err.Error(), "no container fallback") || !strings.Contains(err.Error(), "make run") ||
		strings.Contains(err.Error(), "Docker") {
		t.Fatalf("dev without a server or the container fallback: %v", err)
	}
}
