package db_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/puddle/v2"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/dbtest"
)

// TestTranslateUnavailable: every way the database can be away, over capacity or out of
// time is ErrUnavailable, with its cause still there for errors.Is and errors.As; an error
// of the query itself, or one whose outcome is unknown, is not.
func TestTranslateUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"request deadline", context.DeadlineExceeded, true},
		{"pool closed at shutdown", puddle.ErrClosedPool, true},
		{"connection closed under a query", pgconn.ErrConnClosed, true},
		{"server went away mid-message", io.ErrUnexpectedEOF, true},
		{"server closed the connection", io.EOF, true},
		{"network", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, true},
		{"connection refused", connectError(t), true},
		{"pool acquire timed out", acquireTimeout(t), true},
		{"pg_terminate_backend or shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"another backend crashed", &pgconn.PgError{Code: "57P02"}, true},
		{"starting up or shutting down", &pgconn.PgError{Code: "57P03"}, true},
		{"idle session timeout", &pgconn.PgError{Code: "57P05"}, true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"cannot connect now", &pgconn.PgError{Code: "08001"}, true},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"disk full", &pgconn.PgError{Code: "53100"}, true},
		{"out of memory", &pgconn.PgError{Code: "53200"}, true},
		{"statement timeout", &pgconn.PgError{Code: "57014"}, true},
		{"lock timeout", &pgconn.PgError{Code: "55P03"}, true},
		{"a standby, mid-failover", &pgconn.PgError{Code: "25006"}, true},
		{"deadlock", &pgconn.PgError{Code: "40P01"}, true},
		{"serialization failure", &pgconn.PgError{Code: "40001"}, true},
		{"commit outcome unknown", &pgconn.PgError{Code: "40003"}, false},
		{"integrity constraint violation at commit", &pgconn.PgError{Code: "40002"}, false},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"foreign key violation", &pgconn.PgError{Code: "23503"}, false},
		{"syntax error", &pgconn.PgError{Code: "42601"}, false},
		{"database dropped", &pgconn.PgError{Code: "57P04"}, false},
		{"no rows", pgx.ErrNoRows, false},
		{"client went away", context.Canceled, false},
		{"anything else", errors.New("boom"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := db.Translate("issue token", fmt.Errorf("query: %w", tc.err))
			if got := errors.Is(err, db.ErrUnavailable); got != tc.want {
				t.Fatalf("translate(%v) = %v: unavailable %v, want %v", tc.err, err, got, tc.want)
			}
			if tc.want && !errors.Is(err, tc.err) {
				t.Errorf("translate(%v) = %v lost its cause", tc.err, err)
			}
			again := db.Translate("outer", err)
			if errors.Is(again, db.ErrUnavailable) != tc.want || strings.Count(again.Error(), db.ErrUnavailable.Error()) > 1 {
				t.Errorf("translated twice: %v", again)
			}
		})
	}
}

// connectError is what pgx returns when nothing listens at the database's address.
func connectError(t *testing.T) error {
	t.Helper()
	_, err := pgx.Connect(context.Background(), "postgres://jeton@"+closedPort(t)+"/jeton?sslmode=disable&connect_timeout=5")
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("connecting to a closed port: %v, want a *pgconn.ConnectError", err)
	}
	return err
}

// acquireTimeout is what a query returns when its deadline passes while every connection
// of the pool is taken.
func acquireTimeout(t *testing.T) error {
	t.Helper()
	pool := dbtest.NewWithConfig(t, func(c *pgxpool.Config) { c.MaxConns = 1 })
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	qctx, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	_, err = pool.Exec(qctx, `SELECT 1`)
	if err == nil {
		t.Fatal("a query ran on a pool whose only connection was taken")
	}
	return err
}

// closedPort returns an address on which nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestMethodsReportUnavailable: with the database down, every kind of call a Store makes
// (a single row, rows, a batch, a transaction, a pooled connection of its own, the
// introspection batcher, the feed's LISTEN) returns ErrUnavailable.
func TestMethodsReportUnavailable(t *testing.T) {
	pool, err := pgxpool.New(context.Background(), "postgres://jeton@"+closedPort(t)+"/jeton?sslmode=disable&connect_timeout=5")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s := db.New(pool)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"ping", func() error { return s.Ping(ctx) }},
		{"one row", func() error { _, err := s.TenantBySlug(ctx, "a"); return err }},
		{"rows", func() error { _, err := s.ListTenantsPage(ctx, "", "", 10); return err }},
		{"batch", func() error {
			_, err := s.ReserveLogin(ctx, db.LoginCounters{Username: "alice", IP: "192.0.2.1"}, db.LoginLimits{}, time.Now())
			return err
		}},
		{"transaction", func() error { _, err := s.CreateTenant(ctx, "a", "A", ev("tenant_created")); return err }},
		{"a transaction under a lock", func() error {
			_, err := s.WithXactLock(ctx, 1, func(context.Context, *db.Store) error { return nil })
			return err
		}},
		{"introspection", func() error {
			_, err := s.Introspect(ctx, db.IntrospectQuery{ClientID: "jc_x", Now: time.Now()})
			return err
		}},
		{"introspection, caller only", func() error {
			_, err := s.Introspect(ctx, db.IntrospectQuery{CallerOnly: true, ClientID: "jc_x", Now: time.Now()})
			return err
		}},
		{"listen", func() error { _, err := s.Listen(ctx, db.RevocationChannel); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, db.ErrUnavailable) {
				t.Errorf("%v, want ErrUnavailable", err)
			}
		})
	}
}

