package password

import (
	"os"
	"strconv"
	"syscall"
	"unsafe"
)

// schedIdle is Linux's SCHED_IDLE policy: a thread under it runs only when no ordinary
// thread wants its CPU, and gives the CPU up as soon as one does. Nice values alone
// (nice 19) still let a hash finish its time slice first, which showed in introspection's
// p99 during a login flood.
const schedIdle = 5

// background moves every thread of this process to SCHED_IDLE (failing that, nice 19). On
// Linux both are a thread's own (a thread id names that thread alone), and a thread
// created later takes its creator's, so every thread this process will have runs that
// way. Lowering one's own priority needs no privilege; a failure leaves it as it was.
func background() {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return
	}
	var param struct{ priority int32 }
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if _, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, uintptr(tid), schedIdle,
			uintptr(unsafe.Pointer(&param))); errno != 0 {
			_ = syscall.Setpriority(syscall.PRIO_PROCESS, tid, 19)
		}
	}
}
