package password

import (
	"errors"
	"math/rand/v2"
	"os"
	"strconv"
	"syscall"
	"time"
)

// backgroundNice is a hashing worker's nice value, the lowest priority: Linux gives a
// thread at nice 19 about 1/70 of the CPU of one at 0 when both want it, and all of it
// otherwise, so logins still progress on a machine that requests keep busy. SCHED_IDLE,
// which gives none, would stop every login on a server kept busy by requests, and lets
// fewer hashes through a login flood without helping introspection.
const backgroundNice = 19

// workerAttr starts a worker in a session of its own. Where the kernel groups processes
// by session for scheduling (autogroup: on by default in Debian's kernels and others, for
// processes outside a CPU cgroup), it shares the CPU between sessions first and by nice
// value only inside one, so a worker at nice 19 in the server's session still had a part
// of that session's share. In a session of its own, background gives the whole group the
// lowest weight.
func workerAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

// background lowers this process's priority: every thread to backgroundNice at once, and
// its session's scheduling group (autogroup) in the background, since the kernel lets an
// unprivileged process set an autogroup's nice value only once per 100 ms machine-wide:
// the workers of a pool, all started by the same burst of logins, would otherwise find it
// taken. On Linux a priority is a thread's own (setpriority with a thread id sets that
// thread alone), and a thread created later takes its creator's, so every thread this
// process will have gets it. Lowering one's own priority needs no privilege; a failure
// leaves it as it was.
func background() {
	go setAutogroupNice(func(b []byte) error { return os.WriteFile("/proc/self/autogroup", b, 0) }, 100*time.Millisecond, 50)
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return
	}
	for _, t := range tasks {
		if tid, err := strconv.Atoi(t.Name()); err == nil {
			_ = syscall.Setpriority(syscall.PRIO_PROCESS, tid, backgroundNice)
		}
	}
}

// setAutogroupNice writes backgroundNice with write, trying again after wait and up to
// half as long again at random while the kernel answers EAGAIN (another process set an
// autogroup's nice value in the last 100 ms), at most tries times. Any other error (no
// autogroup in this kernel) ends it at once.
func setAutogroupNice(write func([]byte) error, wait time.Duration, tries int) error {
	var err error
	for range tries {
		if err = write([]byte(strconv.Itoa(backgroundNice))); !errors.Is(err, syscall.EAGAIN) {
			return err
		}
		time.Sleep(wait + rand.N(wait/2+1))
	}
	return err
}
