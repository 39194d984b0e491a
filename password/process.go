package password

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"time"
)

// Process is a Hasher in a child process: the argon2id work, its tens of MiB per hash and
// their garbage leave the server's process, whose garbage collector then never runs for
// them, and the child runs at the lowest OS priority (ServeWorker), so that requests,
// introspection above all, get the CPU first and hashing what is left. It serves one call
// at a time, as a Pool's worker does. The child is started on the first call, and again
// after it failed; a failed call is a *WorkerError.
type Process struct {
	// Command returns the command that runs ServeWorker on its standard input and output.
	Command func() *exec.Cmd
	// Timeout bounds one call (DefaultCallTimeout when 0): past it the child, wedged or
	// starved of CPU, is killed and the call fails.
	Timeout time.Duration

	cmd  *exec.Cmd
	in   io.WriteCloser
	pipe *os.File // the child's standard output, for its read deadline
	out  *bufio.Reader
	w    *bufio.Writer
}

// DefaultCallTimeout bounds a Process call: far above any sane hash, far below forever.
const DefaultCallTimeout = 30 * time.Second

// The protocol, one call at a time: a request is an op byte and length-prefixed fields
// (uint32, big-endian); the answer a status byte and one field.
const (
	opVerify = 'v' // password, stored hash (argon2id or legacy); answer: verdict, or error
	opHash   = 'h' // password, then m, t, p as decimal fields; answer: PHC string, or error

	statusFalse = 0
	statusTrue  = 1 // also: a hash follows
	statusError = 2 // an error message follows

	maxField = 64 << 10
)

func (p *Process) Verify(pw, phc string) (bool, error) {
	status, field, err := p.call(opVerify, pw, phc)
	switch {
	case err != nil:
		return false, err
	case status == statusError:
		return false, errors.New(field)
	}
	return status == statusTrue, nil
}

func (p *Process) Hash(pw string, par Params) (string, error) {
	status, field, err := p.call(opHash, pw, fmt.Sprint(par.Memory), fmt.Sprint(par.Time), fmt.Sprint(par.Threads))
	switch {
	case err != nil:
		return "", err
	case status == statusError:
		return "", errors.New(field)
	}
	return field, nil
}

// call sends one request and reads its answer, starting the child first if need be. Any
// failure on the way ends the child. A child that had already served calls and fails
// before answering (it died while idle: killed for memory, say) is replaced and the call,
// which changes nothing, tried once more.
func (p *Process) call(op byte, fields ...string) (byte, string, error) {
	for attempt := 0; ; attempt++ {
		fresh := p.cmd == nil
		if fresh {
			if err := p.start(); err != nil {
				return 0, "", &WorkerError{Err: err}
			}
		}
		status, field, answered, err := p.exchange(op, fields)
		if err == nil {
			return status, field, nil
		}
		_ = p.Close()
		if fresh || answered || attempt > 0 {
			return 0, "", &WorkerError{Err: err}
		}
	}
}

// exchange does one call; answered says whether any of the answer had arrived when it
// failed.
func (p *Process) exchange(op byte, fields []string) (status byte, field string, answered bool, err error) {
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = DefaultCallTimeout
	}
	if err := p.pipe.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return 0, "", false, err
	}
	if err := p.w.WriteByte(op); err != nil {
		return 0, "", false, err
	}
	for _, f := range fields {
		if err := writeField(p.w, f); err != nil {
			return 0, "", false, err
		}
	}
	if err := p.w.Flush(); err != nil {
		return 0, "", false, err
	}
	if status, err = p.out.ReadByte(); err != nil {
		return 0, "", false, err
	}
	field, err = readField(p.out)
	return status, field, true, err
}

func (p *Process) start() error {
	cmd := p.Command()
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	// A pipe of our own, not StdoutPipe's: reads on it take deadlines.
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd.Stdout = w
	err = cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		return err
	}
	p.cmd, p.in, p.pipe, p.out, p.w = cmd, in, r, bufio.NewReader(r), bufio.NewWriter(in)
	return nil
}

// Close ends the child: its standard input closes, so it exits; one that does not within
// a second is killed.
func (p *Process) Close() error {
	if p.cmd == nil {
		return nil
	}
	cmd := p.cmd
	p.cmd = nil
	_ = p.in.Close()
	defer p.pipe.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Second):
		_ = cmd.Process.Kill()
		return <-done
	}
}

func writeField(w *bufio.Writer, s string) error {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(s)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	_, err := w.WriteString(s)
	return err
}

