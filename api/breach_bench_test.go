package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jeton-auth/jeton/api"
	"github.com/jeton-auth/jeton/breach"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/dbtest"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/password"
	"github.com/jeton-auth/jeton/service"
)

// BenchmarkPasswordGrantBreachCheck runs the password grant through the real handler
// chain, with OWASP's argon2id parameters, without and with --breach-check-login (a
// filter of 1M synthetic entries): the check is one SHA-1 and three reads of the mapped
// filter per login, so the two should be within noise (target ≥ 0.98 of the rate).
// go test -run '^$' -bench PasswordGrantBreachCheck ./api
func BenchmarkPasswordGrantBreachCheck(b *testing.B) {
	list := benchBreachList(b)
	for _, check := range []bool{false, true} {
		name := "plain"
		if check {
			name = "breach-check-login"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			cfg := service.DefaultConfig()
			cfg.Hash, cfg.BreachCheckLogin = password.OWASP, check
			svc, err := service.New(db.New(dbtest.New(b)), cfg, service.WithBreachList(list))
			if err != nil {
				b.Fatal(err)
			}
			h, err := api.NewServer(api.Config{Issuer: issuer}, svc, slog.New(slog.NewJSONHandler(io.Discard, nil)))
			if err != nil {
				b.Fatal(err)
			}
			actor := db.Actor{Type: "cli", ID: "bench", Name: "cli:bench"}
			if _, err := svc.CreateTenant(ctx, actor, "a", "Tenant a"); err != nil {
				b.Fatal(err)
			}
			c, secret, err := svc.CreateClient(ctx, actor, "a", service.ClientSpec{Name: "app", GrantTypes: []string{"password"}})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := svc.CreateUser(ctx, actor, "a", "alice", testkit.AlicePassword, nil); err != nil {
				b.Fatal(err)
			}
			body := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {testkit.AlicePassword}}.Encode()
			b.ResetTimer()
			for range b.N {
				req := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Authorization", basic(c.ID, secret))
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
		})
	}
}

// benchBreachList is a filter of 1M random hashes.
func benchBreachList(b *testing.B) *breach.List {
	b.Helper()
	var buf bytes.Buffer
	var sum [20]byte
	r := mrand.New(mrand.NewChaCha8([32]byte{1}))
	for range 1_000_000 {
		for i := range sum {
			sum[i] = byte(r.Uint32())
		}
		fmt.Fprintf(&buf, "%X:1\n", sum)
	}
	path := filepath.Join(b.TempDir(), "breached.jbf")
	if _, err := breach.Import(&buf, path, b.TempDir(), breach.Progress{}); err != nil {
		b.Fatal(err)
	}
	l, err := breach.OpenList(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}
