// Package pgcluster runs throwaway PostgreSQL clusters from the server binaries installed on
// this machine: initdb in a directory of their own, postgres as a child process on a free
// loopback port, streaming standbys from pg_basebackup, restarts and promotions. The bench
// (cmd/jeton-bench) and the chaos suite (chaos) use it; they never touch a server they did
// not start.
//
// initdb and postgres refuse to run as root, so when the caller is root every PostgreSQL
// process runs as the postgres OS user, in directories that user owns.
package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoBinaries means no PostgreSQL server binaries were found; its message says what to
// install.
var ErrNoBinaries = errors.New("PostgreSQL server binaries (initdb, postgres, pg_ctl, pg_basebackup) not found: " +
	"install them (Debian: apt-get install postgresql) or put their pg_config on PATH")

// BinDir returns the directory of the PostgreSQL server binaries: `pg_config --bindir` when
// it holds initdb, else the newest /usr/lib/postgresql/*/bin (Debian puts them there, off
// PATH). It returns ErrNoBinaries when there are none.
func BinDir() (string, error) {
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dir := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		return "", ErrNoBinaries
	}
	// Newest major version first: 15 before 9.6, which a string sort would not give.
	major := func(p string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(filepath.Dir(p))), 64)
		return v
	}
	sort.Slice(matches, func(i, j int) bool { return major(matches[i]) > major(matches[j]) })
	return filepath.Dir(matches[0]), nil
}

// Credential returns who PostgreSQL runs as: the postgres OS user when we are root, else
// nil (ourselves). It returns an error when we are root and there is no postgres user.
func Credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running PostgreSQL as root is refused, and there is no postgres OS user to run it as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// FreePort returns a loopback TCP port nobody listens on right now.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Options configure a new cluster.
type Options struct {
	// Parent is where the cluster's directory is made (default: os.TempDir()). The
	// postgres user must be able to traverse it.
	Parent string
	// Settings are name=value pairs given to postgres with -c at every start. They win
	// over the configuration files, so anything to be changed later with ALTER SYSTEM
	// (synchronous_standby_names, say) must not be here.
	Settings []string
	// Logf, when set, is told when the cluster starts and stops.
	Logf func(format string, args ...any)
}

// Mode is how a cluster is stopped: PostgreSQL's shutdown modes.
type Mode int

const (
	// Fast rolls back open transactions, disconnects clients and shuts down cleanly
	// (SIGINT; pg_ctl stop -m fast).
	Fast Mode = iota
	// Immediate quits at once without a checkpoint, as a crash would; the next start
	// recovers from the WAL (SIGQUIT; pg_ctl stop -m immediate).
	Immediate
)

// Cluster is one PostgreSQL server run by this process. Its methods are safe to call from
// several goroutines.
type Cluster struct {
	// Dir is the cluster's own directory: data/, the Unix socket, postgres.log.
	Dir string
	// Port is its loopback TCP port, kept across restarts.
	Port int

	bin      string
	cred     *syscall.Credential
	settings []string
	logf     func(string, ...any)

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan error // receives postgres's exit, then is closed
}

