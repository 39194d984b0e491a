package main

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestRunLoads(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			http.Error(w, `{"error":"server_error"}`, http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte(`{"active":true}`))
	}))
	defer srv.Close()
	get := func(path string) func(int, *rand.Rand) *http.Request {
		return func(int, *rand.Rand) *http.Request {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
			return req
		}
	}
	const d = 400 * time.Millisecond
	paced := load{name: "paced", concurrency: 2, rate: 50, build: get("/ok"), check: statusIs(http.StatusOK, `"active":true`)}
	rs := runLoads(context.Background(), 100*time.Millisecond, d,
		load{name: "ok", concurrency: 3, build: get("/ok"), check: statusIs(http.StatusOK, `"active":true`)},
		load{name: "fail", concurrency: 2, build: get("/fail"), check: statusIs(http.StatusOK)},
		paced)
	if len(rs) != 3 {
		t.Fatalf("runLoads returned %d results, want 3", len(rs))
	}
	for _, r := range rs {
		if r.Window != d {
			t.Errorf("%s: window %v, want %v", r.Name, r.Window, d)
		}
	}
	ok, fail, fixed := rs[0], rs[1], rs[2]
	if ok.OK == 0 || ok.Errors != 0 || ok.Statuses[http.StatusOK] != ok.OK || ok.P50 > ok.P99 || ok.P99 <= 0 {
		t.Errorf("ok: %d answers, %d errors, statuses %v, p50 %v, p99 %v: want answers, no errors, all 200",
			ok.OK, ok.Errors, ok.Statuses, ok.P50, ok.P99)
	}
	if ok.RPS != float64(ok.OK)/d.Seconds() {
		t.Errorf("ok: %v req/s for %d answers in %v", ok.RPS, ok.OK, d)
	}
	if fail.OK != 0 || fail.Errors == 0 || fail.Statuses[http.StatusInternalServerError] != fail.Errors {
		t.Errorf("fail: %d answers, %d errors, statuses %v: want every answer a 500 error", fail.OK, fail.Errors, fail.Statuses)
	}
	// A fixed rate sends at most rate × window requests in the window, plus one per worker.
	if most := int64(paced.rate*d.Seconds()) + int64(paced.concurrency); fixed.OK == 0 || fixed.OK > most {
		t.Errorf("paced: %d answers at %v/s over %v, want between 1 and %d", fixed.OK, paced.rate, d, most)
	}
	if fixed.Rate != paced.rate {
		t.Errorf("paced: rate %v, want %v", fixed.Rate, paced.rate)
	}
}

func TestRunLoadsUntil(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	stop := make(chan struct{})
	time.AfterFunc(200*time.Millisecond, func() { close(stop) })
	start := time.Now()
	r := runLoadsUntil(context.Background(), stop, load{name: "until", concurrency: 2,
		build: func(int, *rand.Rand) *http.Request {
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			return req
		},
		check: statusIs(http.StatusOK)})[0]
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("runLoadsUntil took %v after stop closed", took)
	}
	if r.OK == 0 || r.Errors != 0 || r.Window <= 0 || r.Window > 10*time.Second {
		t.Errorf("until: %d answers, %d errors, window %v: want answers, no errors, the window up to stop", r.OK, r.Errors, r.Window)
	}
}
