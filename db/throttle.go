package db

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// LoginCounters names the three counters one password login reserves a unit on: its
// username with its address ('p'), its username ('u') and its address ('i').
type LoginCounters struct {
	TenantID uuid.UUID
	Username string // normalised
	IP       string // the address as counted
	// IPTenant is the tenant the address counter belongs to. nil counts the address across
	// tenants: only a connection's address, or one a trusted proxy gave, may do that.
	IPTenant *uuid.UUID
}

// LoginLimits are the thresholds a reservation is decided by.
type LoginLimits struct {
	BackoffAfter int // failures of a (username, address) pair before its back-off starts
	// BackoffAfterKnown replaces BackoffAfter for an address the user logged in from within
	// KnownFor: her own logins may run concurrently there without tripping the back-off.
	BackoffAfterKnown int
	BackoffBase       time.Duration // the first back-off; it doubles with every further failure
	BackoffMax        time.Duration // the longest back-off
	BackoffReset      time.Duration // a pair with no attempt let through for this long starts over
	UserLimit         int           // failures of a username per Window before unknown addresses are refused
	IPLimit           int           // failures from an address per Window, across usernames
	Window            time.Duration
	KnownFor          time.Duration // how long a successful login keeps its address known for the user
}

// Reservation is what ReserveLogin decided.
type Reservation struct {
	// Refused is true when a limit refused the attempt; its unit must then be returned
	// (RefuseLogin) and nothing verified.
	Refused bool
	// Limits names the limits that refused: "backoff", "user", "ip".
	Limits []string
	// RetryAt is when every limit that refused will have lifted.
	RetryAt time.Time
	// User is the tenant's user with the username counted on, read in the same round trip
	// and transaction; nil when there is none.
	User *User
}

// limitNames names the limit behind each kind of counter.
var limitNames = map[byte]string{'p': "backoff", 'u': "user", 'i': "ip"}

// The per-username limit spares addresses the user logged in from lately, and the pair's
// back-off starts later there. The three rows are new, or counted on, or past expires_at
// and started over. A row refuses when it was already over its limit before this attempt
// ('p': still in its back-off); refused then counts the attempt, and nothing else moves but
// failures, which the caller gives back. Every statement on the counters locks them in one
// order, by kind ('i', 'p', 'u'), so that concurrent logins never deadlock: here the VALUES
// are in that order.
const reserveLogin = `WITH known AS (
	SELECT EXISTS (
		SELECT 1 FROM known_ips k JOIN users u ON u.tenant_id = k.tenant_id AND u.id = k.user_id
		WHERE u.tenant_id = @tenant AND u.username = @username AND k.ip = @ip
		  AND k.last_success_at > @now::timestamptz - make_interval(secs => @known_for)
	) AS yes
), pair AS (
	SELECT CASE WHEN k.yes THEN @backoff_after_known::integer ELSE @backoff_after::integer END AS after FROM known k
)
INSERT INTO login_throttles AS t (tenant_id, kind, username, ip, failures, refused, blocked_until, expires_at)
VALUES (@ip_tenant::uuid, 'i', '', @ip, 1, 0, NULL, @now::timestamptz + make_interval(secs => @window)),
	(@tenant, 'p', @username, @ip, 1, 0,
		CASE WHEN (SELECT after FROM pair) <= 1 THEN @now::timestamptz + make_interval(secs => @backoff_base) END,
		@now::timestamptz + make_interval(secs => @backoff_reset)),
	(@tenant, 'u', @username, '', 1, 0, NULL, @now::timestamptz + make_interval(secs => @window))
ON CONFLICT (kind, ip, username, tenant_id) DO UPDATE SET (failures, refused, blocked_until, expires_at) = (
	SELECT x.n, CASE WHEN x.over THEN t.refused + 1 ELSE 0 END,
		CASE WHEN t.kind <> 'p' THEN NULL
		     WHEN x.over THEN t.blocked_until
		     WHEN x.n >= x.after THEN
		          @now::timestamptz + make_interval(secs => LEAST(@backoff_base * power(2, LEAST(x.n - x.after, 40)), @backoff_max))
		END,
		CASE WHEN x.expired OR (t.kind = 'p' AND NOT x.over) THEN EXCLUDED.expires_at ELSE t.expires_at END
	FROM (SELECT y.expired, CASE WHEN y.expired THEN 1 ELSE t.failures + 1 END AS n, (SELECT after FROM pair) AS after,
			NOT y.expired AND CASE t.kind
				WHEN 'p' THEN COALESCE(t.blocked_until > @now, false)
				WHEN 'u' THEN t.failures >= @user_limit AND NOT (SELECT yes FROM known)
				ELSE t.failures >= @ip_limit END AS over
		FROM (SELECT t.expires_at <= @now AS expired) y) x)
RETURNING t.kind, t.refused > 0, COALESCE(t.blocked_until, t.expires_at)`