// Init runs initdb (trust authentication for the postgres role, UTF8, C locale) in a new
// directory under opts.Parent and starts the cluster on a free loopback port. The caller
// must Remove it. Errors carry initdb's or postgres's output.
func Init(ctx context.Context, opts Options) (*Cluster, error) {
	c, err := newCluster(opts)
	if err != nil {
		return nil, err
	}
	out, err := c.run(ctx, filepath.Join(c.bin, "initdb"), "-D", c.Data(), "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions")
	if err != nil {
		c.Remove()
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	if err := c.Start(ctx); err != nil {
		c.Remove()
		return nil, err
	}
	return c, nil
}

// Standby makes a streaming standby of c with pg_basebackup (its -R writes standby.signal
// and primary_conninfo) in a new directory under opts.Parent and starts it on a free port.
// postgresql.auto.conf is copied from c, so settings made there with ALTER SYSTEM
// (synchronous_standby_names) carry over, as they would between identically configured
// servers. The caller must Remove it. Errors carry pg_basebackup's or postgres's output.
func (c *Cluster) Standby(ctx context.Context, opts Options) (*Cluster, error) {
	s, err := newCluster(opts)
	if err != nil {
		return nil, err
	}
	out, err := s.run(ctx, filepath.Join(s.bin, "pg_basebackup"), "-h", "127.0.0.1", "-p", strconv.Itoa(c.Port),
		"-U", "postgres", "-D", s.Data(), "-R", "-X", "stream", "-c", "fast", "--no-sync")
	if err != nil {
		s.Remove()
		return nil, fmt.Errorf("pg_basebackup: %w\n%s", err, out)
	}
	if err := s.Start(ctx); err != nil {
		s.Remove()
		return nil, err
	}
	return s, nil
}

func newCluster(opts Options) (*Cluster, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	dir, port, cred, err := serverDir(opts.Parent, "pg-")
	if err != nil {
		return nil, err
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return &Cluster{Dir: dir, Port: port, bin: bin, cred: cred, settings: opts.Settings, logf: logf}, nil
}

// serverDir makes a directory under parent for a server that must not run as root, owned
// by whom it runs as (Credential), and picks a free port for it.
func serverDir(parent, prefix string) (dir string, port int, cred *syscall.Credential, err error) {
	if cred, err = Credential(); err != nil {
		return "", 0, nil, err
	}
	if port, err = FreePort(); err != nil {
		return "", 0, nil, err
	}
	if dir, err = os.MkdirTemp(parent, prefix); err != nil {
		return "", 0, nil, err
	}
	if err := chownTo(dir, cred); err != nil {
		_ = os.RemoveAll(dir)
		return "", 0, nil, err
	}
	return dir, port, cred, nil
}

// traversable checks that the user of cred may enter dir and each of its parents, which
// exec reports only as "permission denied".
func traversable(dir string, cred *syscall.Credential) error {
	for d := dir; ; d = filepath.Dir(d) {
		var st syscall.Stat_t
		if err := syscall.Stat(d, &st); err != nil {
			return err
		}
		ok := st.Mode&0o001 != 0 || (st.Uid == cred.Uid && st.Mode&0o100 != 0) ||
			(st.Gid == cred.Gid && st.Mode&0o010 != 0)
		if !ok {
			return fmt.Errorf("pgcluster: the postgres OS user cannot enter %s (mode %o): give Options.Parent a directory it can traverse", d, st.Mode&0o777)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// run runs a PostgreSQL tool as the cluster's user in its directory.
func (c *Cluster) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Pdeathsig: syscall.SIGKILL}
	cmd.Dir = c.Dir
	return cmd.CombinedOutput()
}

// Data returns the data directory.
func (c *Cluster) Data() string { return filepath.Join(c.Dir, "data") }

// Host returns the cluster's address, 127.0.0.1:PORT.
func (c *Cluster) Host() string { return "127.0.0.1:" + strconv.Itoa(c.Port) }

// URL returns the URL of database db on the cluster, as the postgres role.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", c.Host(), db)
}

// Start starts postgres (again, after Stop) and waits until it accepts connections, at
// most a minute. Starting a running cluster is an error. postgres gets SIGQUIT, an
// immediate shutdown, if the thread that started it dies, so a crashed caller leaves no
// server behind.
func (c *Cluster) Start(ctx context.Context) error {
	c.mu.Lock()
	if c.cmd != nil {
		c.mu.Unlock()
		return errors.New("pgcluster: already running")
	}
	args := []string{"-D", c.Data(), "-p", strconv.Itoa(c.Port), "-k", c.Dir, "-c", "listen_addresses=127.0.0.1"}
	for _, s := range c.settings {
		args = append(args, "-c", s)
	}
	logFile, err := os.OpenFile(filepath.Join(c.Dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.mu.Unlock()
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(filepath.Join(c.bin, "postgres"), args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Dir = c.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Pdeathsig: syscall.SIGQUIT}
	if err := cmd.Start(); err != nil {
		c.mu.Unlock()
		return fmt.Errorf("postgres: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); close(done) }()
	c.cmd, c.done = cmd, done
	c.mu.Unlock()

	deadline := time.Now().Add(time.Minute)
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(cctx, c.URL("postgres"))
		cancel()
		if err == nil {
			conn.Close(ctx)
			c.logf("PostgreSQL started in %s on port %d", c.Dir, c.Port)
			return nil
		}
		select {
		case <-done:
			c.forget(cmd)
			return fmt.Errorf("postgres exited during start-up:\n%s", c.LogTail(4000))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			_ = c.Stop(Immediate)
			return fmt.Errorf("postgres did not accept connections: %w\n%s", err, c.LogTail(4000))
		}
	}
}

// forget clears the running process if it is still cmd.
func (c *Cluster) forget(cmd *exec.Cmd) {
	c.mu.Lock()
	if c.cmd == cmd {
		c.cmd, c.done = nil, nil
	}
	c.mu.Unlock()
}

// Running reports whether postgres was started and has not exited.
func (c *Cluster) Running() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return alive(c.done)
}

// Stop shuts postgres down in mode and waits for it to exit; after a minute it is
// killed. Stopping a stopped cluster does nothing.
func (c *Cluster) Stop(mode Mode) error {
	c.mu.Lock()
	cmd, done := c.cmd, c.done
	c.mu.Unlock()
	if cmd == nil {
		return nil
	}
	sig := syscall.SIGINT
	if mode == Immediate {
		sig = syscall.SIGQUIT
	}
	_ = cmd.Process.Signal(sig)
	var err error
	select {
	case <-done:
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		<-done
		err = errors.New("postgres did not stop within a minute and was killed")
	}
	c.forget(cmd)
	c.logf("PostgreSQL on port %d stopped", c.Port)
	return err
}

// Signal sends sig to the postmaster, for faults Stop does not cover (SIGSTOP, SIGCONT).
func (c *Cluster) Signal(sig syscall.Signal) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil {
		return errors.New("pgcluster: not running")
	}
	return c.cmd.Process.Signal(sig)
}

// Pid returns the postmaster's process id, or 0 when it is not running.
func (c *Cluster) Pid() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil {
		return 0
	}
	return c.cmd.Process.Pid
}

// Promote ends a standby's recovery with `pg_ctl promote` and waits until it accepts
// writes (at most a minute). It returns pg_ctl's output on failure.
func (c *Cluster) Promote(ctx context.Context) error {
	out, err := c.run(ctx, filepath.Join(c.bin, "pg_ctl"), "promote", "-D", c.Data(), "-w", "-t", "60")
	if err != nil {
		return fmt.Errorf("pg_ctl promote: %w\n%s", err, out)
	}
	return nil
}

// Remove stops the cluster (fast) and deletes its directory.
func (c *Cluster) Remove() {
	_ = c.Stop(Fast)
	_ = os.RemoveAll(c.Dir)
}

// LogTail returns the last n bytes of the server log.
func (c *Cluster) LogTail(n int) string { return fileTail(filepath.Join(c.Dir, "postgres.log"), n) }
