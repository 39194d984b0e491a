package main

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// load is one closed-loop load: concurrency workers, each sending its next request as
// soon as the previous one is answered on a connection of its own (connClient), for a
// warm-up and then a measured window. With a rate, the workers send on a fixed schedule
// instead, rate requests a second in all, and a latency counts from when the request was
// due: a server that falls behind is charged for the wait (no coordinated omission).
type load struct {
	name        string
	concurrency int
	rate        float64 // requests per second across the workers; 0: closed loop
	// build returns worker w's next request.
	build func(w int, rng *rand.Rand) *http.Request
	// check reports whether the answer is the expected one; it may update worker state.
	check func(w, status int, body []byte) bool
}

// result is what one load measured in its window. Only expected answers count in RPS;
// everything else (transport errors, unexpected statuses or bodies) is an error.
type result struct {
	Name        string
	Concurrency int
	Rate        float64 // the fixed rate asked for; 0: closed loop
	Window      time.Duration
	OK          int64
	Errors      int64
	RPS         float64
	P50, P99    time.Duration
	Statuses    map[int]int64 // every answer in the window, by status (0: transport error)
	InFlight    int64         // requests cut off when the window closed
	OtherCPU    float64       // share of the machine's CPU used outside the bench's processes
	latencies   []time.Duration
}

type workerStats struct {
	lat      []time.Duration
	errors   int64
	cut      int64
	statuses map[int]int64
}

// newTransport returns a keep-alive HTTP/1.1 transport for n concurrent connections.
func newTransport(n int) *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        n,
		MaxIdleConnsPerHost: n,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
}

// runLoads runs every load at once: warm-up first, then a window of length d measured for
// all of them together. In-flight requests are cancelled when the window closes (a client
// going away), and whatever ends after it is not counted.
func runLoads(ctx context.Context, warmup, d time.Duration, loads ...load) []result {
	return runWindow(ctx, warmup, d, nil, loads...)
}

// runLoadsUntil runs the loads with no warm-up until stop is closed.
func runLoadsUntil(ctx context.Context, stop <-chan struct{}, loads ...load) []result {
	return runWindow(ctx, 0, 24*time.Hour, stop, loads...)
}

// runWindow runs the loads for a warm-up and then a window of length d, or until stop
// closes, and returns what each measured in the window.
func runWindow(ctx context.Context, warmup, d time.Duration, stop <-chan struct{}, loads ...load) []result {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	win := &window{start: start, from: start.Add(warmup)}
	to := start.Add(warmup + d)
	win.end.Store(to.UnixNano())
	stats := make([][]workerStats, len(loads))
	var wg sync.WaitGroup
	for li, l := range loads {
		stats[li] = make([]workerStats, l.concurrency)
		for w := range l.concurrency {
			wg.Go(func() { l.work(ctx, win, li, w, &stats[li][w]) })
		}
	}
	other := win.wait(ctx, to, stop)
	cancel()
	wg.Wait()
	if w := time.Duration(win.end.Load() - win.from.UnixNano()); w > 0 {
		d = w
	}
	out := make([]result, len(loads))
	for li, l := range loads {
		out[li] = l.result(stats[li], d, other)
	}
	return out
}

// window is runWindow's measured window, which opens at from and ends at end, read by
// every worker (earlier than planned when stop closes or the context ends first).
type window struct {
	start, from time.Time
	end         atomic.Int64 // Unix nanoseconds
}

// wait waits for the window to open and then to close, at to or when stop closes or ctx
// ends, and returns the share of the machine's CPU used outside the bench in between.
func (win *window) wait(ctx context.Context, to time.Time, stop <-chan struct{}) float64 {
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(win.from)):
	}
	snap0 := snapCPU()
	select {
	case <-ctx.Done():
		win.end.Store(time.Now().UnixNano())
	case <-time.After(time.Until(to)):
	case <-stop:
		win.end.Store(time.Now().UnixNano())
	}
	return otherCPU(snap0, snapCPU(), runtime.NumCPU())
}

// work is worker w of l, the li-th load of the window: it sends l's requests until the
// window ends and records in st the answers that end inside it.
func (l load) work(ctx context.Context, win *window, li, w int, st *workerStats) {
	var client connClient
	defer client.close()
	st.statuses = map[int]int64{}
	rng := rand.New(rand.NewPCG(uint64(li)<<32|uint64(w), uint64(win.start.UnixNano())))
	buf := make([]byte, 0, 4096)
	var every time.Duration // a worker's interval at a fixed rate
	due := win.start
	if l.rate > 0 {
		every = time.Duration(float64(l.concurrency) / l.rate * float64(time.Second))
		due = win.start.Add(every * time.Duration(w) / time.Duration(l.concurrency))
	}
	for ctx.Err() == nil && time.Now().UnixNano() < win.end.Load() {
		req := l.build(w, rng)
		t0 := time.Now()
		if every > 0 {
			if due.UnixNano() >= win.end.Load() {
				return // due after the window: nothing more to send
			}
			if wait := time.Until(due); wait > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
			}
			t0, due = due, due.Add(every)
		}
		status, body, err := client.do(ctx, req, buf[:0])
		buf = body[:0]
		t1 := time.Now()
		// A request counts when it ends inside the window, wherever it started.
		if t1.Before(win.from) || t1.UnixNano() > win.end.Load() {
			if err == nil {
				l.check(w, status, body)
			} else if t1.UnixNano() > win.end.Load() {
				st.cut++
			}
			continue
		}
		st.statuses[status]++
		if err != nil || !l.check(w, status, body) {
			st.errors++
			continue
		}
		st.lat = append(st.lat, t1.Sub(t0))
	}
}

// result sums l's workers' stats over a window of length d.
func (l load) result(stats []workerStats, d time.Duration, other float64) result {
	r := result{Name: l.name, Concurrency: l.concurrency, Rate: l.rate, Window: d, Statuses: map[int]int64{}, OtherCPU: other}
	for _, st := range stats {
		r.InFlight += st.cut
		r.latencies = append(r.latencies, st.lat...)
		r.Errors += st.errors
		for s, n := range st.statuses {
			r.Statuses[s] += n
		}
	}
	slices.Sort(r.latencies)
	r.OK = int64(len(r.latencies))
	r.RPS = float64(r.OK) / d.Seconds()
	r.P50, r.P99 = percentile(r.latencies, 0.5), percentile(r.latencies, 0.99)
	return r
}

// do sends req and reads the whole answer into buf. status is 0 on a transport error.
func do(c *http.Client, req *http.Request, buf []byte) (int, []byte, error) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, buf, err
	}
	defer resp.Body.Close()
	buf, err = readAll(resp.Body, buf)
	return resp.StatusCode, buf, err
}

// formPost builds a form POST with HTTP Basic client authentication (already encoded) and
// extra headers given as name, value pairs.
func formPost(url, basic, form string, headers ...string) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic != "" {
		req.Header.Set("Authorization", basic)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return req
}

// statusIs returns a check that accepts status want with a body containing every part.
func statusIs(want int, parts ...string) func(w, status int, body []byte) bool {
	bs := make([][]byte, len(parts))
	for i, p := range parts {
		bs[i] = []byte(p)
	}
	return func(_, status int, body []byte) bool {
		if status != want {
			return false
		}
		for _, p := range bs {
			if !bytes.Contains(body, p) {
				return false
			}
		}
		return true
	}
}
