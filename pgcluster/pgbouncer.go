package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// ErrNoPgbouncer means the pgbouncer binary is missing; its message says what to install.
var ErrNoPgbouncer = errors.New("pgbouncer not found: install it (Debian: apt-get install pgbouncer, or make deps)")

// PgbouncerOptions configure a pgbouncer.
type PgbouncerOptions struct {
	// Parent is where its directory is made (default: os.TempDir()); the postgres user
	// must be able to traverse it.
	Parent string
	// Upstream is the PostgreSQL server every database name is sent to, host:port
	// (default 127.0.0.1:5432, the machine's server; a Cluster's Host for one the caller
	// started).
	Upstream string
	// PoolSize is default_pool_size, the server connections of one database and user
	// (default 20).
	PoolSize int
	// MaxClientConn is max_client_conn (default 1000).
	MaxClientConn int
}

// Pgbouncer is one pgbouncer in transaction pooling mode, on a loopback port, in front of
// one PostgreSQL server: any database name a client asks for is a pool on that server (a
// [databases] wildcard), so databases created after it started are reachable too.
type Pgbouncer struct {
	Dir  string
	Port int
	// Config is the pgbouncer.ini it runs with.
	Config string

	proc *process
}

// PgbouncerConfig is the pgbouncer.ini of a pgbouncer on 127.0.0.1:port in front of
// upstream (host:port), with dir holding its auth file. It is the configuration
// docs/OPERATIONS.md (Behind pgbouncer) quotes, apart from authentication: trust, as the
// test servers have it.
func PgbouncerConfig(dir string, port int, upstream string, poolSize, maxClientConn int) (string, error) {
	host, upPort, err := net.SplitHostPort(upstream)
	if err != nil {
		return "", fmt.Errorf("pgbouncer upstream: %w", err)
	}
	return fmt.Sprintf(`[databases]
; Every database name goes to the same server, including those created later.
* = host=%s port=%s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = transaction
max_client_conn = %d
default_pool_size = %d
; pgx sends these at start-up; pgbouncer refuses unknown startup parameters.
ignore_startup_parameters = extra_float_digits,search_path
`, host, upPort, port, filepath.Join(dir, "userlist.txt"), maxClientConn, poolSize), nil
}

// PgbouncerPath returns the pgbouncer binary, Debian's /usr/sbin/pgbouncer (off a
// non-root PATH) first, or ErrNoPgbouncer.
func PgbouncerPath() (string, error) {
	if _, err := os.Stat("/usr/sbin/pgbouncer"); err == nil {
		return "/usr/sbin/pgbouncer", nil
	}
	if p, err := exec.LookPath("pgbouncer"); err == nil {
		return p, nil
	}
	return "", ErrNoPgbouncer
}

// StartPgbouncer starts a pgbouncer in transaction mode on a free loopback port, as the
// postgres OS user when we are root (pgbouncer refuses to run as root), and waits until a
// query through it is answered, at most a minute. The caller must Remove it. It returns
// ErrNoPgbouncer when the binary is missing, and errors carrying pgbouncer's log.
func StartPgbouncer(ctx context.Context, opts PgbouncerOptions) (*Pgbouncer, error) {
	path, err := PgbouncerPath()
	if err != nil {
		return nil, err
	}
	if opts.Upstream == "" {
		opts.Upstream = "127.0.0.1:5432"
	}
	if opts.PoolSize <= 0 {
		opts.PoolSize = 20
	}
	if opts.MaxClientConn <= 0 {
		opts.MaxClientConn = 1000
	}
	dir, port, cred, err := serverDir(opts.Parent, "pgbouncer-")
	if err != nil {
		return nil, err
	}
	p := &Pgbouncer{Dir: dir, Port: port}
	if p.Config, err = PgbouncerConfig(dir, port, opts.Upstream, opts.PoolSize, opts.MaxClientConn); err != nil {
		p.Remove()
		return nil, err
	}
	ini := filepath.Join(dir, "pgbouncer.ini")
	for name, content := range map[string]string{ini: p.Config, filepath.Join(dir, "userlist.txt"): `"postgres" ""` + "\n"} {
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			p.Remove()
			return nil, err
		}
	}
	p.proc = &process{path: path, args: []string{ini}, dir: dir, cred: cred, deathSig: syscall.SIGKILL,
		log: filepath.Join(dir, "pgbouncer.log"), env: []string{"PATH=/usr/bin:/bin"}}
	if err := p.proc.start(); err != nil {
		p.Remove()
		return nil, err
	}
	answers := func() bool { return writable(ctx, p.URL("postgres")) }
	if err := p.proc.waitFor(ctx, "pgbouncer did not answer within a minute", 50*time.Millisecond, answers); err != nil {
		p.Remove()
		return nil, err
	}
	return p, nil
}

// Host returns pgbouncer's address, 127.0.0.1:PORT.
func (p *Pgbouncer) Host() string { return "127.0.0.1:" + strconv.Itoa(p.Port) }

// URL returns the URL of database db through pgbouncer, as the postgres role. pgx's
// default query mode (named prepared statements, cached per connection) breaks in
// transaction mode: callers add a default_query_exec_mode that works there.
func (p *Pgbouncer) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", p.Host(), db)
}

// LogTail returns the last n bytes of pgbouncer's log.
func (p *Pgbouncer) LogTail(n int) string {
	if p.proc == nil {
		return ""
	}
	return p.proc.logTail(n)
}

// Remove stops pgbouncer and deletes its directory.
func (p *Pgbouncer) Remove() {
	if p.proc != nil {
		_ = p.proc.stop(syscall.SIGINT, 10*time.Second)
	}
	_ = os.RemoveAll(p.Dir)
}
