// Package rs lets a Go resource server accept jeton's access tokens.
//
// A Client asks jeton's /introspect (RFC 7662) about bearer tokens and caches the answers by
// the token's SHA-256, and follows jeton's revocation feed (GET /revocations, docs/FEED.md)
// to evict them the moment a revocation is delivered, so answers can be cached for minutes
// without a revoked token outliving its revocation by more than the feed's delivery time.
// Middleware for net/http (Client.Middleware) reads `Authorization: Bearer` and answers per
// RFC 6750 §3; package ginrs adapts it to Gin.
//
//	c, err := rs.New(rs.Config{URL: "https://auth.example.com", ClientID: id, ClientSecret: secret})
//	go c.Run(ctx) // follow the revocation feed
//	mux.Handle("GET /notes", c.Middleware(rs.RequireScopes("read"))(notes))
//
// The package uses only the standard library.
package rs

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Client. URL, ClientID and ClientSecret are required; a zero duration or
// size takes its default.
type Config struct {
	// URL is jeton's base URL ("https://auth.example.com"); /introspect and /revocations are
	// below it.
	URL string
	// ClientID and ClientSecret are the resource server's confidential client, which must
	// hold jeton's introspect permission.
	ClientID, ClientSecret string

	// HTTPClient makes both the introspection calls and the feed's long request, so it must
	// have no Timeout (IntrospectTimeout bounds each call). Default: a client of its own.
	HTTPClient *http.Client
	// Logger receives the feed's health changes and failed calls. Default: slog.Default().
	Logger *slog.Logger
	// Now is the clock that decides expiry. Default: time.Now.
	Now func() time.Time

	// MaxTTL bounds how long a live token's answer is cached (never past the token's exp).
	// Default 5 minutes.
	MaxTTL time.Duration
	// NegativeTTL is how long a "not active" answer is cached. Default 5 s; negative: never.
	NegativeTTL time.Duration
	// FallbackTTL bounds how long an answer is used while the feed is not live, since
	// revocations may then go unseen. Default 2 s; negative: no caching without the feed.
	FallbackTTL time.Duration
	// IntrospectTimeout bounds one introspection call. Default 5 s.
	IntrospectTimeout time.Duration
	// MaxEntries bounds the cache. Default 100,000.
	MaxEntries int

	// Realm is the realm of the WWW-Authenticate challenges (RFC 6750 §3). Default "api".
	Realm string
	// RetryAfter is the Retry-After of a 503 when jeton cannot be reached. Default 1 s.
	RetryAfter time.Duration

	// FeedIdleTimeout is how long the feed may stay silent (jeton sends a heartbeat every
	// 15 s) before the connection is presumed dead and replaced. Default 45 s.
	FeedIdleTimeout time.Duration
	// BackoffMin and BackoffMax bound the delay between feed reconnections, which doubles
	// after each failure and is jittered. Default 250 ms and 30 s.
	BackoffMin, BackoffMax time.Duration
}

func (cfg *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.MaxTTL, 5*time.Minute)
	def(&cfg.NegativeTTL, 5*time.Second)
	def(&cfg.FallbackTTL, 2*time.Second)
	def(&cfg.IntrospectTimeout, 5*time.Second)
	def(&cfg.RetryAfter, time.Second)
	def(&cfg.FeedIdleTimeout, 45*time.Second)
	def(&cfg.BackoffMin, 250*time.Millisecond)
	def(&cfg.BackoffMax, 30*time.Second)
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 100_000
	}
	if cfg.Realm == "" {
		cfg.Realm = "api"
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
}

// Errors of Client.Introspect.
var (
	// ErrMalformed: the string is not a well-formed jeton access token; jeton was not asked.
	ErrMalformed = errors.New("rs: malformed access token")
	// ErrInactive: jeton says the token is not active (unknown, expired, revoked, or not an
	// access token of this resource server's tenant).
	ErrInactive = errors.New("rs: access token is not active")
	// ErrUnavailable: jeton could not be asked, or answered with an error.
	ErrUnavailable = errors.New("rs: jeton unavailable")
)

// Client introspects jeton access tokens for one resource server, with a cache that the
// revocation feed keeps honest. Its methods are safe for concurrent use.
type Client struct {
	cfg           Config
	introspectURL string
	feedURL       string
	authorization string
	cache         *cache

	running atomic.Bool
	feed    sync.Mutex // guards the fields below
	healthy bool
	applied int64         // the id of the last event applied
	hasPos  bool          // applied is a position to resume from (Last-Event-ID)
	changed chan struct{} // closed and replaced whenever healthy or applied change
}

