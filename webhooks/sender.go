package webhooks

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// MaxResponse is how much of a receiver's answer is read and kept in the delivery log.
const MaxResponse = 4 << 10

// DefaultTimeout bounds one attempt: connecting, sending and the receiver's answer.
const DefaultTimeout = 10 * time.Second

// ErrAddress means a webhook URL names, or its host resolves to, an address that is not
// public (loopback, private, link-local and other special-purpose ranges).
var ErrAddress = errors.New("webhook address is not public")

// SenderConfig configures a Sender. Zero fields take their defaults.
type SenderConfig struct {
	// AllowPrivate lets webhooks reach loopback and private addresses (tests, private
	// deployments); without it only public addresses are connected to.
	AllowPrivate bool
	// AllowHTTP lets URLs be http as well as https (the legacy-login hook's insecure mode).
	AllowHTTP bool
	Timeout   time.Duration // DefaultTimeout when 0
	UserAgent string
	// Resolver resolves host names (nil: the system's). The address check is made on the
	// address being connected to, whatever the resolver answered before.
	Resolver *net.Resolver
	// RootCAs, when not nil, replaces the system's roots (tests).
	RootCAs *x509.CertPool
}

// Sender POSTs webhooks. It never follows a redirect, ignores proxy settings (the address
// check must see the receiver's address) and, unless AllowPrivate, refuses in the dialer's
// Control hook to connect to any address that is not public, so a name that resolves to a
// public address when checked and a private one when connecting (DNS rebinding) is still
// refused.
type Sender struct {
	cfg    SenderConfig
	client *http.Client
}

// NewSender returns a Sender for cfg.
func NewSender(cfg SenderConfig) *Sender {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	d := &net.Dialer{Timeout: cfg.Timeout, Resolver: cfg.Resolver}
	if !cfg.AllowPrivate {
		d.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !Public(ap.Addr()) {
				return fmt.Errorf("connect to %s: %w", address, ErrAddress)
			}
			return nil
		}
	}
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         d.DialContext,
		TLSClientConfig:     &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: cfg.Timeout,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	client := &http.Client{Transport: tr, Timeout: cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &Sender{cfg: cfg, client: client}
}

// CheckURL refuses what no webhook may be sent to: what CheckAddress refuses, and, unless
// AllowPrivate, a host name that resolves to an address that is not public. It returns a
// description fit for the user.
func (s *Sender) CheckURL(ctx context.Context, raw string) error {
	if err := s.CheckAddress(raw); err != nil || s.cfg.AllowPrivate {
		return err
	}
	u, _ := url.Parse(raw)
	if _, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil {
		return nil // a literal address, checked already
	}
	r := s.cfg.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	addrs, err := r.LookupNetIP(ctx, "ip", u.Hostname())
	if err != nil || len(addrs) == 0 {
		return errors.New("has a host that does not resolve")
	}
	for _, a := range addrs {
		if !Public(a) {
			return errors.New("has a host that resolves to a loopback, private or reserved address")
		}
	}
	return nil
}

// CheckAddress makes the checks of CheckURL that need no name resolution: an absolute
// https URL (or http, with AllowHTTP) with a host and without credentials or fragment,
// and, unless AllowPrivate, a host that is not a literal address outside the public ones.
// A host name is then checked only when connecting (the dialer's check, which Post always
// makes). It returns a description fit for the user.
func (s *Sender) CheckAddress(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || len(raw) > 2048 || !u.IsAbs():
		return errors.New("must be an absolute https URL of at most 2048 bytes")
	case u.Scheme != "https" && !(s.cfg.AllowHTTP && u.Scheme == "http"):
		return errors.New("must be an https URL")
	case u.Hostname() == "" || u.Opaque != "":
		return errors.New("must name a host")
	case u.User != nil:
		return errors.New("must not carry credentials")
	case u.Fragment != "":
		return errors.New("must not have a fragment")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return errors.New("has an invalid port")
		}
	}
	if a, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil && !s.cfg.AllowPrivate && !Public(a) {
		return errors.New("must not be a loopback, private or reserved address")
	}
	return nil
}

// Attempt is the outcome of one POST.
type Attempt struct {
	Status  int           // the HTTP status; 0 when there was no answer
	Body    []byte        // the first MaxResponse bytes of the answer
	Latency time.Duration // from sending to the end of the answer (or the failure)
	Err     error         // no answer: connecting, TLS, the timeout
}

// Delivered reports whether the receiver took the webhook: any 2xx.
func (a Attempt) Delivered() bool { return a.Err == nil && a.Status >= 200 && a.Status < 300 }

// Message is one webhook as sent: its id (the webhook-id header), the attempt's time and
// the JSON body, signed with every key given (the current secret first).
type Message struct {
	ID   string
	At   time.Time
	Body []byte
	Keys [][]byte
}

// Post sends m to url with the Standard Webhooks headers and returns what happened. The
// secrets appear only in the signature.
func (s *Sender) Post(ctx context.Context, url string, m Message) Attempt {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(m.Body))
	if err != nil {
		return Attempt{Err: fmt.Errorf("build request: %w", err)}
	}
	ts := m.At.Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", s.cfg.UserAgent)
	req.Header.Set("webhook-id", m.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", Sign(m.ID, ts, m.Body, m.Keys...))
	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		return Attempt{Err: err, Latency: time.Since(start)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponse))
	a := Attempt{Status: resp.StatusCode, Body: body, Latency: time.Since(start)}
	if err != nil && !a.Delivered() {
		a.Err = fmt.Errorf("read answer: %w", err)
	}
	return a
}

// reserved are the special-purpose ranges (RFC 6890 and its updates) that netip's own
// predicates do not cover.
var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("100::/64"),
	netip.MustParsePrefix("2001::/23"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("2002::/16"),
}

// Public reports whether a is a global unicast address outside every private and
// special-purpose range. IPv4-mapped IPv6 addresses are judged as IPv4.
func Public(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || !a.IsGlobalUnicast() || a.IsPrivate() || a.Zone() != "" {
		return false
	}
	for _, p := range reserved {
		if p.Contains(a) {
			return false
		}
	}
	return true
}
