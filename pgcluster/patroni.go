package pgcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoHATools means Patroni, etcd or HAProxy is missing; the error wrapping it names which.
var ErrNoHATools = errors.New("an HA cluster needs Patroni, etcd and HAProxy " +
	"(Debian: apt-get install patroni etcd-server haproxy, or make deps)")

// HATools are the programs of an HA cluster: Debian's patroni (run by /usr/bin/python3,
// the only Python its packages work with), etcd-server and haproxy.
type HATools struct {
	Patroni, Patronictl, Etcd, HAProxy string
}

// FindHATools returns the programs, or an error wrapping ErrNoHATools that names the
// missing ones. Debian's paths come first: Patroni must be the one Debian's Python runs.
func FindHATools() (HATools, error) {
	var missing []string
	find := func(name, path string) string {
		if _, err := os.Stat(path); err == nil {
			return path
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		missing = append(missing, name)
		return ""
	}
	t := HATools{Patroni: find("patroni", "/usr/bin/patroni"), Patronictl: find("patronictl", "/usr/bin/patronictl"),
		Etcd: find("etcd", "/usr/bin/etcd"), HAProxy: find("haproxy", "/usr/sbin/haproxy")}
	if len(missing) > 0 {
		return t, fmt.Errorf("%w: %s not found", ErrNoHATools, strings.Join(missing, ", "))
	}
	return t, nil
}

// HAOptions configure an HA cluster.
type HAOptions struct {
	// Parent is where the cluster's directory is made (default: os.TempDir()); the
	// postgres user must be able to traverse it.
	Parent string
	// Nodes is how many PostgreSQL servers Patroni runs (default 3).
	Nodes int
	// Parameters are PostgreSQL settings in Patroni's dynamic configuration, shared by
	// every node.
	Parameters map[string]any
	// Logf, when set, is told when things start and stop.
	Logf func(format string, args ...any)
}

// DCS returns the dynamic configuration an HA cluster is bootstrapped with, holding
// parameters: a 10 s leader lock renewed every second, synchronous replication, and
// failsafe mode, in which a leader that loses etcd stays primary as long as every member
// answers it.
func DCS(parameters map[string]any) map[string]any {
	return map[string]any{"ttl": 10, "loop_wait": 1, "retry_timeout": 4, "maximum_lag_on_failover": 1 << 20,
		"synchronous_mode": true, "failsafe_mode": true,
		"postgresql": map[string]any{"use_pg_rewind": true, "use_slots": true, "parameters": parameters}}
}

// HA is one etcd and PostgreSQL servers managed by Patroni, all on loopback ports and run
// as the postgres OS user when we are root.
type HA struct {
	Dir   string
	Scope string
	Etcd  *Etcd
	Nodes []*Node

	tools HATools
	cred  *syscall.Credential
	logf  func(string, ...any)
}

// StartHA starts etcd and the Patroni nodes and waits until the cluster is healthy (see
// WaitHealthy), at most three minutes. The caller must Remove it.
func StartHA(ctx context.Context, opts HAOptions) (*HA, error) {
	tools, err := FindHATools()
	if err != nil {
		return nil, err
	}
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	cred, err := Credential()
	if err != nil {
		return nil, err
	}
	h := &HA{Scope: "jeton", tools: tools, cred: cred, logf: opts.Logf}
	if h.logf == nil {
		h.logf = func(string, ...any) {}
	}
	if h.Dir, err = os.MkdirTemp(opts.Parent, "ha-"); err != nil {
		return nil, err
	}
	if err := chownTo(h.Dir, cred); err != nil {
		h.Remove()
		return nil, err
	}
	if h.Etcd, err = StartEtcd(ctx, h.Dir, tools, cred, h.logf); err != nil {
		h.Remove()
		return nil, err
	}
	nodes := opts.Nodes
	if nodes == 0 {
		nodes = 3
	}
	for i := range nodes {
		n, err := h.newNode(fmt.Sprintf("pg%d", i), bin, opts.Parameters)
		if err == nil {
			h.Nodes = append(h.Nodes, n)
			err = n.Start()
		}
		if err != nil {
			h.Remove()
			return nil, err
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := h.WaitHealthy(wctx); err != nil {
		err = fmt.Errorf("%w\n%s", err, h.Logs(2000))
		h.Remove()
		return nil, err
	}
	return h, nil
}

// Remove stops every node and etcd and deletes the cluster's directory.
func (h *HA) Remove() {
	for _, n := range h.Nodes {
		if err := n.Stop(); err != nil {
			h.logf("%s: %v", n.Name, err)
		}
		n.Kill() // whatever Patroni left running
	}
	if h.Etcd != nil {
		h.Etcd.Remove()
	}
	_ = os.RemoveAll(h.Dir)
}

// Hosts returns every node's PostgreSQL address, 127.0.0.1:PORT, in order.
func (h *HA) Hosts() []string {
	out := make([]string, len(h.Nodes))
	for i, n := range h.Nodes {
		out[i] = n.Host()
	}
	return out
}

// Node returns the node called name, nil when there is none.
func (h *HA) Node(name string) *Node {
	for _, n := range h.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Member is one node as Patroni's /cluster shows it.
type Member struct {
	Name     string `json:"name"`
	Role     string `json:"role"`  // leader, sync_standby, replica
	State    string `json:"state"` // running, streaming, stopped, starting, ...
	Timeline int    `json:"timeline"`
}

// Members returns the cluster as the first node that answers sees it in etcd.
func (h *HA) Members(ctx context.Context) ([]Member, error) {
	var errs []error
	for _, n := range h.Nodes {
		var c struct{ Members []Member }
		if err := n.rest(ctx, "/cluster", &c); err != nil {
			errs = append(errs, err)
			continue
		}
		return c.Members, nil
	}
	return nil, errors.Join(errs...)
}

// WaitHealthy waits until the cluster is whole: a leader that accepts writes, a
// synchronous standby, and every node running.
func (h *HA) WaitHealthy(ctx context.Context) error {
	var last string
	for {
		ms, err := h.Members(ctx)
		last = fmt.Sprint(ms, err)
		if err == nil && h.healthy(ctx, ms) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the Patroni cluster did not become healthy: %w; last seen %s", ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (h *HA) healthy(ctx context.Context, ms []Member) bool {
	leader, sync, up := "", false, 0
	for _, m := range ms {
		if m.State == "running" || m.State == "streaming" {
			up++
		}
		switch m.Role {
		case "leader":
			leader = m.Name
		case "sync_standby":
			sync = true
		}
	}
	if leader == "" || !sync || up != len(h.Nodes) {
		return false
	}
	n := h.Node(leader)
	return n != nil && n.Writable(ctx)
}

// Leader waits until a node other than not (by name; "" for any) leads and accepts
// writes, and returns it.
func (h *HA) Leader(ctx context.Context, not string) (*Node, error) {
	for {
		if ms, err := h.Members(ctx); err == nil {
			for _, m := range ms {
				if n := h.Node(m.Name); m.Role == "leader" && m.Name != not && n != nil && n.Writable(ctx) {
					return n, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no leader (other than %q) accepting writes: %w", not, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Switchover asks Patroni, through patronictl, to hand the leader's role to the
// synchronous standby, and returns once patronictl says it did.
func (h *HA) Switchover(ctx context.Context, leader *Node) error {
	cmd := exec.CommandContext(ctx, h.tools.Patronictl, "-c", leader.config, "switchover", "--leader", leader.Name,
		"--force", h.Scope)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + h.Dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: h.cred}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Successfully switched over") {
		return fmt.Errorf("patronictl switchover: %v\n%s", err, out)
	}
	return nil
}

// Logs returns the last n bytes of every node's log (Patroni's and its PostgreSQL's) and
// of etcd's.
func (h *HA) Logs(n int) string {
	var b strings.Builder
	for _, node := range h.Nodes {
		fmt.Fprintf(&b, "--- %s (Patroni and PostgreSQL)\n%s\n", node.Name, node.LogTail(n))
	}
	if h.Etcd != nil {
		fmt.Fprintf(&b, "--- etcd\n%s\n", h.Etcd.LogTail(n))
	}
	return b.String()
}

// writable reports whether the server at url (or behind it, through a proxy or a pooler)
// is a primary.
func writable(ctx context.Context, url string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return false
	}
	defer conn.Close(context.Background())
	var recovery bool
	// The simple protocol leaves no statement behind on a server connection that a
	// pgbouncer in transaction mode hands to the next client.
	return conn.QueryRow(ctx, "SELECT pg_is_in_recovery()", pgx.QueryExecModeSimpleProtocol).Scan(&recovery) == nil && !recovery
}

// getJSON decodes the JSON answer of a GET, which must be 200.
func getJSON(ctx context.Context, url string, v any) error {
	return get(ctx, url, 2*time.Second, func(body io.Reader) error { return json.NewDecoder(body).Decode(v) })
}

// get GETs url, which must answer 200 within limit, and hands the body to read (nil: the
// answer is all that counts).
func get(ctx context.Context, url string, limit time.Duration, read func(io.Reader) error) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if read == nil {
		return nil
	}
	return read(resp.Body)
}
