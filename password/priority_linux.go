package password

import (
	"os"
	"strconv"
	"syscall"
)

// backgroundNice is a hashing worker's nice value, the lowest priority: Linux gives a
// thread at nice 19 about 1/70 of the CPU of one at 0 when both want it, and all of it
// otherwise, so logins still progress on a machine that requests keep busy. SCHED_IDLE,
// which gives none, let less through during make bench's login flood, but would stop
// every login on a server kept busy by requests.
const backgroundNice = 19

// background lowers the priority of every thread of this process. On Linux a priority is
// a thread's own (setpriority with a thread id sets that thread alone), and a thread
// created later takes its creator's, so every thread this process will have gets it.
// Lowering one's own priority needs no privilege; a failure leaves it as it was.
func background() {
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
