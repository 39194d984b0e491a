package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
)

func osExecutable() (string, error) { return os.Executable() }

// ownSessions is --own-sessions: jeton, the ceilings and the flood each start in a
// session of their own (ownSession).
var ownSessions bool

// ownSession returns how to start a process of the bench: killed if the bench dies, and
// with --own-sessions in a session of its own (where a terminal's signals no longer reach
// it), as a service manager starts a service and as an attacker's processes are
// elsewhere. Where the kernel groups processes by session for scheduling (autogroup:
// the Machine table of docs/BENCHMARKS.md says whether it was on), the processes of one
// session share one session's share of the CPU, so the layout moves the figures: by
// default jeton shares the bench's session (and its share) with the load it is measured
// under, and the flood's clients with both.
func ownSession() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: ownSessions, Pdeathsig: syscall.SIGKILL}
}

// execCommandOutput runs a child of the bench (a ceiling, the flood, pprof) and returns
// its standard output.
func execCommandOutput(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = ownSession()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// machineInfo describes the machine the run measured.
func machineInfo() [][2]string {
	cpu := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel := "unknown"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	return [][2]string{
		{"CPU", cpu},
		{"cores (runtime.NumCPU)", fmt.Sprint(runtime.NumCPU())},
		{"memory", mib(memTotalKiB())},
		{"kernel", "Linux " + kernel},
		{"autogroup (CPU shared between sessions first)", autogroup()},
		{"Go", runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH},
	}
}

// resetStatements clears pg_stat_statements, when the server has it, so its top list
// covers the scenarios and not the seeding.
func (b *bench) resetStatements(ctx context.Context) {
	_, _ = b.pool.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`)
	_, _ = b.pool.Exec(ctx, `SELECT pg_stat_statements_reset()`)
}

// collectStatements keeps the statements of this database that took the most time.
func (b *bench) collectStatements(ctx context.Context) {
	rows, err := b.pool.Query(ctx, `SELECT s.calls, s.total_exec_time, s.mean_exec_time, s.rows,
			left(regexp_replace(s.query, '\s+', ' ', 'g'), 220)
		FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
		WHERE d.datname = current_database() AND s.query NOT LIKE '%pg_stat%'
		ORDER BY s.total_exec_time DESC LIMIT 12`)
	if err != nil {
		b.statements = "pg_stat_statements is not available on this server: " + err.Error()
		return
	}
	defer rows.Close()
	var sb strings.Builder
	sb.WriteString("| calls | total ms | mean ms | rows | statement |\n|---:|---:|---:|---:|---|\n")
	for rows.Next() {
		var calls, nrows int64
		var total, mean float64
		var q string
		if err := rows.Scan(&calls, &total, &mean, &nrows, &q); err != nil {
			break
		}
		fmt.Fprintf(&sb, "| %d | %.0f | %.3f | %d | `%s` |\n", calls, total, mean, nrows, strings.ReplaceAll(q, "|", "\\|"))
	}
	b.statements = sb.String()
}

// plans shows PostgreSQL's generic plans for the most called statements that read the
// tokens table (the naive ceiling's aside), whatever jeton's SQL is at the moment: each is
// prepared from its pg_stat_statements text and explained with every parameter NULL under
// plan_cache_mode = force_generic_plan (a generic plan does not depend on the values).
func (b *bench) plans(ctx context.Context) {
	conn, err := b.pool.Acquire(ctx)
	if err != nil {
		return
	}
	defer conn.Release()
	rows, err := conn.Query(ctx, `SELECT s.query, s.calls FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
		WHERE d.datname = current_database() AND s.query ILIKE '%from tokens%' AND s.query NOT ILIKE '%pg_stat%'
		  AND s.query ILIKE 'select%' AND regexp_replace(s.query, '\s+', ' ', 'g') <> regexp_replace($1, '\s+', ' ', 'g')
		ORDER BY s.calls DESC LIMIT 3`, naiveQuery)
	if err != nil {
		return
	}
	type stmt struct {
		q     string
		calls int64
	}
	var stmts []stmt
	for rows.Next() {
		var s stmt
		if rows.Scan(&s.q, &s.calls) == nil {
			stmts = append(stmts, s)
		}
	}
	rows.Close()
	var sb strings.Builder
	_, _ = conn.Exec(ctx, `SET plan_cache_mode = force_generic_plan`)
	defer conn.Exec(context.WithoutCancel(ctx), `RESET plan_cache_mode`)
	for i, s := range stmts {
		name := fmt.Sprintf("bench_plan_%d", i)
		if _, err := conn.Exec(ctx, "PREPARE "+name+" AS "+s.q); err != nil {
			continue
		}
		var n int
		_ = conn.QueryRow(ctx, `SELECT cardinality(parameter_types) FROM pg_prepared_statements WHERE name = $1`, name).Scan(&n)
		args := strings.TrimSuffix(strings.Repeat("NULL,", n), ",")
		exec := "EXPLAIN EXECUTE " + name
		if n > 0 {
			exec += "(" + args + ")"
		}
		prows, err := conn.Query(ctx, exec)
		if err == nil {
			fmt.Fprintf(&sb, "%d calls:\n\n```sql\n%s\n```\n\n```\n", s.calls, strings.TrimSpace(s.q))
			for prows.Next() {
				var line string
				if prows.Scan(&line) == nil {
					sb.WriteString(line + "\n")
				}
			}
			sb.WriteString("```\n\n")
			prows.Close()
		}
		_, _ = conn.Exec(ctx, "DEALLOCATE "+name)
	}
	b.plansText = sb.String()
}

func createFile(path string) (*os.File, error) { return os.Create(path) }

// autogroup reports whether the kernel schedules by session (kernel.sched_autogroup_enabled).
func autogroup() string {
	b, err := os.ReadFile("/proc/sys/kernel/sched_autogroup_enabled")
	switch {
	case err != nil:
		return "not available"
	case strings.TrimSpace(string(b)) == "1":
		return "on"
	}
	return "off"
}
