package api_test

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/jeton-auth/jeton/api"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/dbtest"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/service"
	"github.com/jeton-auth/jeton/tokens"
)

// BenchmarkIntrospect drives /introspect through the real handler chain (middleware, form,
// client authentication, the batched lookup on a real database, JSON) without a network,
// with a JSON access log to io.Discard as in production, so its allocations and CPU profile
// are the server's own: go test -run '^$' -bench Introspect -benchmem -cpuprofile cpu.out ./api
func BenchmarkIntrospect(b *testing.B) {
	ctx := context.Background()
	cfg := service.DefaultConfig()
	cfg.Hash = testkit.FastHash
	svc, err := service.New(db.New(dbtest.New(b)), cfg)
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
	rs, rsSecret, err := svc.CreateClient(ctx, actor, "a", service.ClientSpec{Name: "api", Introspect: true})
	if err != nil {
		b.Fatal(err)
	}
	app, appSecret, err := svc.CreateClient(ctx, actor, "a", service.ClientSpec{Name: "app",
		GrantTypes: []string{service.GrantPassword}, Scopes: []string{"read"}})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := svc.CreateUser(ctx, actor, "a", "alice", testkit.AlicePassword, nil); err != nil {
		b.Fatal(err)
	}
	ca, err := svc.AuthenticateClient(ctx, service.Credentials{ClientID: app.ID, Secret: appSecret})
	if err != nil {
		b.Fatal(err)
	}
	// A password-grant token, with a user and a session, as the bench's live tokens.
	tok, err := svc.PasswordGrant(ctx, ca, service.PasswordLogin{Username: "alice", Password: testkit.AlicePassword, Actor: actor})
	if err != nil {
		b.Fatal(err)
	}
	unknown, err := tokens.New(tokens.Access, rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	auth := basic(rs.ID, rsSecret)
	for _, bc := range []struct{ name, token, want string }{
		{"live", tok.AccessToken, `"active":true`},
		{"unknown", unknown, `{"active":false}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			body := url.Values{"token": {bc.token}}.Encode()
			b.ReportAllocs()
			b.SetParallelism(32)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest(http.MethodPost, "/introspect", strings.NewReader(body))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.Header.Set("Authorization", auth)
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), bc.want) {
						b.Errorf("%d %s", rec.Code, rec.Body)
						return
					}
				}
			})
		})
	}
}
