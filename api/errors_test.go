package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/password"
)

// TestUnavailable: every way the database can be away or out of time (which db decides,
// as db.ErrUnavailable: see db's TestTranslateUnavailable for each SQLSTATE and error
// kind), a request timeout and a failed hashing worker are a 503 with Retry-After
// (temporarily_unavailable, or the admin API's unavailable problem), never a 500; an error
// of the query itself stays a 500.
func TestUnavailable(t *testing.T) {
	down := downStore(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"request deadline", context.DeadlineExceeded, true},
		{"database down, one row", func() error { _, err := down.TenantBySlug(ctx, "a"); return err }(), true},
		{"database down, a transaction", func() error {
			_, err := down.CreateTenant(ctx, "a", "A", db.Event{Kind: "tenant_created"})
			return err
		}(), true},
		{"database down, introspection", func() error {
			_, err := down.Introspect(ctx, db.IntrospectQuery{ClientID: "jc_x"})
			return err
		}(), true},
		{"database unavailable", fmt.Errorf("list tenants: %w", db.ErrUnavailable), true},
		{"hashing worker died", &password.WorkerError{Err: errors.New("exit status 2")}, true},
		{"anything else", errors.New("boom"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := fmt.Errorf("issue token: %w", tc.err)
			if got := unavailable(err); got != tc.want {
				t.Fatalf("unavailable(%v) = %v, want %v", err, got, tc.want)
			}
			oe, _ := oauthErrorOf(err)
			p, _ := toProblem(err)
			wantStatus := http.StatusInternalServerError
			if tc.want {
				wantStatus = http.StatusServiceUnavailable
			}
			if oe.Status != wantStatus || p.Status != wantStatus {
				t.Errorf("OAuth %d %s, admin %d %s; want %d", oe.Status, oe.Code, p.Status, p.Type, wantStatus)
			}
		})
	}
}

// TestConnectionLost: a feed stream whose client's connection fails under a write ended
// as streams do, not by a fault.
func TestConnectionLost(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"write deadline", &net.OpError{Op: "write", Net: "tcp", Err: os.ErrDeadlineExceeded}, true},
		{"reset", &net.OpError{Op: "write", Net: "tcp", Err: syscall.ECONNRESET}, true},
		{"closed", io.EOF, true},
		{"cut mid-message", io.ErrUnexpectedEOF, true},
		{"anything else", errors.New("boom"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := connectionLost(fmt.Errorf("write: %w", tc.err)); got != tc.want {
				t.Errorf("connectionLost(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// downStore is a store whose database refuses every connection.
func downStore(t *testing.T) *db.Store {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), "postgres://jeton@"+refusedAddr(t)+"/jeton?sslmode=disable&connect_timeout=5")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return db.New(pool)
}

// refusedAddr returns an address nothing listens on: connections are refused.
func refusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
