package service

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"time"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/password"
)

// Throttle holds the limits on failed password logins. Only failed password logins count
// (never refresh or client_credentials); a success gives its attempt back. Each attempt is
// counted before its password is verified, on three counters: its (username, address)
// pair, its username and its address. The address is the connection's (or a trusted
// proxy's X-Forwarded-For) for a public client; the end user's, from Jeton-Forwarded-For,
// for a confidential client flagged forwards_user_ip, counted within its tenant only; and
// otherwise, for a confidential client, the pair (client_id, connection address) with the
// ServerIPLimit. IPv6 addresses count by their /64.
type Throttle struct {
	// BackoffAfter failures of a (username, address) pair start its back-off: the next
	// attempt waits a second, each later failure doubles the wait, up to BackoffMax. A
	// success clears it; a day without attempts forgets it. At an address the user logged
	// in from within KnownFor it starts after ten times as many (at most 100).
	BackoffAfter int
	BackoffMax   time.Duration
	// UserLimit failures of a username within Window make it refuse every address from
	// which the user did not log in successfully within KnownFor: an attacker cannot lock
	// a user out of her usual places.
	UserLimit int
	// IPLimit failures from one address within Window, across usernames, refuse the address
	// (password spraying). ServerIPLimit replaces it for a confidential client that does
	// not forward its users' addresses, whose own address carries all its users' logins.
	IPLimit       int
	ServerIPLimit int
	Window        time.Duration
	KnownFor      time.Duration

	// The maxima bound a tenant's overrides of BackoffAfter, UserLimit and IPLimit.
	MaxBackoffAfter int
	MaxUserLimit    int
	MaxIPLimit      int
}

// Fixed parts of the back-off. At an address the user logged in from within KnownFor, the
// back-off starts after knownBackoffFactor times as many failures: her own logins there
// (several devices behind one address, a backend without Jeton-Forwarded-For) may run
// concurrently, since each counts until its verdict, and an attacker sharing that address
// still meets the back-off, and never more than NIST's 100 consecutive failures.
const (
	backoffBase        = time.Second
	backoffReset       = 24 * time.Hour
	knownBackoffFactor = 10
)

// DefaultThrottle is what jeton ships with: back-off after 5 failures of one username from
// one address, up to 15 minutes; 100 failures of a username per hour shut out addresses
// without a success in the last 30 days; 100 failures per address per hour, across
// usernames (10,000 for a server-side client, whose one address carries all its users'
// logins); tenants may set at most 20, 1,000 and 10,000. docs/SECURITY.md says why the
// address cap is 100 an hour.
func DefaultThrottle() Throttle {
	return Throttle{
		BackoffAfter: 5, BackoffMax: 15 * time.Minute,
		UserLimit: 100, IPLimit: 100, ServerIPLimit: 10000,
		Window: time.Hour, KnownFor: 30 * 24 * time.Hour,
		MaxBackoffAfter: 20, MaxUserLimit: 1000, MaxIPLimit: 10000,
	}
}

// Check reports the first setting that is out of range.
func (t Throttle) Check() error {
	switch {
	case t.BackoffAfter < 1 || t.UserLimit < 1 || t.IPLimit < 1 || t.ServerIPLimit < 1:
		return fmt.Errorf("login limits must be at least 1")
	case t.BackoffMax < backoffBase || t.BackoffMax > backoffReset:
		return fmt.Errorf("the longest login back-off must be from %v to %v", backoffBase, backoffReset)
	case t.Window < time.Minute || t.KnownFor < t.Window:
		return fmt.Errorf("the login window must be at least a minute and the known-address memory at least the window")
	case t.MaxBackoffAfter < t.BackoffAfter || t.MaxUserLimit < t.UserLimit || t.MaxIPLimit < t.IPLimit:
		return fmt.Errorf("a login limit's maximum must be at least its default")
	}
	return nil
}