func readField(r *bufio.Reader) (string, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return "", err
	}
	l := binary.BigEndian.Uint32(n[:])
	if l > maxField {
		return "", fmt.Errorf("field of %d bytes", l)
	}
	b := make([]byte, l)
	_, err := io.ReadFull(r, b)
	return string(b), err
}

// idleRelease is how long a worker waits for its next call before it gives its memory
// back to the OS.
const idleRelease = time.Second

// ServeWorker is the child's side of Process: it answers calls from in on out until in
// ends. It first lowers its own priority (background); after each call it collects the
// hash's garbage, so the next call reuses that memory rather than taking more, and after
// idleRelease without a call it returns it to the OS.
func ServeWorker(in io.Reader, out io.Writer) error {
	background()
	r, w := bufio.NewReader(in), bufio.NewWriter(out)
	local := Local{Rand: rand.Reader}
	ops := make(chan byte)
	errc := make(chan error, 1)
	next := make(chan struct{})
	go func() {
		for range next {
			op, err := r.ReadByte()
			if err != nil {
				errc <- err
				return
			}
			ops <- op
		}
	}()
	idle := time.NewTimer(idleRelease)
	for {
		next <- struct{}{}
		var op byte
	wait:
		for {
			select {
			case op = <-ops:
				break wait
			case err := <-errc:
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			case <-idle.C:
				debug.FreeOSMemory()
			}
		}
		status, field, err := serveCall(r, op, local)
		if err != nil {
			return err
		}
		if err := w.WriteByte(status); err != nil {
			return err
		}
		if err := writeField(w, field); err != nil {
			return err
		}
		if err := w.Flush(); err != nil {
			return err
		}
		runtime.GC()
		idle.Reset(idleRelease)
	}
}

// useThreads sets GOMAXPROCS to argon2id's parallelism: a worker does one hash at a time,
// and with more Ps than lanes the runtime wakes a second thread to steal each lane's
// goroutine (x/crypto starts one per lane and segment), CPU the password grant's
// throughput pays for (the password scenario against raw argon2id in docs/BENCHMARKS.md).
func useThreads(threads uint8) {
	if n := max(int(threads), 1); runtime.GOMAXPROCS(0) != n {
		runtime.GOMAXPROCS(n)
	}
}

// serveCall reads the rest of one call and does it. Its error is the protocol's; the
// call's own is in the answer.
func serveCall(r *bufio.Reader, op byte, local Local) (byte, string, error) {
	switch op {
	case opVerify:
		pw, err := readField(r)
		if err != nil {
			return 0, "", err
		}
		phc, err := readField(r)
		if err != nil {
			return 0, "", err
		}
		useThreads(threadsOf(phc))
		ok, verr := local.Verify(pw, phc)
		if verr != nil {
			return statusError, verr.Error(), nil
		}
		if ok {
			return statusTrue, "", nil
		}
		return statusFalse, "", nil
	case opHash:
		var f [4]string
		for i := range f {
			var err error
			if f[i], err = readField(r); err != nil {
				return 0, "", err
			}
		}
		var par Params
		if _, err := fmt.Sscan(f[1]+" "+f[2]+" "+f[3], &par.Memory, &par.Time, &par.Threads); err != nil {
			return statusError, "bad parameters", nil
		}
		if par.Memory > MaxMemory {
			return statusError, "memory parameter too large", nil
		}
		useThreads(par.Threads)
		h, err := local.Hash(f[0], par)
		if err != nil {
			return statusError, err.Error(), nil
		}
		return statusTrue, h, nil
	}
	return 0, "", fmt.Errorf("unknown call %q", op)
}

// WorkerEnv names the environment variable that makes a jeton process a hashing worker
// (ServeWorker on its standard input and output) instead of running its command line.
const WorkerEnv = "JETON_HASH_WORKER"

// ProcessWorkers returns n Process hashers (at least one) that run this program's own
// executable with WorkerEnv set and nothing else of the environment (where the server's
// secrets may be). On Linux that is /proc/self/exe, the very file this process runs even
// after a package upgrade replaced or removed it at its path.
func ProcessWorkers(n int) ([]Hasher, error) {
	exe := "/proc/self/exe"
	if _, err := os.Stat(exe); err != nil {
		if exe, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	hs := make([]Hasher, max(n, 1))
	for i := range hs {
		hs[i] = &Process{Command: func() *exec.Cmd {
			cmd := exec.Command(exe)
			cmd.Env = []string{WorkerEnv + "=1"}
			cmd.SysProcAttr = workerAttr()
			cmd.Stderr = os.Stderr
			return cmd
		}}
	}
	return hs, nil
}
