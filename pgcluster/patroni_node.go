package pgcluster

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Node is one PostgreSQL server and the Patroni that manages it.
type Node struct {
	Name string
	// Dir holds the data directory, the Unix socket, the configuration and patroni.log
	// (where PostgreSQL's log goes too).
	Dir     string
	PGPort  int
	APIPort int // Patroni's REST API

	config string // the configuration file
	proc   *process
}

// newNode writes a node's configuration in a new directory of h's.
func (h *HA) newNode(name, bin string, parameters map[string]any) (*Node, error) {
	n := &Node{Name: name, Dir: filepath.Join(h.Dir, name)}
	if err := os.Mkdir(n.Dir, 0o700); err != nil {
		return nil, err
	}
	if err := chownTo(n.Dir, h.cred); err != nil {
		return nil, err
	}
	var err error
	if n.PGPort, err = FreePort(); err != nil {
		return nil, err
	}
	if n.APIPort, err = FreePort(); err != nil {
		return nil, err
	}
	// JSON is YAML, which Patroni reads.
	b, err := json.MarshalIndent(h.nodeConfig(n, bin, parameters), "", "  ")
	if err != nil {
		return nil, err
	}
	n.config = filepath.Join(n.Dir, "patroni.yml")
	if err := os.WriteFile(n.config, b, 0o644); err != nil {
		return nil, err
	}
	n.proc = &process{path: h.tools.Patroni, args: []string{n.config}, dir: n.Dir, cred: h.cred,
		deathSig: syscall.SIGTERM, log: filepath.Join(n.Dir, "patroni.log"),
		env: []string{"PATH=/usr/bin:/bin", "HOME=" + n.Dir, "LC_ALL=C.UTF-8"}}
	return n, nil
}

// nodeConfig is a node's Patroni configuration: trust authentication on loopback for
// the postgres role (superuser, replication and pg_rewind), the dynamic configuration of
// DCS(parameters) to bootstrap with.
func (h *HA) nodeConfig(n *Node, bin string, parameters map[string]any) map[string]any {
	api := "127.0.0.1:" + strconv.Itoa(n.APIPort)
	postgres := map[string]any{"username": "postgres"}
	return map[string]any{
		"scope": h.Scope, "name": n.Name,
		"restapi": map[string]any{"listen": api, "connect_address": api},
		"etcd3":   map[string]any{"hosts": h.Etcd.Endpoint()},
		"bootstrap": map[string]any{"dcs": DCS(parameters),
			"initdb": []any{map[string]any{"encoding": "UTF8"}, "no-locale", "no-sync"}},
		"postgresql": map[string]any{
			"listen": n.Host(), "connect_address": n.Host(),
			"data_dir": filepath.Join(n.Dir, "data"), "bin_dir": bin, "pgpass": filepath.Join(n.Dir, "pgpass"),
			"authentication": map[string]any{"superuser": postgres, "replication": postgres, "rewind": postgres},
			"parameters":     map[string]any{"unix_socket_directories": n.Dir},
			"pg_hba": []string{"local all all trust", "host all all 127.0.0.1/32 trust",
				"host replication all 127.0.0.1/32 trust"},
		},
	}
}

// Host returns the node's PostgreSQL address, 127.0.0.1:PORT.
func (n *Node) Host() string { return "127.0.0.1:" + strconv.Itoa(n.PGPort) }

// URL returns the URL of database db on the node, as the postgres role.
func (n *Node) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", n.Host(), db)
}

// Start starts Patroni (again, after Stop or Kill), which starts PostgreSQL as its
// cluster decides; it does not wait.
func (n *Node) Start() error { return n.proc.start() }

// Stop stops Patroni with SIGTERM, which first shuts PostgreSQL down (and hands the
// leader lock over, if it held it).
func (n *Node) Stop() error { return n.proc.stop(syscall.SIGTERM, 2*time.Minute) }

// Kill ends Patroni, its PostgreSQL and the server's processes at once (SIGKILL), as the
// machine's death would.
func (n *Node) Kill() {
	pm := n.Postmaster()
	_ = n.proc.stop(syscall.SIGKILL, 10*time.Second)
	if pm != 0 {
		for _, pid := range ProcessTree(pm) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// KillPostmaster kills PostgreSQL's postmaster alone (SIGKILL), leaving Patroni to find
// out, and returns its pid (0 when none was running).
func (n *Node) KillPostmaster() int {
	pm := n.Postmaster()
	if pm != 0 {
		_ = syscall.Kill(pm, syscall.SIGKILL)
	}
	return pm
}

// Postmaster returns the pid of the node's running postmaster, 0 when there is none.
// Patroni starts it detached, so it is no child of ours: its pid comes from
// postmaster.pid.
func (n *Node) Postmaster() int {
	b, err := os.ReadFile(filepath.Join(n.Dir, "data", "postmaster.pid"))
	if err != nil {
		return 0
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		return 0
	}
	// A stale file may name a pid reused since by another program.
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
		return 0
	}
	return pid
}

// Writable reports whether the node's PostgreSQL accepts writes now.
func (n *Node) Writable(ctx context.Context) bool { return writable(ctx, n.URL("postgres")) }

// Role returns the role Patroni's REST API gives itself ("master" or "primary" for the
// leader, "replica"), without asking etcd.
func (n *Node) Role(ctx context.Context) (string, error) {
	var st struct{ Role, State string }
	if err := n.rest(ctx, "/patroni", &st); err != nil {
		return "", err
	}
	return st.Role, nil
}

// rest decodes the answer of Patroni's REST API at path.
func (n *Node) rest(ctx context.Context, path string, v any) error {
	return getJSON(ctx, "http://127.0.0.1:"+strconv.Itoa(n.APIPort)+path, v)
}

// LogTail returns the last n bytes of the node's log: Patroni's and PostgreSQL's.
func (n *Node) LogTail(size int) string { return n.proc.logTail(size) }
