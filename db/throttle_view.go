package db

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ThrottleRow is one login counter of a user: the (username, address) pair's ('p') or the
// username's ('u'), as it stands.
type ThrottleRow struct {
	Kind         string // "pair" or "user"
	IP           string // the address as counted; "" for the username's counter
	Failures     int
	Refused      int
	BlockedUntil *time.Time
	ExpiresAt    time.Time
}

// UserThrottleState is what the login throttles hold about one user.
type UserThrottleState struct {
	Counters []ThrottleRow
	Known    []KnownAddress
}

// KnownAddress is an address the user logged in from, which the username limit spares.
type KnownAddress struct {
	IP            string
	LastSuccessAt time.Time
}

const (
	userThrottles = `SELECT CASE t.kind WHEN 'p' THEN 'pair' ELSE 'user' END, t.ip, t.failures, t.refused,
	t.blocked_until, t.expires_at FROM login_throttles t
WHERE t.tenant_id = $1 AND t.kind IN ('p', 'u') AND t.username = $2 AND t.expires_at > $3
ORDER BY t.kind DESC, t.ip`
	knownAddresses = `SELECT k.ip, k.last_success_at FROM known_ips k WHERE k.tenant_id = $1 AND k.user_id = $2
ORDER BY k.last_success_at DESC`
)

// UserThrottles returns the live login counters of the tenant's user (by normalised
// username) and its known addresses.
func (s *Store) UserThrottles(ctx context.Context, tenant, user uuid.UUID, username string, now time.Time) (UserThrottleState, error) {
	var st UserThrottleState
	rows, err := s.pool.Query(ctx, userThrottles, tenant, username, now)
	if err != nil {
		return st, translate("user throttles", err)
	}
	st.Counters, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ThrottleRow, error) {
		var t ThrottleRow
		return t, r.Scan(&t.Kind, &t.IP, &t.Failures, &t.Refused, &t.BlockedUntil, &t.ExpiresAt)
	})
	if err != nil {
		return st, translate("user throttles", err)
	}
	rows, err = s.pool.Query(ctx, knownAddresses, tenant, user)
	if err != nil {
		return st, translate("known addresses", err)
	}
	st.Known, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (KnownAddress, error) {
		var k KnownAddress
		return k, r.Scan(&k.IP, &k.LastSuccessAt)
	})
	return st, translate("known addresses", err)
}

// ClearUserThrottles deletes the user's pair and username counters and known addresses
// (the state a password reset clears too), and writes ev, in one transaction.
func (s *Store) ClearUserThrottles(ctx context.Context, u User, ev Event) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, clearThrottles, u.TenantID, u.Username, u.ID); err != nil {
			return translate("clear throttles", err)
		}
		ev.SubjectType, ev.SubjectID, ev.SubjectName, ev.UserID = "user", u.ID.String(), u.Username, u.ID.String()
		return writeEvent(ctx, tx, ev)
	})
}
