package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The machine may be shared (with other sessions' tests, for one), so each measured
// window records how much CPU went to processes outside the bench's own tree (the bench,
// its jeton and ceiling children, its PostgreSQL and backends).

const clockTicks = 100 // USER_HZ on Linux

type cpuSnap struct {
	at    time.Time
	busy  int64            // all CPUs' busy ticks from /proc/stat
	procs map[int][2]int64 // pid -> {ppid, utime+stime}
}

func snapCPU() cpuSnap {
	s := cpuSnap{at: time.Now(), procs: map[int][2]int64{}}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line)
		for i := 1; i < len(f); i++ {
			if i == 4 || i == 5 { // idle, iowait
				continue
			}
			v, _ := strconv.ParseInt(f[i], 10, 64)
			s.busy += v
		}
	}
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		// Fields after the command name, which is in parentheses and may hold spaces.
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		ppid, _ := strconv.ParseInt(f[1], 10, 64)
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		s.procs[pid] = [2]int64{ppid, ut + st}
	}
	return s
}

// otherCPU returns the share of the machine's CPU time between a and b used by processes
// outside the bench's process tree.
func otherCPU(a, b cpuSnap, cpus int) float64 {
	self := os.Getpid()
	ours := func(pid int) bool {
		for i := 0; i < 64 && pid > 1; i++ {
			if pid == self {
				return true
			}
			pid = int(b.procs[pid][0])
		}
		return false
	}
	var mine int64
	for pid, v := range b.procs {
		if ours(pid) {
			mine += v[1] - a.procs[pid][1]
		}
	}
	total := b.busy - a.busy
	window := b.at.Sub(a.at).Seconds() * clockTicks * float64(cpus)
	if window <= 0 {
		return 0
	}
	return max(float64(total-mine), 0) / window
}

// loadAvg returns /proc/loadavg's first three fields.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// cpuTicks returns a process's utime+stime.
func cpuTicks(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return -1
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return ut + st
}

// quiesce waits until p uses under 5% of a CPU over half a second (work left over from a
// previous scenario, such as hashes of requests whose clients went away), at most max.
// It returns how long it waited.
func quiesce(p *proc, max time.Duration) time.Duration {
	start := time.Now()
	for time.Since(start) < max {
		a := cpuTicks(p.cmd.Process.Pid)
		time.Sleep(500 * time.Millisecond)
		b := cpuTicks(p.cmd.Process.Pid)
		if a < 0 || b < 0 || float64(b-a)/clockTicks < 0.025 {
			break
		}
	}
	return time.Since(start)
}