// limits resolves the thresholds for a login into tenant tn; server says the address is a
// server-side client's.
func (t Throttle) limits(tn db.Tenant, server bool) db.LoginLimits {
	pick := func(override *int, def, max int) int {
		if override != nil {
			return min(*override, max)
		}
		return def
	}
	l := db.LoginLimits{
		BackoffAfter: pick(tn.LoginBackoffAfter, t.BackoffAfter, t.MaxBackoffAfter),
		BackoffBase:  backoffBase, BackoffMax: t.BackoffMax, BackoffReset: backoffReset,
		UserLimit: pick(tn.LoginUserLimit, t.UserLimit, t.MaxUserLimit),
		IPLimit:   pick(tn.LoginIPLimit, t.IPLimit, t.MaxIPLimit),
		Window:    t.Window, KnownFor: t.KnownFor,
	}
	l.BackoffAfterKnown = min(knownBackoffFactor*l.BackoffAfter, 100)
	if server {
		l.IPLimit = t.ServerIPLimit
	}
	return l
}

// validOverride checks a tenant's override of a threshold: nil, or 1 to max.
func validOverride(field string, v *int, max int) error {
	if v != nil && (*v < 1 || *v > max) {
		return invalid(field, fmt.Sprintf("must be from 1 to %d", max))
	}
	return nil
}

// ThrottledError refuses a password login that a brute-force limit stopped before any
// verification. It is the same for existing and unknown usernames.
type ThrottledError struct {
	// RetryAfter is how long until the limits that refused it lift.
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("login throttled for %v", e.RetryAfter)
}

// ErrBusy refuses a password login when the hashing pool's workers and queue are all
// taken: nothing was verified and no attempt was counted.
var ErrBusy = password.ErrBusy

// countedAddr is an address as the throttles count it: IPv4 (also when mapped in IPv6) as
// itself, IPv6 by its /64, which one subscriber usually holds whole. Anything that does
// not parse is counted as given.
func countedAddr(s string) string {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return s
	}
	return countedIP(a)
}

func countedIP(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// loginOrigin is where a password login comes from as the throttles and events see it.
type loginOrigin struct {
	counters db.LoginCounters
	server   bool   // the address is (client_id, connection address)
	actorIP  string // the address events record
	via      string // the connection's address, when actorIP is a forwarded one
}

// originOf resolves the address a login of username (normalised) counts on: see Throttle.
func originOf(ca db.ClientAuth, username string, l PasswordLogin) loginOrigin {
	tenant := ca.Tenant.ID
	o := loginOrigin{counters: db.LoginCounters{TenantID: tenant, Username: username}, actorIP: l.Actor.IP}
	switch {
	case ca.Client.Public:
		o.counters.IP = countedAddr(l.Actor.IP)
	case ca.Client.ForwardsUserIP && l.UserIP.IsValid():
		o.counters.IP, o.counters.IPTenant = countedIP(l.UserIP), &tenant
		o.actorIP, o.via = l.UserIP.Unmap().WithZone("").String(), l.Actor.IP
	default:
		o.counters.IP, o.counters.IPTenant, o.server = ca.Client.ID+" "+countedAddr(l.Actor.IP), &tenant, true
	}
	return o
}

// refuse gives a refused attempt's unit back and records it on the aggregated
// login_throttled event of its tenant, username, address and window.
func (s *Service) refuse(ctx context.Context, ca db.ClientAuth, o loginOrigin, actor db.Actor, r db.Reservation, now time.Time) error {
	window := now.Truncate(s.cfg.Throttle.Window)
	ev := s.event("login_throttled", actor, &ca.Tenant)
	ev.ClientID, ev.SubjectType, ev.SubjectName = ca.Client.ID, "username", o.counters.Username
	ev.Detail = map[string]any{"window": window.Format(time.RFC3339),
		"attempts": 1, "limits": r.Limits, "retry_at": r.RetryAt.Format(time.RFC3339)}
	if o.via != "" {
		ev.Detail["forwarded_by"] = o.via
	}
	if err := s.store.RefuseLogin(ctx, o.counters, ev, window); err != nil {
		return fmt.Errorf("password grant: %w", err)
	}
	secs := math.Ceil(r.RetryAt.Sub(now).Seconds())
	return &ThrottledError{RetryAfter: time.Duration(max(secs, 1)) * time.Second}
}

// giveBack returns the unit of an attempt that ended without a verdict. The request's
// context may be gone (that may be why), so it gets a few seconds of its own, in the
// background: the answer, often a 503 because the database is away, must not wait for it
// past the request timeout. A failure is only logged: the unit then lapses with its window.
func (s *Service) giveBack(ctx context.Context, c db.LoginCounters) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	go func() {
		defer cancel()
		if err := s.store.ReturnLogin(ctx, c); err != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "login attempt not given back", slog.String("err", err.Error()))
		}
	}()
}
