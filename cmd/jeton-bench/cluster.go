package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgSettings are given to the bench's own cluster on the postgres command line. The rest
// is PostgreSQL's default; every setting that matters is read back and reported.
func pgSettings(full bool) []string {
	shared := "1GB"
	if full {
		shared = "4GB"
	}
	return []string{
		"listen_addresses=127.0.0.1",
		"max_connections=300",
		"shared_buffers=" + shared,
		"max_wal_size=8GB",
		"checkpoint_timeout=30min",
		"shared_preload_libraries=pg_stat_statements",
		"pg_stat_statements.max=1000",
	}
}

// reportedSettings are read back with SHOW and written into the results.
var reportedSettings = []string{"server_version", "shared_buffers", "max_connections", "synchronous_commit",
	"fsync", "full_page_writes", "wal_level", "max_wal_size", "checkpoint_timeout", "effective_cache_size",
	"work_mem", "autovacuum", "jit", "shared_preload_libraries"}

// cluster is the bench's own PostgreSQL, run as a child process as the postgres OS user
// when the bench runs as root, in a temporary directory removed by stop.
type cluster struct {
	dir  string
	port int
	cmd  *exec.Cmd
	done chan error
}

// pgBinDir finds the PostgreSQL server binaries.
func pgBinDir() (string, error) {
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dir := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		return "", errors.New("no PostgreSQL server binaries (initdb) found: install them or pass --pg-url")
	}
	return filepath.Dir(matches[len(matches)-1]), nil
}

// asPostgres returns the credentials to run PostgreSQL with: the postgres OS user when we
// are root (initdb refuses root), else nil (ourselves).
func asPostgres() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs a postgres OS user for initdb: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// startCluster runs initdb in a new directory under parent and starts postgres on a free
// loopback port. The caller must call stop, which also removes the directory.
func startCluster(ctx context.Context, parent string, full bool, logf func(string, ...any)) (*cluster, error) {
	bin, err := pgBinDir()
	if err != nil {
		return nil, err
	}
	cred, err := asPostgres()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(parent, "pg-")
	if err != nil {
		return nil, err
	}
	c := &cluster{dir: dir}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			c.stop()
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		c.stop()
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	if c.port, err = freePort(); err != nil {
		c.stop()
		return nil, err
	}
	args := []string{"-D", data, "-p", strconv.Itoa(c.port), "-k", dir}
	for _, s := range pgSettings(full) {
		args = append(args, "-c", s)
	}
	logFile, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		c.stop()
		return nil, err
	}
	defer logFile.Close()
	c.cmd = exec.Command(filepath.Join(bin, "postgres"), args...)
	c.cmd.Stdout, c.cmd.Stderr = logFile, logFile
	c.cmd.Dir = dir
	// SIGQUIT is PostgreSQL's immediate shutdown: if the bench dies, so does its cluster.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	if err := c.cmd.Start(); err != nil {
		c.stop()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	c.done = make(chan error, 1)
	go func() { c.done <- c.cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, c.url("postgres"))
		if err == nil {
			conn.Close(ctx)
			break
		}
		select {
		case err := <-c.done:
			c.done <- err
			log, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
			c.stop()
			return nil, fmt.Errorf("postgres exited: %v\n%s", err, log)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			c.stop()
			return nil, fmt.Errorf("postgres did not accept connections: %w", err)
		}
	}
	logf("PostgreSQL started in %s on port %d", dir, c.port)
	return c, nil
}

// url returns the URL of database db on the cluster.
func (c *cluster) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, db)
}

// stop shuts the cluster down (fast shutdown, then kill) and removes its directory.
func (c *cluster) stop() {
	if c.cmd != nil && c.cmd.Process != nil {
		_ = c.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-c.done:
		case <-time.After(30 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	}
	_ = os.RemoveAll(c.dir)
}

// freePort returns a loopback TCP port nobody listens on right now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// withDatabase returns serverURL with its database replaced by db and extra query
// parameters (name, value pairs) added.
func withDatabase(serverURL, db string, params ...string) (string, error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", fmt.Errorf("--pg-url: %w", err)
	}
	u.Path = "/" + db
	q := u.Query()
	for i := 0; i+1 < len(params); i += 2 {
		q.Set(params[i], params[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// createDatabase creates db on the server (any previous one of that name is dropped).
func createDatabase(ctx context.Context, serverURL, db string) error {
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	name := pgx.Identifier{db}.Sanitize()
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return err
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+name)
	return err
}

// dropDatabase drops db, disconnecting whoever still uses it.
func dropDatabase(serverURL, db string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)")
	return err
}

// freeDisk returns the bytes available to us on the filesystem holding path.
func freeDisk(path string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// diskNeeded estimates what a run writes: about 1.2 KiB per live token with its session
// and indexes, 0.6 KiB per expired token per sweep round, WAL up to max_wal_size, logs.
func diskNeeded(live, sweep int64, rounds int) uint64 {
	return uint64(live)*1200 + uint64(sweep)*600*uint64(rounds) + 10<<30
}
