package ginrs_test

import (
	"crypto/rand"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jeton-auth/jeton/rs"
	"github.com/jeton-auth/jeton/rs/ginrs"
)

// mint returns a well-formed access token, as jeton makes them.
func mint(t *testing.T) string {
	t.Helper()
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	enc := func(n *big.Int, width int) string {
		out := make([]byte, width)
		rem, base := new(big.Int), big.NewInt(62)
		for i := width - 1; i >= 0; i-- {
			n.QuoRem(n, base, rem)
			out[i] = alphabet[rem.Int64()]
		}
		return string(out)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	body := enc(new(big.Int).SetBytes(b), 43)
	return "jat_" + body + enc(big.NewInt(int64(crc32.ChecksumIEEE([]byte(body)))), 6)
}

func TestMiddleware(t *testing.T) {
	live, dead := mint(t), mint(t)
	var calls atomic.Int64
	jeton := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/introspect" {
			http.NotFound(w, r)
			return
		}
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if r.PostFormValue("token") != live {
			fmt.Fprint(w, `{"active":false}`)
			return
		}
		fmt.Fprint(w, `{"active":true,"scope":"read","client_id":"jc_app","username":"alice","sub":"u1","exp":4102444800,"iat":1,"tenant":"demo","sid":"s1"}`)
	}))
	defer jeton.Close()
	c, err := rs.New(rs.Config{URL: jeton.URL, ClientID: "jc_rs", ClientSecret: "jcs_x", Realm: "notes",
		Now:    func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	handler := func(g *gin.Context) {
		tok, ok := ginrs.FromContext(g)
		if !ok {
			g.Status(http.StatusInternalServerError)
			return
		}
		g.String(http.StatusOK, "%s %s %s", tok.Username, tok.Sid, strings.Join(tok.Scope, ","))
	}
	r.GET("/me", ginrs.Middleware(c), handler)
	r.GET("/notes", ginrs.Middleware(c, rs.RequireScopes("read")), handler)
	r.POST("/notes", ginrs.Middleware(c, rs.RequireScopes("write")), handler)

	tests := []struct {
		name, method, path, auth string
		status                   int
		challenge, body          string
	}{
		{"no token", "GET", "/me", "", 401, `Bearer realm="notes"`, ""},
		{"malformed", "GET", "/me", "Bearer jat_x", 401, `Bearer realm="notes", error="invalid_token", error_description="the access token is malformed"`, ""},
		{"not active", "GET", "/me", "Bearer " + dead, 401, `Bearer realm="notes", error="invalid_token", error_description="the access token is not active"`, ""},
		{"live", "GET", "/me", "Bearer " + live, 200, "", "alice s1 read"},
		{"scope held", "GET", "/notes", "Bearer " + live, 200, "", "alice s1 read"},
		{"scope missing", "POST", "/notes", "Bearer " + live, 403,
			`Bearer realm="notes", error="insufficient_scope", error_description="the access token lacks a required scope", scope="write"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Errorf("status %d, want %d", rec.Code, tt.status)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate\n got %s\nwant %s", got, tt.challenge)
			}
			if tt.body != "" && rec.Body.String() != tt.body {
				t.Errorf("body %q, want %q", rec.Body.String(), tt.body)
			}
		})
	}
	// dead (negative TTL) and live (fallback TTL: no feed here, and the clock stands still)
	// were each asked once.
	if n := calls.Load(); n != 2 {
		t.Errorf("%d introspection calls, want 2", n)
	}
}
