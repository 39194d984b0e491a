package password

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The test binary is also the hashing worker the Process tests start.
func TestMain(m *testing.M) {
	if os.Getenv(WorkerEnv) != "" {
		if err := ServeWorker(os.Stdin, os.Stdout); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// A Process hashes and verifies as Local does, reports a stored string it cannot verify
// as such (not as a failed worker), and recovers from a child that died.
func TestProcess(t *testing.T) {
	hs, err := ProcessWorkers(1)
	if err != nil {
		t.Fatal(err)
	}
	p := hs[0].(*Process)
	t.Cleanup(func() { _ = p.Close() })

	h, err := p.Hash("correct horse battery staple", fast)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := Verify("correct horse battery staple", h); !ok || err != nil {
		t.Fatalf("the child's hash does not verify here: %v %v", ok, err)
	}
	for pw, want := range map[string]bool{"correct horse battery staple": true, "wrong": false} {
		if ok, err := p.Verify(pw, h); ok != want || err != nil {
			t.Errorf("Verify(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
	var we *WorkerError
	if _, err := p.Verify("x", "$argon2id$nonsense"); err == nil || errors.As(err, &we) {
		t.Errorf("a malformed hash: %v, want the verification's error", err)
	}

	if runtime.GOOS == "linux" {
		pid := p.cmd.Process.Pid
		if n := normalThreads(t, pid); n > 0 {
			t.Errorf("%d threads of the worker run at normal priority, want none", n)
		}
		// In a session of its own, whose scheduling group (where the kernel has autogroup)
		// has the lowest priority too.
		if sid := statField(t, pid, 3); sid != strconv.Itoa(pid) {
			t.Errorf("the worker's session is %s, want its own (%d)", sid, pid)
		}
		// The worker sets it in the background (see setAutogroupNice).
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			ag, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/autogroup")
			if err != nil || strings.Contains(string(ag), "nice 19") {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("the worker's autogroup: %q, want nice 19", ag)
				break
			}
		}
	}

	// A child that died while idle is replaced, and the call goes through.
	old := p.cmd.Process.Pid
	_ = p.cmd.Process.Kill()
	_, _ = p.cmd.Process.Wait()
	if ok, err := p.Verify("correct horse battery staple", h); !ok || err != nil {
		t.Errorf("after the worker died: %v, %v", ok, err)
	}
	if p.cmd == nil || p.cmd.Process.Pid == old {
		t.Error("the dead worker was not replaced")
	}
}

// A worker that cannot start, or does not answer in time, fails the call as a WorkerError.
func TestProcessFailures(t *testing.T) {
	var we *WorkerError
	broken := &Process{Command: func() *exec.Cmd { return exec.Command("/nonexistent/jeton") }}
	if _, err := broken.Verify("pw", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA"); !errors.As(err, &we) {
		t.Errorf("a worker that cannot start: %v, want a WorkerError", err)
	}
	mute := &Process{Command: func() *exec.Cmd { return exec.Command("sleep", "60") }, Timeout: 100 * time.Millisecond}
	t.Cleanup(func() { _ = mute.Close() })
	if _, err := mute.Hash("pw", fast); !errors.As(err, &we) {
		t.Errorf("a worker that never answers: %v, want a WorkerError", err)
	}
}

// statField returns field i of /proc/pid/stat counted from the one after the command
// (0: state, 3: session).
func statField(t *testing.T, pid, i int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))[i]
}

// normalThreads counts the threads of process pid that run at normal priority (nice 0).
func normalThreads(t *testing.T, pid int) int {
	t.Helper()
	dir := "/proc/" + strconv.Itoa(pid) + "/task/"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, task := range tasks {
		b, err := os.ReadFile(dir + task.Name() + "/stat")
		if err != nil {
			continue
		}
		// Fields after the command's closing parenthesis start at the 3rd: nice is the 19th.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if f[16] == "0" {
			n++
		}
	}
	return n
}