// ReserveLogin counts one attempt on the three counters in one statement, before the
// password is verified, and decides from the counts it returns; the user the attempt names
// is read in the same round trip (one batch, one transaction), as Reservation.User. A
// refused attempt must be given back with RefuseLogin, an attempt that ends without a
// verdict with ReturnLogin; IssueLogin settles a success; a wrong password keeps its unit.
// It returns the database's error.
func (s *Store) ReserveLogin(ctx context.Context, c LoginCounters, l LoginLimits, now time.Time) (Reservation, error) {
	args := counterArgs(c)
	args["now"] = now
	args["backoff_after"], args["backoff_after_known"] = l.BackoffAfter, max(l.BackoffAfterKnown, l.BackoffAfter)
	args["backoff_base"], args["backoff_max"] = l.BackoffBase.Seconds(), l.BackoffMax.Seconds()
	args["backoff_reset"] = l.BackoffReset.Seconds()
	args["user_limit"], args["ip_limit"], args["window"] = l.UserLimit, l.IPLimit, l.Window.Seconds()
	args["known_for"] = l.KnownFor.Seconds()
	var b pgx.Batch
	b.Queue(reserveLogin, args)
	b.Queue(userByUsername, c.TenantID, c.Username)
	br := s.pool.SendBatch(ctx, &b)
	r, err := reservation(br)
	if err == nil {
		var u User
		if u, err = scanUser(br.QueryRow()); err == nil {
			r.User = &u
		} else if errors.Is(err, pgx.ErrNoRows) {
			err = nil
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return r, translate("reserve login", err)
}

// reservation reads what reserveLogin returned.
func reservation(br pgx.BatchResults) (Reservation, error) {
	var r Reservation
	rows, err := br.Query()
	if err != nil {
		return r, err
	}
	defer rows.Close()
	for rows.Next() {
		var kind byte
		var refused bool
		var retry time.Time
		if err := rows.Scan(&kind, &refused, &retry); err != nil {
			return r, err
		}
		if !refused {
			continue
		}
		r.Refused = true
		r.Limits = append(r.Limits, limitNames[kind])
		if retry.After(r.RetryAt) {
			r.RetryAt = retry
		}
	}
	return r, rows.Err()
}

// loginCounters matches the three rows of LoginCounters (counterArgs): the address
// counter's tenant may be NULL, the others' never are.
const loginCounters = `((t.kind = 'p' AND t.ip = @ip AND t.username = @username AND t.tenant_id = @tenant)
	OR (t.kind = 'u' AND t.ip = '' AND t.username = @username AND t.tenant_id = @tenant)
	OR (t.kind = 'i' AND t.ip = @ip AND t.username = '' AND t.tenant_id IS NOT DISTINCT FROM @ip_tenant::uuid))`

// counterArgs binds c for loginCounters, and for reserveLogin's same parameters; the
// caller adds its statement's others.
func counterArgs(c LoginCounters) pgx.StrictNamedArgs {
	return pgx.StrictNamedArgs{"tenant": c.TenantID, "username": c.Username, "ip": c.IP, "ip_tenant": c.IPTenant}
}

// lockCounters locks the rows of loginCounters in kind order, as ReserveLogin does.
const lockCounters = `l AS (
	SELECT t.ctid, t.kind FROM login_throttles t WHERE ` + loginCounters + `
	ORDER BY t.kind FOR UPDATE
)`

const returnLogin = `WITH ` + lockCounters + `
UPDATE login_throttles t SET failures = GREATEST(t.failures - 1, 0) FROM l WHERE t.ctid = l.ctid`

// ReturnLogin gives back the unit an attempt reserved when it ends without a verdict (the
// hashing pool was full, the client went away, the database failed). It returns the
// database's error.
func (s *Store) ReturnLogin(ctx context.Context, c LoginCounters) error {
	_, err := s.pool.Exec(ctx, returnLogin, counterArgs(c))
	return translate("return login", err)
}

// The event is the one of its tenant, username, address and window, made on the first
// refusal and counted on by the others; counting changes detail alone, which no index
// covers, so PostgreSQL can update the row in place.
const refuseLogin = `WITH ` + lockCounters + `, r AS (
	UPDATE login_throttles t SET failures = GREATEST(t.failures - 1, 0) FROM l WHERE t.ctid = l.ctid
)
INSERT INTO events AS e (` + eventColumns + `, window_start)
VALUES (` + eventParams + `, @window_start)
ON CONFLICT (tenant_id, kind, subject_name, client_ip, window_start) WHERE window_start IS NOT NULL
DO UPDATE SET detail = jsonb_set(e.detail, '{attempts}', to_jsonb(COALESCE((e.detail->>'attempts')::bigint, 0) + 1))`

// RefuseLogin gives back the unit of a refused attempt and records it, in one statement,
// on the login_throttled event of ev's tenant, username (SubjectName), address (Actor.IP)
// and the window that starts at window: ev is written if it is the window's first refusal,
// else that event's detail.attempts grows by one. It returns the database's error.
func (s *Store) RefuseLogin(ctx context.Context, c LoginCounters, ev Event, window time.Time) error {
	ev.Kind = "login_throttled"
	args := counterArgs(c)
	args["window_start"] = window
	args, err := addEventArgs(args, ev)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, refuseLogin, args)
	return translate("refuse login", err)
}

// The known address is refreshed at most hourly, which is plenty for a 30-day memory and
// spares a write per login. It runs after issueLogin in the same transaction (the
// counters, @user, @now) and settles only when that login's session (@session) was
// written: a stale login is given back with ReturnLogin instead.
const loginSucceeded = `WITH l AS (
	SELECT t.ctid, t.kind FROM login_throttles t WHERE ` + loginCounters + `
	  AND EXISTS (SELECT 1 FROM sessions s WHERE s.tenant_id = @tenant AND s.id = @session)
	ORDER BY t.kind FOR UPDATE
), p AS (
	DELETE FROM login_throttles t USING l WHERE t.ctid = l.ctid AND l.kind = 'p'
), ui AS (
	UPDATE login_throttles t SET failures = GREATEST(t.failures - 1, 0) FROM l WHERE t.ctid = l.ctid AND l.kind <> 'p'
)
INSERT INTO known_ips AS k (tenant_id, user_id, ip, last_success_at)
SELECT @tenant, @user, @ip, @now WHERE EXISTS (SELECT 1 FROM sessions s WHERE s.tenant_id = @tenant AND s.id = @session)
ON CONFLICT (tenant_id, user_id, ip) DO UPDATE SET last_success_at = EXCLUDED.last_success_at
WHERE k.last_success_at < EXCLUDED.last_success_at - interval '1 hour'`
