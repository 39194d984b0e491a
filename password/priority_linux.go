package password

import (
	"os"
	"strconv"
	"syscall"
)

// backgroundNice is a hashing worker's nice value, the lowest priority: Linux gives a
// thread at nice 19 about 1/70 of the CPU of one at 0 when both want it, and all of it
// otherwise, so logins still progress on a machine that requests keep busy. SCHED_IDLE,
// which gives none, let fewer hashes through during make bench's login flood without
// helping introspection, and would stop every login on a server kept busy by requests.
const backgroundNice = 19

// workerAttr starts a worker in a session of its own. Where the kernel groups processes
// by session for scheduling (autogroup, on by default in Debian's kernels and others), it
// shares the CPU between sessions first and by nice value only inside one: a worker at
// nice 19 in the server's session still took that session's share, and introspection's
// p99 during make bench's login flood was several times the unloaded one. In a session
// of its own, background gives the whole group the lowest priority.
func workerAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

// background lowers this process's priority: its session's scheduling group (autogroup;
// the file is missing where the kernel has none), and every thread. On Linux a priority
// is a thread's own (setpriority with a thread id sets that thread alone), and a thread
// created later takes its creator's, so every thread this process will have gets it.
// Lowering one's own priority needs no privilege; a failure leaves it as it was.
func background() {
	_ = os.WriteFile("/proc/self/autogroup", []byte(strconv.Itoa(backgroundNice)), 0)
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
