package db

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Actor is who did something, and from where: a user, a client, an admin key or the CLI.
type Actor struct {
	Type      string // "user", "client", "admin_key", "cli", "system"
	ID        string
	Name      string
	IP        string
	RequestID string
}

// Event is one row of the audit trail. Subject, client and user are ids plus display
// strings, never foreign keys, so an event outlives what it names.
type Event struct {
	ID          int64          `json:"id"`
	TenantID    *uuid.UUID     `json:"-"`
	At          time.Time      `json:"at"`
	Kind        string         `json:"kind"`
	Actor       Actor          `json:"-"`
	SubjectType string         `json:"subject_type,omitempty"`
	SubjectID   string         `json:"subject_id,omitempty"`
	SubjectName string         `json:"subject_name,omitempty"`
	ClientID    string         `json:"client_id,omitempty"`
	UserID      string         `json:"user_id,omitempty"`
	Detail      map[string]any `json:"detail,omitempty"`
}

// eventColumns are the columns every INSERT INTO events writes, in the order of eventArgs.
const eventColumns = `tenant_id, at, kind, actor_type, actor_id, actor_name, subject_type, subject_id,
	subject_name, client_id, user_id, client_ip, request_id, detail`

func eventArgs(e Event) []any {
	detail := e.Detail
	if detail == nil {
		detail = map[string]any{}
	}
	return []any{e.TenantID, e.At, e.Kind, e.Actor.Type, e.Actor.ID, e.Actor.Name, e.SubjectType,
		e.SubjectID, e.SubjectName, e.ClientID, e.UserID, e.Actor.IP, e.Actor.RequestID, detail}
}

const insertEvent = `INSERT INTO events (` + eventColumns + `)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`

func writeEvent(ctx context.Context, q querier, e Event) error {
	_, err := q.Exec(ctx, insertEvent, eventArgs(e)...)
	return translate("write event "+e.Kind, err)
}

// RecordEvent writes e on its own, for events that accompany no other write (a failed login).
func (s *Store) RecordEvent(ctx context.Context, e Event) error {
	return writeEvent(ctx, s.pool, e)
}
