package db_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/dbtest"
)

// A read-only server (a standby, or a primary made read-only mid-failover) refuses writes
// with SQLSTATE 25006: that is ErrUnavailable, which clients see as a 503 to retry.
func TestReadOnlyIsUnavailable(t *testing.T) {
	pool := dbtest.NewWithConfig(t, func(c *pgxpool.Config) {
		c.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	})
	_, err := db.New(pool).CreateTenant(t.Context(), "a", "A", ev("tenant_created"))
	var pg *pgconn.PgError
	if !errors.Is(err, db.ErrUnavailable) || !errors.As(err, &pg) || pg.Code != "25006" {
		t.Fatalf("CreateTenant on a read-only server: %v, want ErrUnavailable from 25006", err)
	}
}

// PrimaryOnly connects to no read-only server, whatever the URL asks for: the connection
// is refused as unavailable.
func TestPrimaryOnlyRefusesReadOnly(t *testing.T) {
	pool := dbtest.NewWithConfig(t, func(c *pgxpool.Config) {
		c.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
		db.PrimaryOnly(c)
	})
	err := db.New(pool).Ping(t.Context())
	if !errors.Is(err, db.ErrUnavailable) || !errors.Is(err, pgconn.ErrReadOnlyConnection) {
		t.Fatalf("Ping through a read-only server: %v, want ErrUnavailable from a refused read-only connection", err)
	}
}

// A pooled connection whose server turned read-only is closed once it says so, and the
// next query gets a new connection that accepts writes; a plain pool keeps it.
func TestPrimaryOnlyDropsReadOnlyConnection(t *testing.T) {
	for _, tc := range []struct {
		name        string
		primaryOnly bool
		wantSame    bool
	}{
		{"plain pool", false, true},
		{"PrimaryOnly", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			pool := dbtest.NewWithConfig(t, func(c *pgxpool.Config) {
				c.MaxConns = 1
				if tc.primaryOnly {
					db.PrimaryOnly(c)
				}
			})
			conn, err := pool.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pid := conn.Conn().PgConn().PID()
			// The session's own SET stands for a server made read-only under it: PostgreSQL
			// reports either change to the client the same way.
			if _, err := conn.Exec(ctx, "SET default_transaction_read_only = on"); err != nil {
				t.Fatal(err)
			}
			conn.Release()
			var readOnly string
			var next uint32
			if err := pool.QueryRow(ctx, "SELECT current_setting('transaction_read_only'), pg_backend_pid()").
				Scan(&readOnly, &next); err != nil {
				t.Fatal(err)
			}
			if same := next == pid; same != tc.wantSame || (readOnly == "on") != tc.wantSame {
				t.Errorf("after the server turned read-only: same backend %v, read-only %s; want same backend %v",
					same, readOnly, tc.wantSame)
			}
		})
	}
}

// PrimaryOnly tries first the host that last took a connection: with a multi-host URL
// whose first host was away, new connections keep going to the second one once the first
// is back, until the second one fails.
func TestPrimaryOnlyPrefersLastPrimary(t *testing.T) {
	cfg, err := pgxpool.ParseConfig(dbtest.NewURL(t))
	if err != nil {
		t.Fatal(err)
	}
	cc := cfg.ConnConfig
	server := net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port)))
	a, b := newForwarder(t, server), newForwarder(t, server)
	// Every host twice when the URL asks for TLS then plain (sslmode=prefer).
	orig := append([]*pgconn.FallbackConfig{{Host: cc.Host, Port: cc.Port, TLSConfig: cc.TLSConfig}}, cc.Fallbacks...)
	var hosts []*pgconn.FallbackConfig
	for _, f := range []*forwarder{a, b} {
		for _, o := range orig {
			hosts = append(hosts, &pgconn.FallbackConfig{Host: "127.0.0.1", Port: f.port, TLSConfig: o.TLSConfig})
		}
	}
	cc.Host, cc.Port, cc.TLSConfig, cc.Fallbacks = hosts[0].Host, hosts[0].Port, hosts[0].TLSConfig, hosts[1:]
	cfg.MaxConns = 1
	db.PrimaryOnly(cfg)
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	connect := func(step string, wantA, wantB int32) {
		t.Helper()
		pool.Reset()
		if _, err := pool.Exec(t.Context(), "SELECT 1"); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if gotA, gotB := a.served.Load(), b.served.Load(); gotA != wantA || gotB != wantB {
			t.Fatalf("%s: connections through the first host %d, the second %d; want %d, %d", step, gotA, gotB, wantA, wantB)
		}
	}
	a.down.Store(true)
	connect("first host away", 0, 1)
	a.down.Store(false)
	connect("first host back", 0, 2)
	connect("again", 0, 3)
	b.down.Store(true)
	connect("second host away", 1, 3)
	b.down.Store(false)
	connect("second host back", 2, 3)
}

// forwarder relays TCP connections to a server; while down it closes each at once, as a
// host that is away would fail the connection attempt.
type forwarder struct {
	port   uint16
	down   atomic.Bool
	served atomic.Int32 // connections relayed
}

func newForwarder(t *testing.T, server string) *forwarder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &forwarder{port: uint16(ln.Addr().(*net.TCPAddr).Port)}
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if f.down.Load() {
				c.Close()
				continue
			}
			f.served.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				relay(ctx, c, server)
			}()
		}
	}()
	return f
}

// relay copies between c and a new connection to server until either side closes or ctx
// ends.
func relay(ctx context.Context, c net.Conn, server string) {
	defer c.Close()
	s, err := (&net.Dialer{}).DialContext(ctx, "tcp", server)
	if err != nil {
		return
	}
	defer s.Close()
	stop := context.AfterFunc(ctx, func() { c.Close(); s.Close() })
	defer stop()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(s, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, s); done <- struct{}{} }()
	<-done
}
