package db

import (
	"context"
	"net"
	"slices"
	"strconv"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PrimaryOnly configures cfg so that the pool it opens holds connections to a primary that
// accepts writes, and nothing else, whatever the URL's target_session_attrs says:
//
//   - a new connection is kept only if its server is a primary and not read-only (from the
//     parameters PostgreSQL 14+ reports at connect, else with SHOW transaction_read_only),
//     so no token is ever read from a standby, which may lag behind a revocation;
//   - a pooled connection whose server has turned read-only since (reported after its
//     next statement or the pool's liveness ping) is closed when released or acquired,
//     and another one is made;
//   - a new connection tries first the host that last accepted one as a primary, so that
//     once an old primary is back as a replica, connections do not probe it first.
//
// It keeps hooks cfg already has, running them after its own checks.
func PrimaryOnly(cfg *pgxpool.Config) {
	p := &primaryHosts{resolved: map[string][]string{}}
	cc := cfg.ConnConfig
	if lookup := cc.LookupFunc; lookup != nil {
		cc.LookupFunc = func(ctx context.Context, host string) ([]string, error) {
			addrs, err := lookup(ctx, host)
			if err == nil {
				p.learn(host, addrs)
			}
			return addrs, err
		}
	}
	cc.ValidateConnect = p.validate
	before := cfg.BeforeConnect
	cfg.BeforeConnect = func(ctx context.Context, c *pgx.ConnConfig) error {
		if before != nil {
			if err := before(ctx, c); err != nil {
				return err
			}
		}
		p.order(&c.Config)
		return nil
	}
	prepare := cfg.PrepareConn
	cfg.PrepareConn = func(ctx context.Context, c *pgx.Conn) (bool, error) {
		if readOnly(c.PgConn()) {
			return false, nil // destroyed; the pool acquires another
		}
		if prepare != nil {
			return prepare(ctx, c)
		}
		return true, nil
	}
	release := cfg.AfterRelease
	cfg.AfterRelease = func(c *pgx.Conn) bool {
		if readOnly(c.PgConn()) {
			return false
		}
		return release == nil || release(c)
	}
}

// readOnly reports what the server last said of itself: a standby (in_hot_standby,
// PostgreSQL 14+) or read-only by default. Both parameters are reported to the client
// whenever they change, so a primary that was made read-only says so after the next
// statement.
func readOnly(c *pgconn.PgConn) bool {
	return c.ParameterStatus("in_hot_standby") == "on" || c.ParameterStatus("default_transaction_read_only") == "on"
}

// primaryHosts remembers which address last accepted a connection as a primary, and
// which addresses each host of the URL resolved to, to find that host again.
type primaryHosts struct {
	mu       sync.Mutex
	last     string              // "ip:port" of the last primary
	resolved map[string][]string // host -> its addresses at the last lookup
}

// validate is the pool's ValidateConnect: a primary that accepts writes, or an error that
// makes pgconn try the next host.
func (p *primaryHosts) validate(ctx context.Context, c *pgconn.PgConn) error {
	switch {
	case c.ParameterStatus("in_hot_standby") == "on":
		return pgconn.ErrStandbyConnection
	case readOnly(c):
		return pgconn.ErrReadOnlyConnection
	case c.ParameterStatus("in_hot_standby") == "":
		// Before PostgreSQL 14, or behind a pooler that does not pass the parameter on.
		if err := pgconn.ValidateConnectTargetSessionAttrsReadWrite(ctx, c); err != nil {
			return err
		}
	}
	if addr := c.Conn().RemoteAddr(); addr != nil {
		p.mu.Lock()
		p.last = addr.String()
		p.mu.Unlock()
	}
	return nil
}

func (p *primaryHosts) learn(host string, addrs []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.resolved[host] = addrs
}

// order moves the hosts of c that resolve to the last primary to the front, keeping the
// URL's order otherwise.
func (p *primaryHosts) order(c *pgconn.Config) {
	if len(c.Fallbacks) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ip, port, err := net.SplitHostPort(p.last)
	if err != nil {
		return
	}
	hosts := append([]*pgconn.FallbackConfig{{Host: c.Host, Port: c.Port, TLSConfig: c.TLSConfig}}, c.Fallbacks...)
	isLast := func(h *pgconn.FallbackConfig) bool {
		return strconv.Itoa(int(h.Port)) == port && (h.Host == ip || slices.Contains(p.resolved[h.Host], ip))
	}
	first := slices.IndexFunc(hosts, isLast)
	if first <= 0 {
		return
	}
	sorted := make([]*pgconn.FallbackConfig, 0, len(hosts))
	for _, want := range []bool{true, false} {
		for _, h := range hosts {
			if isLast(h) == want {
				sorted = append(sorted, h)
			}
		}
	}
	c.Host, c.Port, c.TLSConfig, c.Fallbacks = sorted[0].Host, sorted[0].Port, sorted[0].TLSConfig, sorted[1:]
}
