package chaos

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// report gathers every phase of a run and writes the results table.
type report struct {
	cfg     config
	started time.Time
	load    string // the load average when the run started
	mu      sync.Mutex
	phases  []*phase
	rows    []string
}

func newReport(cfg config) *report { return &report{cfg: cfg, started: time.Now(), load: loadAvg()} }

// loadAvg returns the 1-minute load average, which says how busy the machine was with
// others' work as well: every figure depends on it.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "unknown"
	}
	return f[0]
}

// summary is a phase's figures.
type summary struct {
	requests, failed int
	byClass          map[class]int
	maxLatency       time.Duration
	maxByOp          map[string]time.Duration
	faulted          bool          // the phase injected a fault (marks "fault" and "back")
	down             time.Duration // the fault's length: until the database was back
	errFrom, errTo   time.Time     // the first failed request's start, the last one's end
	recovered        time.Duration // from the database's return to the end of the last failed request
	readyAfter       time.Duration // from the database's return until every instance was ready again
}

func (p *phase) summarize() summary {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := summary{byClass: map[class]int{}, maxByOp: map[string]time.Duration{}}
	for _, r := range p.recs {
		s.requests++
		s.byClass[r.class]++
		s.maxLatency = max(s.maxLatency, r.took)
		s.maxByOp[r.op] = max(s.maxByOp[r.op], r.took)
		if r.class == ok {
			continue
		}
		s.failed++
		if s.errFrom.IsZero() || r.start.Before(s.errFrom) {
			s.errFrom = r.start
		}
		if r.end().After(s.errTo) {
			s.errTo = r.end()
		}
	}
	var fault, back time.Time
	for _, m := range p.marks {
		switch m.name {
		case "fault":
			fault = m.at
		case "back":
			back = m.at
		}
	}
	if !fault.IsZero() && !back.IsZero() {
		s.faulted, s.down = true, back.Sub(fault)
		if s.errTo.After(back) {
			s.recovered = s.errTo.Sub(back)
		}
		for _, changes := range p.ready {
			var after time.Duration
			for _, c := range changes {
				if c.ready && !c.at.Before(back) {
					after = c.at.Sub(back)
					break
				}
			}
			s.readyAfter = max(s.readyAfter, after)
		}
	}
	return s
}

// finish summarizes p into the report and the test log, and fails the test for each
// violation.
func (r *report) finish(t *testing.T, p *phase, fault string) {
	t.Helper()
	p.end = time.Now()
	s := p.summarize()
	var classes []string
	for c := unavailable; c <= wrong; c++ {
		if n := s.byClass[c]; n > 0 {
			classes = append(classes, fmt.Sprintf("%d %s", n, c))
		}
	}
	failed := "none"
	if len(classes) > 0 {
		failed = strings.Join(classes, ", ")
	}
	window := "-"
	if !s.errFrom.IsZero() {
		window = fmt.Sprintf("%.1f s", s.errTo.Sub(s.errFrom).Seconds())
	}
	down, recovered, ready := "-", "-", "-"
	if s.faulted {
		down = fmt.Sprintf("%.1f s", s.down.Seconds())
		recovered = fmt.Sprintf("%.2f s", s.recovered.Seconds())
		ready = fmt.Sprintf("%.2f s", s.readyAfter.Seconds())
	}
	row := fmt.Sprintf("| %s | %s | %s | %d | %s | %s | %s | %s | %d ms |", p.name, fault, down, s.requests, failed,
		window, recovered, ready, s.maxLatency.Milliseconds())
	r.mu.Lock()
	r.phases = append(r.phases, p)
	r.rows = append(r.rows, row)
	r.mu.Unlock()
	t.Logf("%s: %s; the fault lasted %s; %d requests, failed: %s; errors seen for %s; "+
		"last error %s after the fault ended; every instance ready %s after; slowest answer %v",
		p.name, fault, down, s.requests, failed, window, recovered, ready, s.maxLatency.Round(time.Millisecond))
	if back, marked := p.markAt("back"); marked {
		p.mu.Lock()
		var late []string
		for _, rec := range p.recs {
			if rec.class != ok && rec.end().After(back) && len(late) < 8 {
				late = append(late, fmt.Sprintf("%s on %s started %+.2fs from the end of the fault, %d after %v",
					rec.op, rec.target, rec.start.Sub(back).Seconds(), rec.status, rec.took.Round(time.Millisecond)))
			}
		}
		p.mu.Unlock()
		if len(late) > 0 {
			p.note("failed requests ending after the fault ended: %s", strings.Join(late, "; "))
		}
	}
	var slow []string
	for op, d := range s.maxByOp {
		slow = append(slow, fmt.Sprintf("%s %v", op, d.Round(time.Millisecond)))
	}
	sort.Strings(slow)
	p.note("slowest answer by request: %s", strings.Join(slow, ", "))
	p.mu.Lock()
	notes, violations := append([]string(nil), p.notes...), append([]string(nil), p.violations...)
	p.mu.Unlock()
	for _, n := range notes {
		t.Logf("%s: %s", p.name, n)
	}
	for _, v := range violations {
		t.Errorf("%s: %s", p.name, v)
	}
}

// write puts the results table in path.
func (r *report) write(t *testing.T, path string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "# jeton chaos suite: %s form\n\n", r.cfg.name)
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "Run with `%s` on %s (%d CPUs, %s/%s, load average %s at the start and %s at the end), %s, taking %v. "+
		"%s. %d load workers pausing %v between requests, plus one admin; three instances, request timeout %v (the default), "+
		"admin timeout %v, drain %v; hang bound: timeout + %v. Client, jeton and PostgreSQL share the machine.\n\n",
		r.cfg.command, host, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, r.load, loadAvg(), r.started.Format("2006-01-02 15:04"),
		time.Since(r.started).Round(time.Second), r.cfg.deployment, r.cfg.workers, r.cfg.pace, requestTimeout, adminTimeout, r.cfg.drain, hangMargin)
	b.WriteString("| phase | fault | fault lasted | requests | failed | errors seen for | last error after the fault ended | every /readyz 200 after | slowest answer |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, row := range r.rows {
		b.WriteString(row + "\n")
	}
	b.WriteString("\n")
	for _, p := range r.phases {
		p.mu.Lock()
		notes := append([]string(nil), p.notes...)
		nv := len(p.violations)
		ops := map[string]int{}
		for _, rec := range p.recs {
			ops[rec.op]++
		}
		p.mu.Unlock()
		var names []string
		for op := range ops {
			names = append(names, op)
		}
		sort.Strings(names)
		var mix []string
		for _, op := range names {
			mix = append(mix, fmt.Sprintf("%s %d", op, ops[op]))
		}
		fmt.Fprintf(&b, "- **%s** (%v, %d violations): %s\n", p.name, p.end.Sub(p.start).Round(100*time.Millisecond), nv,
			strings.Join(mix, ", "))
		for _, n := range notes {
			fmt.Fprintf(&b, "  - %s\n", n)
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Errorf("results: %v", err)
		return
	}
	t.Logf("results written to %s", path)
}
