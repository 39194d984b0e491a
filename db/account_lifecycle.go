package db

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// SessionLogin is where a session's login came from, as its login_success event recorded
// it (empty once the event is past its retention).
type SessionLogin struct {
	IP, UserAgent string
}

const sessionLogins = `SELECT e.subject_id, e.client_ip, coalesce(e.detail->>'user_agent', '') FROM events e
WHERE e.tenant_id = $1 AND e.user_id = $2 AND e.kind = 'login_success' AND e.subject_type = 'session'
  AND e.subject_id = ANY ($3::text[])`

// SessionLogins returns the login address and user agent of the user's sessions ids.
func (s *Store) SessionLogins(ctx context.Context, tenant, user uuid.UUID, ids []string) (map[string]SessionLogin, error) {
	rows, err := s.pool.Query(ctx, sessionLogins, tenant, user.String(), ids)
	if err != nil {
		return nil, translate("session logins", err)
	}
	out := map[string]SessionLogin{}
	var id string
	var l SessionLogin
	_, err = pgx.ForEachRow(rows, []any{&id, &l.IP, &l.UserAgent}, func() error {
		out[id] = l
		return nil
	})
	return out, translate("session logins", err)
}
