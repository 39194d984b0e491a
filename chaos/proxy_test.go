package chaos

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// proxy is a small load balancer, as a deployment would put in front of jeton: round robin
// over the backends whose /readyz answered 200 at the last check (every 100 ms), no retries.
// Its failures are the load's: a 502 when a backend fails a request, a 503 without
// Retry-After when none is healthy.
type proxy struct {
	url      string
	srv      *httptest.Server
	backends []*backend
	next     atomic.Uint64
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	closed   sync.Once
}

type backend struct {
	in      *instance
	target  *url.URL
	healthy atomic.Bool

	mu      sync.Mutex
	changes []readyChange
}

type backendKey struct{}

func (e *env) newProxy(t *testing.T, ins ...*instance) *proxy {
	ctx, cancel := context.WithCancel(context.Background())
	px := &proxy{cancel: cancel}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Shorter than jeton's IdleTimeout (60 s), so jeton never closes a connection the
	// proxy is about to reuse.
	tr.IdleConnTimeout = 30 * time.Second
	tr.MaxIdleConnsPerHost = 32
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(pr.In.Context().Value(backendKey{}).(*backend).target)
		},
		Transport: tr,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			t.Logf("proxy: %s %s: %v", r.Method, r.URL.Path, err)
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	for _, in := range ins {
		u, _ := url.Parse(in.base())
		b := &backend{in: in, target: u}
		px.backends = append(px.backends, b)
		px.wg.Add(1)
		go func() {
			defer px.wg.Done()
			b.check(ctx)
		}()
	}
	px.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := len(px.backends)
		start := px.next.Add(1)
		for i := range n {
			b := px.backends[(int(start)+i)%n]
			if b.healthy.Load() {
				rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), backendKey{}, b)))
				return
			}
		}
		http.Error(w, "no healthy backend", http.StatusServiceUnavailable)
	}))
	px.url = px.srv.URL
	// Start with every backend checked once.
	deadline := time.Now().Add(10 * time.Second)
	for _, b := range px.backends {
		for !b.healthy.Load() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	return px
}

// check polls the backend's /readyz every 100 ms until ctx ends.
func (b *backend) check(ctx context.Context) {
	client := &http.Client{Timeout: 500 * time.Millisecond}
	for ctx.Err() == nil {
		ok := false
		if resp, err := client.Get(b.in.base() + "/readyz"); err == nil {
			resp.Body.Close()
			ok = resp.StatusCode == http.StatusOK
		}
		if b.healthy.Swap(ok) != ok {
			b.mu.Lock()
			b.changes = append(b.changes, readyChange{time.Now(), ok})
			b.mu.Unlock()
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// lastChange returns when the backend last became healthy (or not) at or after since.
func (b *backend) lastChange(healthy bool, since time.Time) (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.changes {
		if c.ready == healthy && !c.at.Before(since) {
			return c.at, true
		}
	}
	return time.Time{}, false
}

func (px *proxy) close() {
	px.closed.Do(func() {
		px.cancel()
		px.wg.Wait()
		px.srv.Close()
	})
}

// rolling restarts the proxy's backends one after the other, as a deployment would roll
// out a release: SIGTERM, wait for the exit, start again on the same port, wait until the
// proxy sends it traffic again. The instance must drain (/readyz 503 while it keeps
// serving) long enough for the proxy to notice, close its feed streams with a retry hint,
// finish what it serves and exit 0; the load behind the proxy sees no error at all.
func (e *env) rolling(ctx context.Context, p *phase, px *proxy) {
	for _, b := range px.backends {
		in := b.in
		stream, err := e.openFeed(ctx, in.base())
		if err != nil {
			p.violate("%s: feed stream: %v", in.name, err)
		}
		live := e.liveToken(ctx, p, in.base())
		sigterm := time.Now()
		exited := make(chan struct{})
		var took time.Duration
		var exitErr error
		go func() {
			defer close(exited)
			took, exitErr = in.terminate(e.cfg.drain + 10*time.Second + 10*time.Second)
		}()
		// While draining: /readyz 503, everything else served.
		time.Sleep(e.cfg.drain / 3)
		if a := e.getStatus(ctx, in.base()+"/readyz"); a != http.StatusServiceUnavailable {
			p.violate("%s: /readyz while draining: %d, want 503", in.name, a)
		}
		if live != "" {
			a := e.call(ctx, in.base(), "/introspect", e.seed.rs, url.Values{"token": {live}})
			if a.status != http.StatusOK || a.body["active"] != true {
				p.violate("%s: introspection while draining: %d %v", in.name, a.status, a.body)
			}
		}
		<-exited
		if exitErr != nil {
			p.violate("%s: exit after SIGTERM: %v\n%s", in.name, exitErr, tail(in.logPath, 2000))
		}
		if took < e.cfg.drain {
			p.violate("%s: exited %v after SIGTERM, before its %v drain", in.name, took, e.cfg.drain)
		}
		if unhealthy, ok := b.lastChange(false, sigterm); !ok || unhealthy.After(sigterm.Add(took)) {
			p.violate("%s: the proxy never saw it unready before it exited", in.name)
		} else {
			p.note("%s: SIGTERM to exit %v; the proxy took it out after %v", in.name, took.Round(time.Millisecond),
				unhealthy.Sub(sigterm).Round(time.Millisecond))
		}
		if stream != nil {
			if retry, err := stream.waitEnd(5 * time.Second); err != nil || retry == "" {
				p.violate("%s: the feed stream did not end with a retry hint: retry %q, %v", in.name, retry, err)
			} else {
				p.note("%s: feed stream closed with retry: %s", in.name, retry)
			}
		}
		start := time.Now()
		if err := in.start(ctx); err != nil {
			p.violate("restart %s: %v", in.name, err)
			return
		}
		for !b.healthy.Load() {
			time.Sleep(10 * time.Millisecond)
		}
		p.note("%s: started again, in the proxy's rotation %v after exec", in.name, time.Since(start).Round(time.Millisecond))
		time.Sleep(e.cfg.steady / 2)
	}
}

// getStatus returns the status of a GET, 0 without an answer.
func (e *env) getStatus(ctx context.Context, u string) int {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := e.http.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// liveToken logs a load user in on base and returns the access token, recorded in the
// ledger.
func (e *env) liveToken(ctx context.Context, p *phase, base string) string {
	a := e.login(ctx, base, e.seed.workers[0], e.seed.password)
	if a.status != http.StatusOK {
		p.violate("login on %s: %d %v", base, a.status, a.body)
		return ""
	}
	s := e.adopt(nil, a)
	s.user = e.seed.workers[0]
	return s.latest().token
}