// TestPoolRouting: introspection, the revocation feed, readiness and the sweeper run on
// the main pool, everything else on the token pool, whichever of the two is down.
func TestPoolRouting(t *testing.T) {
	up := dbtest.New(t)
	down, err := pgxpool.New(context.Background(), "postgres://jeton@"+closedPort(t)+"/jeton?sslmode=disable&connect_timeout=5")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(down.Close)
	ctx := context.Background()
	calls := []struct {
		name string
		main bool
		call func(*db.Store) error
	}{
		{"ping", true, func(s *db.Store) error { return s.Ping(ctx) }},
		{"introspect", true, func(s *db.Store) error {
			_, err := s.Introspect(ctx, db.IntrospectQuery{ClientID: "jc_x", Now: t0})
			return err
		}},
		{"introspect, caller only", true, func(s *db.Store) error {
			_, err := s.Introspect(ctx, db.IntrospectQuery{CallerOnly: true, ClientID: "jc_x", Now: t0})
			return err
		}},
		{"revocation head", true, func(s *db.Store) error { _, err := s.RevocationHead(ctx); return err }},
		{"revocations after", true, func(s *db.Store) error { _, err := s.RevocationsAfter(ctx, 0, 10); return err }},
		{"tenant revocations", true, func(s *db.Store) error {
			_, err := s.TenantRevocations(ctx, uuid.New(), 0, 10, 10)
			return err
		}},
		{"listen", true, func(s *db.Store) error {
			l, err := s.Listen(ctx, db.RevocationChannel)
			if err == nil {
				err = l.Close(ctx)
			}
			return err
		}},
		{"advisory lock", true, func(s *db.Store) error {
			_, err := s.WithXactLock(ctx, 1, func(context.Context, *db.Store) error { return nil })
			return err
		}},
		{"sweep", true, func(s *db.Store) error { _, err := s.SweepExpiredTokens(ctx, t0, 10); return err }},
		{"purge deleted tenants", true, func(s *db.Store) error { _, err := s.PurgeDeletedTenants(ctx, 10); return err }},
		{"client for auth", false, func(s *db.Store) error {
			_, err := s.ClientForAuth(ctx, "jc_x", t0)
			return notFoundIsFine(err)
		}},
		{"origin allowed", false, func(s *db.Store) error { _, err := s.OriginAllowed(ctx, "https://a.example"); return err }},
		{"admin key", false, func(s *db.Store) error { _, err := s.AdminKeyByHash(ctx, randomHash(t)); return notFoundIsFine(err) }},
		{"token", false, func(s *db.Store) error {
			_, err := s.TokenByHash(ctx, uuid.New(), randomHash(t))
			return notFoundIsFine(err)
		}},
		{"revoke token", false, func(s *db.Store) error {
			_, err := s.RevokeToken(ctx, uuid.New(), randomHash(t), ev("token_revoked"))
			return err
		}},
		{"reserve login", false, func(s *db.Store) error {
			_, err := s.ReserveLogin(ctx, db.LoginCounters{TenantID: uuid.New(), Username: "alice", IP: "192.0.2.1"},
				db.LoginLimits{BackoffAfter: 5, UserLimit: 100, IPLimit: 1000, Window: time.Hour}, t0)
			return err
		}},
		{"create tenant", false, func(s *db.Store) error {
			_, err := s.CreateTenant(ctx, "a"+uuid.NewString()[:8], "A", ev("tenant_created"))
			return err
		}},
		{"list events", false, func(s *db.Store) error { _, err := s.ListEvents(ctx, nil, db.EventFilter{Limit: 10}); return err }},
	}
	for _, layout := range []struct {
		name        string
		main, token *pgxpool.Pool
	}{
		{"token pool down", up, down},
		{"main pool down", down, up},
	} {
		s := db.New(layout.main, db.WithTokenPool(layout.token))
		for _, c := range calls {
			t.Run(layout.name+"/"+c.name, func(t *testing.T) {
				err := c.call(s)
				if onDown := (layout.main == down) == c.main; onDown != errors.Is(err, db.ErrUnavailable) || !onDown && err != nil {
					t.Errorf("%v; want it on the %s pool", err, map[bool]string{true: "main", false: "token"}[c.main])
				}
			})
		}
	}
}

func notFoundIsFine(err error) error {
	if errors.Is(err, db.ErrNotFound) {
		return nil
	}
	return err
}
