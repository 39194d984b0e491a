package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is a long-running child (etcd, Patroni, HAProxy) that can be stopped, killed and
// started again with the same command line; its output is appended to a log file.
type process struct {
	path string
	args []string
	dir  string
	env  []string
	cred *syscall.Credential
	// deathSig is what the child gets if the thread that started it dies: SIGTERM for
	// Patroni, which then stops its PostgreSQL, SIGKILL for the others.
	deathSig syscall.Signal
	log      string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// start runs the command; starting a running process is an error.
func (p *process) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("%s: already running", p.path)
	}
	logFile, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(p.path, p.args...)
	cmd.Dir, cmd.Env = p.dir, p.env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred, Pdeathsig: p.deathSig}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", p.path, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	p.cmd, p.done = cmd, done
	return nil
}

// running reports whether the process was started and has not exited.
func (p *process) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return alive(p.done)
}

// alive reports whether a child was started and has not exited, given the channel that
// is closed when its Wait returns (nil when it was never started). A Cluster's channel
// carries postgres's exit status before it is closed, a process's nothing.
func alive[T any](done <-chan T) bool {
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// waitFor asks ready every interval until it answers true. It gives up, with an error
// saying what did not happen and the tail of the log, when the process exits, after a
// minute, or when ctx ends; the caller stops the process then.
func (p *process) waitFor(ctx context.Context, what string, interval time.Duration, ready func() bool) error {
	deadline := time.Now().Add(time.Minute)
	for !ready() {
		if !p.running() || time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s:\n%s", what, p.logTail(3000))
		}
		time.Sleep(interval)
	}
	return nil
}

// pid returns the process id, 0 when it is not running.
func (p *process) pid() int {
	if !p.running() {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd.Process.Pid
}

// stop sends sig and waits for the exit; after limit the process is killed. Stopping a
// stopped process does nothing.
func (p *process) stop(sig syscall.Signal, limit time.Duration) error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd, p.done = nil, nil
	p.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
		return nil
	case <-time.After(limit):
		_ = cmd.Process.Kill()
		<-done
		return errors.New(p.path + " did not stop within " + limit.String() + " and was killed")
	}
}

// logTail returns the last n bytes of the log.
func (p *process) logTail(n int) string { return fileTail(p.log, n) }

func fileTail(path string, n int) string {
	b, _ := os.ReadFile(path)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// ProcessTree returns pid and its children (a postmaster and its server processes).
func ProcessTree(pid int) []int {
	pids := []int{pid}
	entries, _ := os.ReadDir("/proc")
	for _, d := range entries {
		child, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after its ")".
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			pids = append(pids, child)
		}
	}
	return pids
}
