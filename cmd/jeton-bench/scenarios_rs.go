package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/jeton-auth/jeton/rs"
)

// revokeToRefusal measures how long a revocation takes to reach a caching resource
// server (rs.Client following jeton's revocation feed): with a token's answer cached
// there, the token is revoked through /revoke, and the resource server is asked until it
// refuses the token; the figure is the time from /revoke's answer to that refusal.
func (b *bench) revokeToRefusal(ctx context.Context) error {
	const name = "revoke-to-refusal at a caching resource server"
	client, err := rs.New(rs.Config{URL: b.main.base, ClientID: b.w.rs.ID, ClientSecret: b.w.rs.Secret,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	fctx, stopFeed := context.WithCancel(ctx)
	defer stopFeed()
	go func() { _ = client.Run(fctx) }()
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := client.WaitHealthy(wctx); err != nil {
		b.addTarget(name, "not available: the revocation feed did not become live within 15 s", "p99 ≤ 100 ms", "not available")
		return nil
	}
	n := max(b.cfg.enumRequests/2, 20)
	var fromReturn, fromStart []time.Duration
	http1 := &http.Client{Timeout: 30 * time.Second}
	for i := range n {
		if err := ctx.Err(); err != nil {
			return err
		}
		// A fresh token, cached as active by the resource server.
		status, body, err := do(http1, formPost(b.main.base+"/token", b.w.svc.Basic, "grant_type=client_credentials").WithContext(ctx), nil)
		tok := field(body, "access_token")
		if err != nil || status != http.StatusOK || tok == "" {
			return fmt.Errorf("token %d: %d %v %s", i, status, err, body)
		}
		if _, err := client.Introspect(ctx, tok); err != nil {
			return fmt.Errorf("introspect before revocation: %w", err)
		}
		if _, err := client.Introspect(ctx, tok); err != nil { // now from the cache
			return fmt.Errorf("introspect before revocation: %w", err)
		}
		t0 := time.Now()
		status, body, err = do(http1, formPost(b.main.base+"/revoke", b.w.svc.Basic, "token="+tok).WithContext(ctx), nil)
		if err != nil || status != http.StatusOK {
			return fmt.Errorf("revoke: %d %v %s", status, err, body)
		}
		t1 := time.Now()
		deadline := t1.Add(10 * time.Second)
		for {
			_, err := client.Introspect(ctx, tok)
			if errors.Is(err, rs.ErrInactive) {
				now := time.Now()
				fromReturn, fromStart = append(fromReturn, now.Sub(t1)), append(fromStart, now.Sub(t0))
				break
			}
			if time.Now().After(deadline) {
				fromReturn, fromStart = append(fromReturn, 10*time.Second), append(fromStart, 10*time.Second)
				break
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
	slices.Sort(fromReturn)
	slices.Sort(fromStart)
	p99 := percentile(fromReturn, 0.99)
	b.addTarget(name, fmt.Sprintf("p50 %s ms, p99 %s ms, max %s ms after /revoke returned (p99 %s ms from when it was sent); %d revocations, one at a time, the resource server polling its rs.Client every 0.2 ms",
		ms(percentile(fromReturn, 0.5)), ms(p99), ms(fromReturn[len(fromReturn)-1]), ms(percentile(fromStart, 0.99)), n),
		"p99 ≤ 100 ms", metStr(p99 <= 100*time.Millisecond))
	return nil
}
