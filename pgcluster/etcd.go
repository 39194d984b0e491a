package pgcluster

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Etcd is a one-member etcd cluster on loopback ports, the store Patroni keeps its leader
// lock in. It can be stopped and started again on the same data.
type Etcd struct {
	// Dir holds the data and etcd.log.
	Dir string
	// ClientPort is where clients (Patroni, patronictl) connect.
	ClientPort int

	proc *process
	logf func(string, ...any)
}

// StartEtcd starts etcd in a new directory under parent, run as cred's user (nil:
// ourselves), and waits until it answers.
func StartEtcd(ctx context.Context, parent string, tools HATools, cred *syscall.Credential, logf func(string, ...any)) (*Etcd, error) {
	dir, err := os.MkdirTemp(parent, "etcd-")
	if err != nil {
		return nil, err
	}
	if err := chownTo(dir, cred); err != nil {
		return nil, err
	}
	client, err := FreePort()
	if err != nil {
		return nil, err
	}
	peer, err := FreePort()
	if err != nil {
		return nil, err
	}
	clientURL := "http://127.0.0.1:" + strconv.Itoa(client)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peer)
	e := &Etcd{Dir: dir, ClientPort: client, logf: logf}
	e.proc = &process{path: tools.Etcd, dir: dir, cred: cred, deathSig: syscall.SIGKILL,
		log: filepath.Join(dir, "etcd.log"), env: []string{"PATH=/usr/bin:/bin", "HOME=" + dir},
		args: []string{"--name", "e0", "--data-dir", filepath.Join(dir, "data"),
			"--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
			"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
			"--initial-cluster", "e0=" + peerURL, "--log-level", "warn"}}
	if err := e.Start(ctx); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return e, nil
}

// Endpoint returns the client address, 127.0.0.1:PORT.
func (e *Etcd) Endpoint() string { return "127.0.0.1:" + strconv.Itoa(e.ClientPort) }

// Start starts etcd (again, after Stop) and waits until /health answers 200, at most a
// minute.
func (e *Etcd) Start(ctx context.Context) error {
	if err := e.proc.start(); err != nil {
		return err
	}
	health := "http://" + e.Endpoint() + "/health"
	err := e.proc.waitFor(ctx, "etcd did not become healthy", 50*time.Millisecond, func() bool {
		return get(ctx, health, time.Second, nil) == nil
	})
	if err != nil {
		_ = e.proc.stop(syscall.SIGKILL, 10*time.Second)
		return err
	}
	e.logf("etcd started in %s on port %d", e.Dir, e.ClientPort)
	return nil
}

// Stop shuts etcd down (SIGTERM) and waits for it.
func (e *Etcd) Stop() error {
	err := e.proc.stop(syscall.SIGTERM, 30*time.Second)
	e.logf("etcd on port %d stopped", e.ClientPort)
	return err
}

// Remove stops etcd and deletes its directory.
func (e *Etcd) Remove() {
	_ = e.proc.stop(syscall.SIGKILL, 10*time.Second)
	_ = os.RemoveAll(e.Dir)
}

// LogTail returns the last n bytes of etcd's log.
func (e *Etcd) LogTail(n int) string { return e.proc.logTail(n) }

// chownTo gives dir to cred's user (nothing when cred is nil) and checks that the user
// can reach it.
func chownTo(dir string, cred *syscall.Credential) error {
	if cred == nil {
		return nil
	}
	if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
		return err
	}
	return traversable(filepath.Dir(dir), cred)
}