// New returns a Client for cfg. It returns an error when URL is not an absolute http(s) URL
// or the client credentials are missing. It makes no request: call Run to follow the feed.
func New(cfg Config) (*Client, error) {
	cfg.defaults()
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("rs: URL %q is not an absolute http(s) URL", cfg.URL)
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("rs: ClientID and ClientSecret are required")
	}
	base := strings.TrimSuffix(cfg.URL, "/")
	// RFC 6749 §2.3.1: each part is form-urlencoded before base64.
	creds := url.QueryEscape(cfg.ClientID) + ":" + url.QueryEscape(cfg.ClientSecret)
	return &Client{cfg: cfg, introspectURL: base + "/introspect", feedURL: base + "/revocations",
		authorization: "Basic " + base64.StdEncoding.EncodeToString([]byte(creds)),
		cache:         newCache(cfg.MaxEntries), changed: make(chan struct{})}, nil
}

// Introspect describes the access token. It answers from the cache when it can; otherwise it
// asks jeton, in one call however many lookups of the token are waiting. It returns
// ErrMalformed, ErrInactive, an error wrapping ErrUnavailable, or ctx's error.
func (c *Client) Introspect(ctx context.Context, token string) (Token, error) {
	if !wellFormed(token) {
		return Token{}, ErrMalformed
	}
	h := hashOf(token)
	e, hit, cl, leader := c.cache.lookup(h, c.cfg.Now(), c.FeedHealthy(), c.cfg.FallbackTTL)
	if hit {
		return answer(e.tok, e.active, nil)
	}
	if leader {
		// The call serves every lookup that joins it, so the first one's cancellation must
		// not end it.
		go c.fly(context.WithoutCancel(ctx), h, token, cl)
	}
	select {
	case <-cl.done:
		return answer(cl.tok, cl.active, cl.err)
	case <-ctx.Done():
		return Token{}, ctx.Err()
	}
}

func answer(t Token, active bool, err error) (Token, error) {
	switch {
	case err != nil:
		return Token{}, err
	case !active:
		return Token{}, ErrInactive
	}
	t.Scope = slices.Clone(t.Scope) // callers share the cached answer
	return t, nil
}

// fly makes cl's introspection call, caches its answer when it may, and ends cl.
func (c *Client) fly(ctx context.Context, h hash, token string, cl *call) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.IntrospectTimeout)
	defer cancel()
	in, err := c.ask(ctx, token)
	now := c.cfg.Now()
	var e *entry
	switch {
	case err != nil:
		cl.err = err
	case !in.Active:
		if c.cfg.NegativeTTL > 0 {
			e = &entry{stored: now, expires: now.Add(c.cfg.NegativeTTL)}
		}
	default:
		cl.tok, cl.active = in.token(), true
		expires := earliest(cl.tok.Exp, now.Add(c.cfg.MaxTTL))
		if !c.FeedHealthy() {
			expires = earliest(expires, now.Add(c.cfg.FallbackTTL))
		}
		if now.Before(expires) {
			e = &entry{tok: cl.tok, active: true, stored: now, expires: expires}
		}
	}
	c.cache.finish(h, cl, e)
	close(cl.done)
}

// ask POSTs the token to /introspect (RFC 7662 §2.1) with the resource server's credentials.
func (c *Client) ask(ctx context.Context, token string) (introspection, error) {
	var in introspection
	body := url.Values{"token": {token}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.introspectURL, strings.NewReader(body))
	if err != nil {
		return in, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", c.authorization)
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		c.cfg.Logger.Warn("rs: jeton introspection failed", "err", err)
		return in, fmt.Errorf("%w: introspect: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return in, fmt.Errorf("%w: introspect: %w", ErrUnavailable, err)
	}
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("%w: introspect: jeton answered %s %s", ErrUnavailable, resp.Status, oauthError(raw))
		level := slog.LevelWarn
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			level = slog.LevelError // this resource server's credentials or permission are wrong
		}
		c.cfg.Logger.Log(ctx, level, "rs: jeton refused the introspection call", "status", resp.StatusCode, "err", err)
		return in, err
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		return in, fmt.Errorf("%w: introspect: %w", ErrUnavailable, err)
	}
	return in, nil
}

// oauthError returns the error code of an RFC 6749 §5.2 body, or "".
func oauthError(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(body, &e) // best effort: only for the log
	return e.Error
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
