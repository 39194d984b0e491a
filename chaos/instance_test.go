package chaos

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/jeton-auth/jeton/pgcluster"
)

// instance is one `jeton serve` child process, restartable on the same ports.
type instance struct {
	name    string
	bin     string
	addr    string
	opsAddr string
	env     []string
	logPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	err  error // the process's exit, once done is closed
}

func newInstance(e *env, name string) (*instance, error) {
	port, err := pgcluster.FreePort()
	if err != nil {
		return nil, err
	}
	opsPort, err := pgcluster.FreePort()
	if err != nil {
		return nil, err
	}
	in := &instance{name: name, bin: e.bin, addr: "127.0.0.1:" + strconv.Itoa(port),
		opsAddr: "127.0.0.1:" + strconv.Itoa(opsPort), logPath: filepath.Join(e.dir, name+".log")}
	in.env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + e.dir,
		"JETON_DATABASE_URL=" + e.dbURL, "JETON_ISSUER=http://" + in.addr, "JETON_ADDR=" + in.addr,
		"JETON_OPS_ADDR=" + in.opsAddr, "JETON_ACCESS_TTL=2h", "JETON_ADMIN_TIMEOUT=" + adminTimeout.String(),
		"JETON_SHUTDOWN_DRAIN=" + e.cfg.drain.String(), "JETON_SHUTDOWN_TIMEOUT=10s"}
	in.env = append(in.env, e.cfg.instanceEnv...)
	return in, nil
}

func (in *instance) base() string { return "http://" + in.addr }

// start runs the process and waits until /readyz answers 200.
func (in *instance) start(ctx context.Context) error {
	logFile, err := os.OpenFile(in.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(in.bin, "serve")
	cmd.Env = in.env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", in.name, err)
	}
	done := make(chan struct{})
	in.mu.Lock()
	in.cmd, in.done = cmd, done
	in.mu.Unlock()
	go func() {
		err := cmd.Wait()
		in.mu.Lock()
		in.err = err
		in.mu.Unlock()
		close(done)
	}()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(time.Minute)
	for {
		if resp, err := client.Get(in.base() + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-done:
			return fmt.Errorf("%s exited before it was ready: %v\n%s", in.name, in.exitErr(), tail(in.logPath, 3000))
		case <-ctx.Done():
			in.kill()
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			in.kill()
			return fmt.Errorf("%s not ready within a minute\n%s", in.name, tail(in.logPath, 3000))
		}
	}
}

func (in *instance) exitErr() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.err
}

// terminate sends SIGTERM and waits for the exit (at most limit), returning the exit error
// and how long it took.
func (in *instance) terminate(limit time.Duration) (time.Duration, error) {
	in.mu.Lock()
	cmd, done := in.cmd, in.done
	in.mu.Unlock()
	if cmd == nil {
		return 0, errors.New("not running")
	}
	start := time.Now()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		took := time.Since(start)
		in.mu.Lock()
		in.cmd = nil
		in.mu.Unlock()
		return took, in.exitErr()
	case <-time.After(limit):
		in.kill()
		return time.Since(start), fmt.Errorf("%s did not exit within %v of SIGTERM", in.name, limit)
	}
}

// kill ends the process at once; harmless when it is not running.
func (in *instance) kill() {
	in.mu.Lock()
	cmd, done := in.cmd, in.done
	in.cmd = nil
	in.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// pid returns the running process's id, 0 when stopped.
func (in *instance) pid() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cmd == nil {
		return 0
	}
	return in.cmd.Process.Pid
}

// tail returns the last n bytes of a file.
func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
