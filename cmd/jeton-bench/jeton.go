package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jeton-auth/jeton/pgcluster"
)

// proc is a child server process: a jeton instance or a ceiling server.
type proc struct {
	name    string
	cmd     *exec.Cmd
	base    string // http://127.0.0.1:PORT
	opsBase string // http://127.0.0.1:PORT of --ops-addr, when jeton has it
	logPath string
	ready   time.Duration // from exec to the first 200 of the readiness URL
	done    chan error
}

// startProc starts bin with args and env (nothing else is inherited but PATH and HOME),
// output to logPath, and waits until GET base+readyPath answers 200.
func startProc(ctx context.Context, name, bin string, args, env []string, base, readyPath, logPath string) (*proc, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	p := &proc{name: name, base: base, logPath: logPath, done: make(chan error, 1)}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Dir(logPath)}, env...)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	p.cmd.SysProcAttr = ownSession()
	p.cmd.SysProcAttr.Pdeathsig = syscall.SIGTERM // jeton drains, then exits
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	deadline := start.Add(60 * time.Second)
	for {
		resp, err := client.Get(base + readyPath)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				p.ready = time.Since(start)
				return p, nil
			}
		}
		select {
		case err := <-p.done:
			p.done <- err
			return nil, fmt.Errorf("%s exited before it was ready: %v\n%s", name, err, tail(logPath, 4000))
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.stop()
			return nil, fmt.Errorf("%s not ready after %v\n%s", name, time.Since(start), tail(logPath, 4000))
		}
	}
}

// stop sends SIGTERM and waits for a graceful exit, killing after 20 s.
func (p *proc) stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// memory returns the RSS of jeton and its hashing processes (its children, whose memory
// is jeton's) summed, the sum of their high-water marks (which bounds the peak of the sum
// from above), and their resident memory with the pages of the files they share counted
// once: their anonymous memory summed, plus the largest of their file-backed parts (the
// children are the jeton binary too, and each process's RSS counts the binary's pages it
// touched again).
func (p *proc) memory() (rss, hwm, once int64, err error) {
	m, err := pidMemory(p.cmd.Process.Pid)
	if err != nil {
		return 0, 0, 0, err
	}
	rss, hwm, once, file := m.rss, m.hwm, m.anon, m.file
	for _, pid := range p.children() {
		if c, err := pidMemory(pid); err == nil {
			rss, hwm, once, file = rss+c.rss, hwm+c.hwm, once+c.anon, max(file, c.file)
		}
	}
	return rss, hwm, once + file, nil
}

// children lists the process's child processes. Each thread lists the children it
// started, and a Go program starts them from any of its threads.
func (p *proc) children() []int {
	var pids []int
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", p.cmd.Process.Pid))
	for _, file := range files {
		kids, _ := os.ReadFile(file)
		for _, f := range strings.Fields(string(kids)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// resetPeak sets VmHWM of the process and its children back to their current RSS (Linux:
// 5 written to clear_refs).
func (p *proc) resetPeak() {
	for _, pid := range append(p.children(), p.cmd.Process.Pid) {
		_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
	}
}

// memSample is one process's memory from /proc/PID/status, in KiB: VmRSS, VmHWM, and
// the anonymous and file-backed parts of VmRSS.
type memSample struct{ rss, hwm, anon, file int64 }

// pidMemory reads one process's memSample.
func pidMemory(pid int) (memSample, error) {
	var m memSample
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			m.rss = v
		case "VmHWM:":
			m.hwm = v
		case "RssAnon:":
			m.anon = v
		case "RssFile:":
			m.file = v
		}
	}
	return m, nil
}

// tail returns the last n bytes of a file.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(st.Size()-n, 0)
	b, _ := io.ReadAll(io.NewSectionReader(f, off, st.Size()-off))
	return string(b)
}

// features are what this jeton binary offers, read from its usage texts, so the bench
// runs the scenarios whose server side exists and reports the others as not available.
type features struct {
	opsAddr  bool // serve --ops-addr (pprof, metrics)
	adminKey bool // jeton admin-key create
}

// detectFeatures asks bin's --help, which any command-line parser jeton uses answers.
func detectFeatures(ctx context.Context, bin string) features {
	usage, _ := exec.CommandContext(ctx, bin, "--help").CombinedOutput()
	serveHelp, _ := exec.CommandContext(ctx, bin, "serve", "--help").CombinedOutput()
	return features{
		opsAddr:  bytes.Contains(serveHelp, []byte("-ops-addr")),
		adminKey: bytes.Contains(usage, []byte("admin-key")),
	}
}

// cli runs a jeton admin command against the bench database with extra environment and
// standard input, and returns its standard output.
func (b *bench) cli(ctx context.Context, env []string, stdin string, args ...string) ([]byte, error) {
	return b.cliEnv(ctx, append([]string{"JETON_DATABASE_URL=" + b.dbURL}, env...), stdin, args...)
}

// cliEnv runs a jeton command with exactly env (plus PATH and HOME).
func (b *bench) cliEnv(ctx context.Context, env []string, stdin string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, b.jetonBin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + b.tmp}, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("jeton %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// cliJSON runs an admin command with --json and decodes its one object into v.
func (b *bench) cliJSON(ctx context.Context, env []string, stdin string, v any, args ...string) error {
	return b.cliJSONEnv(ctx, append([]string{"JETON_DATABASE_URL=" + b.dbURL}, env...), stdin, v, args...)
}

// cliJSONEnv is cliJSON with exactly env.
func (b *bench) cliJSONEnv(ctx context.Context, env []string, stdin string, v any, args ...string) error {
	out, err := b.cliEnv(ctx, env, stdin, append(args, "--json")...)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("jeton %s: %w: %q", strings.Join(args, " "), err, out)
	}
	return nil
}

// startJeton starts `jeton serve` on a free port with the shipped defaults plus env.
func (b *bench) startJeton(ctx context.Context, name, dbURL string, env ...string) (*proc, error) {
	port, err := pgcluster.FreePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	// No drain on SIGTERM: nothing balances load over the bench's instances, and each stop
	// would otherwise wait --shutdown-drain (5 s).
	e := []string{"JETON_DATABASE_URL=" + dbURL, "JETON_ISSUER=http://" + addr, "JETON_ADDR=" + addr,
		"JETON_SHUTDOWN_DRAIN=0s"}
	var ops string
	if b.features.opsAddr {
		opsPort, err := pgcluster.FreePort()
		if err != nil {
			return nil, err
		}
		ops = fmt.Sprintf("127.0.0.1:%d", opsPort)
		e = append(e, "JETON_OPS_ADDR="+ops)
	}
	b.seq++
	logPath := filepath.Join(b.tmp, fmt.Sprintf("%02d-%s.log", b.seq, name))
	p, err := startProc(ctx, name, b.jetonBin, []string{"serve"}, append(e, env...), "http://"+addr, "/readyz", logPath)
	if err != nil {
		return nil, err
	}
	if ops != "" {
		p.opsBase = "http://" + ops
	}
	return p, nil
}
