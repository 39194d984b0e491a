package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jeton-auth/jeton/dbtest"
	"github.com/jeton-auth/jeton/internal/testkit"
)

// TestServeListenFlags runs serve with the feed's delivery settings. With
// --listen-database-url on another database than --database-url, the LISTEN self-check's
// notification never arrives: serve warns, the metric and /readyz say so (still 200), and
// a revocation reaches an open stream all the same, through the poll of
// --feed-poll-interval. With --feed-poll-only it never listens and delivers by polling.
func TestServeListenFlags(t *testing.T) {
	for _, tc := range []struct {
		name     string
		env      func(dbURL string) []string
		warned   bool   // the self-check failed and said so
		wantFeed string // /readyz's feed
		wantOK   string // jeton_listen_ok of the revocation channel, "" for none
	}{
		{"direct", func(string) []string { return nil }, false, "listening", "1"},
		{"listen URL on another database", func(string) []string {
			return []string{"JETON_LISTEN_DATABASE_URL", dbtest.NewURL(t), "JETON_FEED_POLL_INTERVAL", "200ms"}
		}, true, "polling", "0"},
		{"poll only", func(string) []string {
			return []string{"JETON_FEED_POLL_ONLY", "true", "JETON_FEED_POLL_INTERVAL", "200ms"}
		}, false, "polling", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dbURL := dbtest.NewURL(t)
			admin := withEnv(fastArgon, "JETON_DATABASE_URL", dbURL)
			if _, err := jeton(t, admin, "", "tenant", "create", "acme"); err != nil {
				t.Fatal(err)
			}
			if _, err := jeton(t, admin, "correct horse battery staple\n", "user", "create", "alice", "--tenant", "acme", "--password-stdin"); err != nil {
				t.Fatal(err)
			}
			rs := createClient(t, admin, "--name", "api", "--introspect")

			ctx, cancel := context.WithCancel(context.Background())
			var stderr testkit.Buffer
			done := make(chan error, 1)
			env := withEnv(map[string]string{"JETON_DATABASE_URL": dbURL, "JETON_ISSUER": "http://127.0.0.1",
				"JETON_ADDR": "127.0.0.1:0", "JETON_OPS_ADDR": "127.0.0.1:0", "JETON_SWEEP_INTERVAL": "0",
				"JETON_SHUTDOWN_DRAIN": "0s"}, tc.env(dbURL)...)
			go func() {
				done <- run(ctx, []string{"jeton", "serve"}, func(k string) string { return env[k] }, strings.NewReader(""), &testkit.Buffer{}, &stderr)
			}()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("serve: %v", err)
				}
			}()
			public := "http://" + waitListening(t, &stderr)
			ops := "http://" + opsListeningRE.FindStringSubmatch(stderr.String())[1]
			hc := &http.Client{Timeout: 10 * time.Second}
			get := func(u string) string {
				t.Helper()
				resp, err := hc.Get(u)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("%s: %d %s", u, resp.StatusCode, b)
				}
				return string(b)
			}
			// Wait for the self-check's outcome (none in poll-only mode).
			feed := ""
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				var r map[string]string
				if err := json.Unmarshal([]byte(get(public+"/readyz")), &r); err != nil {
					t.Fatal(err)
				}
				if feed = r["feed"]; feed != "starting" {
					break
				}
			}
			if feed != tc.wantFeed {
				t.Errorf("/readyz feed %q, want %q", feed, tc.wantFeed)
			}
			if got := strings.Contains(stderr.String(), "LISTEN self-check failed"); got != tc.warned {
				t.Errorf("self-check warning logged: %v, want %v; stderr:\n%s", got, tc.warned, stderr.String())
			}
			okRE := regexp.MustCompile(`(?m)^jeton_listen_ok\{channel="jeton_revocations"\} (\d)$`)
			got := ""
			if m := okRE.FindStringSubmatch(get(ops + "/metrics")); m != nil {
				got = m[1]
			}
			if got != tc.wantOK {
				t.Errorf("jeton_listen_ok of the revocation channel %q, want %q", got, tc.wantOK)
			}

			// A revocation reaches an open stream, by notification or by poll.
			req, err := http.NewRequest(http.MethodGet, public+"/revocations", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.SetBasicAuth(rs["client_id"], rs["client_secret"])
			resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			lines := make(chan string, 100)
			go func() {
				defer close(lines)
				for sc := bufio.NewScanner(resp.Body); sc.Scan(); {
					lines <- sc.Text()
				}
			}()
			await := func(prefix string) {
				t.Helper()
				for {
					select {
					case l, ok := <-lines:
						if !ok {
							t.Fatalf("the stream ended before %q", prefix)
						}
						if strings.HasPrefix(l, prefix) {
							return
						}
					case <-time.After(30 * time.Second):
						t.Fatalf("no %q on the stream for 30s", prefix)
					}
				}
			}
			await("event: ready")
			if _, err := jeton(t, admin, "", "user", "disable", "alice", "--tenant", "acme"); err != nil {
				t.Fatal(err)
			}
			await("event: revoke")
		})
	}
}
