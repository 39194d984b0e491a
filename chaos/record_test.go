package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// class is what became of one request, from the client's side.
type class int

const (
	ok          class = iota // the answer the promises call for
	unavailable              // 503 with Retry-After, within the bound: allowed during a fault
	serverError              // any other 5xx: never allowed
	connError                // no HTTP answer (refused, reset): never allowed, instances stay up
	hang                     // no answer within the timeout plus the margin: never allowed
	wrong                    // an answer that breaks a promise: never allowed
)

var classNames = [...]string{"ok", "503", "5xx", "connection error", "hang", "wrong answer"}

func (c class) String() string { return classNames[c] }

// record is one request as its client saw it.
type record struct {
	op     string
	target string
	start  time.Time
	took   time.Duration
	status int
	class  class
}

func (r record) end() time.Time { return r.start.Add(r.took) }

// answer is an HTTP exchange's result.
type answer struct {
	start      time.Time
	took       time.Duration
	status     int
	body       map[string]any
	retryAfter string
	err        error
}

// call posts form to base+path with HTTP Basic creds (none when id is "").
func (e *env) call(ctx context.Context, base, path string, creds clientCreds, form url.Values) answer {
	a := answer{start: time.Now()}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, strings.NewReader(form.Encode()))
	if err != nil {
		a.err = err
		return a
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if creds.id != "" {
		req.SetBasicAuth(url.QueryEscape(creds.id), url.QueryEscape(creds.secret))
	}
	resp, err := e.http.Do(req)
	if err != nil {
		a.took, a.err = time.Since(a.start), err
		return a
	}
	defer resp.Body.Close()
	a.status, a.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
	_ = json.NewDecoder(resp.Body).Decode(&a.body)
	a.took = time.Since(a.start)
	return a
}

// adminCall is an admin API request as an answer.
func (e *env) adminCall(ctx context.Context, base, method, path string, body any) answer {
	a := answer{start: time.Now()}
	resp, err := e.admin(base).raw(ctx, method, path, body)
	a.took = time.Since(a.start)
	if err != nil {
		a.err = err
		return a
	}
	a.status, a.body, a.retryAfter = resp.status, resp.body, resp.retryAfter
	return a
}

// classify sorts an answer: good says whether it is the expected one; bound is the
// timeout plus the margin.
func classify(a answer, bound time.Duration, good func(answer) bool) class {
	switch {
	case a.took > bound:
		return hang
	case a.err != nil:
		var ne net.Error
		if errors.As(a.err, &ne) && ne.Timeout() {
			return hang
		}
		return connError
	case a.status == http.StatusServiceUnavailable:
		if a.retryAfter == "" || !is503Body(a.body) {
			return wrong
		}
		return unavailable
	case a.status >= 500:
		return serverError
	case good(a):
		return ok
	}
	return wrong
}

// is503Body accepts the two bodies of a 503: RFC 6749's temporarily_unavailable and the
// admin API's unavailable problem.
func is503Body(b map[string]any) bool {
	return b["error"] == "temporarily_unavailable" || strings.HasSuffix(fmt.Sprint(b["type"]), "/unavailable")
}

func status(want int) func(answer) bool { return func(a answer) bool { return a.status == want } }

// phase collects the records and violations of one scenario.
type phase struct {
	name   string
	strict bool // no error of any kind is allowed (no fault is injected)
	start  time.Time
	end    time.Time

	mu         sync.Mutex
	recs       []record
	violations []string
	marks      []mark
	notes      []string
	ready      map[string][]readyChange // per instance: /readyz transitions
}

type mark struct {
	name string
	at   time.Time
}

type readyChange struct {
	at    time.Time
	ready bool
}

func newPhase(name string, strict bool) *phase {
	return &phase{name: name, strict: strict, start: time.Now(), ready: map[string][]readyChange{}}
}

// add records a request; anything the phase does not allow is also a violation.
func (p *phase) add(op, target string, a answer, c class) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.recs = append(p.recs, record{op: op, target: target, start: a.start, took: a.took, status: a.status, class: c})
	if c == ok || (c == unavailable && !p.strict) {
		return
	}
	if len(p.violations) < 200 {
		p.violations = append(p.violations, fmt.Sprintf("%s %s on %s: %s (status %d, %v, err %v, body %v)",
			a.start.Format("15:04:05.000"), op, target, c, a.status, a.took.Round(time.Millisecond), a.err, a.body))
	}
}

// violate records a broken promise found by a check rather than by one request's class.
func (p *phase) violate(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.violations) < 200 {
		p.violations = append(p.violations, fmt.Sprintf(format, args...))
	}
}

func (p *phase) note(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.notes = append(p.notes, fmt.Sprintf(format, args...))
}

func (p *phase) mark(name string) time.Time {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.marks = append(p.marks, mark{name, now})
	return now
}

func (p *phase) markAt(name string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.marks {
		if m.name == name {
			return m.at, true
		}
	}
	return time.Time{}, false
}

// watchReady polls every instance's /readyz until ctx ends, recording transitions.
func (e *env) watchReady(ctx context.Context, p *phase) *sync.WaitGroup {
	var wg sync.WaitGroup
	client := &http.Client{Timeout: requestTimeout + hangMargin}
	for _, in := range e.inst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last, known := false, false
			for ctx.Err() == nil {
				ready := false
				if resp, err := client.Get(in.base() + "/readyz"); err == nil {
					resp.Body.Close()
					ready = resp.StatusCode == http.StatusOK
				}
				if !known || ready != last {
					p.mu.Lock()
					p.ready[in.name] = append(p.ready[in.name], readyChange{time.Now(), ready})
					p.mu.Unlock()
					last, known = ready, true
				}
				select {
				case <-ctx.Done():
				case <-time.After(50 * time.Millisecond):
				}
			}
		}()
	}
	return &wg
}

var (
	rngMu sync.Mutex
	rng   = rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 42))
)

func randIntN(n int) int {
	rngMu.Lock()
	defer rngMu.Unlock()
	return rng.IntN(n)
}

func randFloat() float64 {
	rngMu.Lock()
	defer rngMu.Unlock()
	return rng.Float64()
}
