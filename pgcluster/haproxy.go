package pgcluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// HAProxy is one TCP proxy in front of an HA cluster that sends every connection to the
// node whose Patroni answers 200 to GET /primary, as Patroni's documentation sets it up.
type HAProxy struct {
	Port int
	// Config is the configuration it runs with.
	Config string

	proc *process
}

// StartHAProxy starts HAProxy over h's nodes on a free loopback port and waits until
// connections through it reach the leader alone, at most a minute. The caller must Remove it.
func (h *HA) StartHAProxy(ctx context.Context) (*HAProxy, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	p := &HAProxy{Port: port, Config: haproxyConfig(port, h.Nodes)}
	path := filepath.Join(h.Dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(p.Config), 0o644); err != nil {
		return nil, err
	}
	p.proc = &process{path: h.tools.HAProxy, args: []string{"-db", "-f", path}, dir: h.Dir, cred: h.cred,
		deathSig: syscall.SIGKILL, log: filepath.Join(h.Dir, "haproxy.log"), env: []string{"PATH=/usr/bin:/bin"}}
	if err := p.proc.start(); err != nil {
		return nil, err
	}
	// HAProxy counts a server up until its first check says otherwise, and balances round
	// robin: only twice as many writable connections in a row as there are nodes say that
	// every standby is out.
	url := fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable&connect_timeout=2", p.Host())
	leaderOnly := func() bool {
		for range 2 * len(h.Nodes) {
			if !writable(ctx, url) {
				return false
			}
		}
		return true
	}
	if err := p.proc.waitFor(ctx, "no primary through HAProxy within a minute", 100*time.Millisecond, leaderOnly); err != nil {
		p.Remove()
		return nil, err
	}
	return p, nil
}

// haproxyConfig checks each node's /primary every second: one failed check takes a node
// out and closes its connections, one passed check puts it in.
func haproxyConfig(port int, nodes []*Node) string {
	var b strings.Builder
	fmt.Fprintf(&b, `global
    maxconn 1000

defaults
    mode tcp
    timeout connect 2s
    timeout client 30m
    timeout server 30m
    timeout check 1s

listen primary
    bind 127.0.0.1:%d
    option httpchk OPTIONS /primary
    http-check expect status 200
    default-server inter 1s fall 1 rise 1 on-marked-down shutdown-sessions
`, port)
	for _, n := range nodes {
		fmt.Fprintf(&b, "    server %s %s maxconn 500 check port %d\n", n.Name, n.Host(), n.APIPort)
	}
	return b.String()
}

// Host returns the proxy's address, 127.0.0.1:PORT.
func (p *HAProxy) Host() string { return "127.0.0.1:" + strconv.Itoa(p.Port) }

// Remove stops the proxy.
func (p *HAProxy) Remove() { _ = p.proc.stop(syscall.SIGTERM, 10*time.Second) }
