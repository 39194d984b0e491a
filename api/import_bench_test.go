package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"

	"github.com/jeton-auth/jeton/api"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/dbtest"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/password"
	"github.com/jeton-auth/jeton/service"
)

const benchBcrypt = "$2b$10$yTkjpxgnCEjGGfVwyY6l/OSeLxSyxIM6KKq8lvG8Rosnp2CKRvr32" // "imported bench password"

// bcryptUsers generates n import lines of bcrypt users from first on, held nowhere.
type bcryptUsers struct {
	first, n, i int
	buf         []byte
}

func (r *bcryptUsers) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.i == r.n {
			return 0, io.EOF
		}
		r.buf = fmt.Appendf(nil, `{"username":"bench%08d","password_hash":%q}`+"\n", r.first+r.i, benchBcrypt)
		r.i++
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// benchServer is jeton over a fresh database with tenant a, an app client and a global
// admin key, for benchmarks.
type benchServer struct {
	srv      *httptest.Server
	svc      *service.Service
	key, app string
	basic    string
}

func newBenchServer(b *testing.B, hash password.Params) *benchServer {
	ctx := context.Background()
	cfg := service.DefaultConfig()
	cfg.Hash = hash
	svc, err := service.New(db.New(dbtest.New(b)), cfg)
	if err != nil {
		b.Fatal(err)
	}
	h, err := api.NewServer(api.Config{Issuer: issuer}, svc, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	actor := db.Actor{Type: "cli", ID: "bench", Name: "cli:bench"}
	if _, err := svc.CreateTenant(ctx, actor, "a", "Tenant a"); err != nil {
		b.Fatal(err)
	}
	_, key, err := svc.CreateAdminKey(ctx, actor, "", "bench")
	if err != nil {
		b.Fatal(err)
	}
	c, secret, err := svc.CreateClient(ctx, actor, "a", service.ClientSpec{Name: "app", GrantTypes: []string{"password"}})
	if err != nil {
		b.Fatal(err)
	}
	return &benchServer{srv: srv, svc: svc, key: key, basic: basic(c.ID, secret)}
}

func (s *benchServer) importUsers(b *testing.B, r io.Reader) {
	req, _ := http.NewRequest("POST", s.srv.URL+tenantPath("a", "users", "import"), r)
	req.Header.Set("Authorization", "Bearer "+s.key)
	req.Header.Set("Content-Type", "application/x-ndjson")
	s.wantOK(b, req)
}

// wantOK sends req and fails unless the answer is 200.
func (s *benchServer) wantOK(b *testing.B, req *http.Request) {
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("%s: %d %s", req.URL.Path, resp.StatusCode, body)
	}
}

func (s *benchServer) login(b *testing.B, username, pw string) {
	form := url.Values{"grant_type": {"password"}, "username": {username}, "password": {pw}}
	req, _ := http.NewRequest("POST", s.srv.URL+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", s.basic)
	s.wantOK(b, req)
}

// BenchmarkImportBcryptUsers imports 10,000 bcrypt users per op through the HTTP API and
// reports users/s and the Go heap in use at the end (client and server in one process).
// -benchtime=100x imports 1,000,000:
// go test -run '^$' -bench ImportBcryptUsers -benchtime 100x ./api
func BenchmarkImportBcryptUsers(b *testing.B) {
	s := newBenchServer(b, testkit.FastHash)
	const per = 10_000
	var peak uint64
	b.ResetTimer()
	for i := range b.N {
		s.importUsers(b, &bcryptUsers{first: i * per, n: per})
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
	}
	b.ReportMetric(float64(b.N*per)/b.Elapsed().Seconds(), "users/s")
	b.ReportMetric(float64(peak>>20), "peak-heap-MiB")
}

// BenchmarkFirstLogin compares the first login of an imported bcrypt user (cost 10, then
// the rehash to argon2id) with the login of a user jeton hashed, at jeton's default
// argon2id parameters (OWASP's).
func BenchmarkFirstLogin(b *testing.B) {
	const pw = "imported bench password"
	b.Run("imported-bcrypt", func(b *testing.B) {
		s := newBenchServer(b, password.OWASP)
		s.importUsers(b, &bcryptUsers{n: b.N})
		b.ResetTimer()
		for i := range b.N {
			s.login(b, fmt.Sprintf("bench%08d", i), pw)
		}
	})
	b.Run("native-argon2id", func(b *testing.B) {
		s := newBenchServer(b, password.OWASP)
		if _, err := s.svc.CreateUser(context.Background(), db.Actor{Type: "cli", ID: "bench"}, "a", "native", pw, nil); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for range b.N {
			s.login(b, "native", pw)
		}
	})
}
