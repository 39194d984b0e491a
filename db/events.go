package db

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
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

func eventArgs(e Event) ([]any, error) {
	detail, err := detailJSON(e)
	if err != nil {
		return nil, err
	}
	return []any{e.TenantID, e.At, e.Kind, e.Actor.Type, e.Actor.ID, e.Actor.Name, e.SubjectType,
		e.SubjectID, e.SubjectName, e.ClientID, e.UserID, e.Actor.IP, e.Actor.RequestID, detail}, nil
}

// detailJSON is e's detail as the JSON text a ::jsonb parameter takes (an empty object for
// none). A map has no PostgreSQL type of its own: in the exec and simple_protocol modes,
// which a pooler in transaction mode needs, pgx cannot encode one for an untyped parameter.
// It returns the error marshalling the detail.
func detailJSON(e Event) (string, error) {
	if e.Detail == nil {
		return "{}", nil
	}
	b, err := json.Marshal(e.Detail)
	if err != nil {
		return "", fmt.Errorf("event %s detail: %w", e.Kind, err)
	}
	return string(b), nil
}

// eventParams is what an INSERT INTO events (eventColumns) selects in a statement run with
// named parameters, whose values addEventArgs sets. The casts let them stand in a SELECT
// list, where nothing else gives their types.
const eventParams = `@event_tenant::uuid, @event_at::timestamptz, @event_kind::text,
	@event_actor_type::text, @event_actor_id::text, @event_actor_name::text, @event_subject_type::text,
	@event_subject_id::text, @event_subject_name::text, @event_client_id::text, @event_user_id::text,
	@event_client_ip::text, @event_request_id::text, @event_detail::jsonb`

// addEventArgs sets e's values for eventParams in args (pgx.NamedArgs or
// pgx.StrictNamedArgs) and returns args, or the error marshalling e's detail.
func addEventArgs[A ~map[string]any](args A, e Event) (A, error) {
	detail, err := detailJSON(e)
	if err != nil {
		return nil, err
	}
	maps.Copy(args, map[string]any{"event_tenant": e.TenantID, "event_at": e.At, "event_kind": e.Kind,
		"event_actor_type": e.Actor.Type, "event_actor_id": e.Actor.ID, "event_actor_name": e.Actor.Name,
		"event_subject_type": e.SubjectType, "event_subject_id": e.SubjectID, "event_subject_name": e.SubjectName,
		"event_client_id": e.ClientID, "event_user_id": e.UserID, "event_client_ip": e.Actor.IP,
		"event_request_id": e.Actor.RequestID, "event_detail": detail})
	return args, nil
}

const insertEvent = `INSERT INTO events (` + eventColumns + `)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::jsonb)`

func writeEvent(ctx context.Context, q querier, e Event) error {
	args, err := eventArgs(e)
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, insertEvent, args...)
	return translate("write event "+e.Kind, err)
}

// RecordEvent writes e on its own, for events that accompany no other write (a failed login).
func (s *Store) RecordEvent(ctx context.Context, e Event) error {
	return writeEvent(ctx, s.pool, e)
}

// EventFilter selects events of one stream, newest first. Empty strings and nil times
// filter nothing; Since is inclusive, Until exclusive. Before, when not 0, keeps events
// with a smaller id (the cursor of the previous page); After, when not 0, keeps events with
// a larger id (what a follower has not seen yet).
type EventFilter struct {
	Kind     string
	UserID   string
	ClientID string
	Since    *time.Time
	Until    *time.Time
	Before   int64
	After    int64
	Limit    int
}

const eventSelect = `SELECT e.id, e.tenant_id, e.at, e.kind, e.actor_type, e.actor_id, e.actor_name,
	e.client_ip, e.request_id, e.subject_type, e.subject_id, e.subject_name, e.client_id, e.user_id, e.detail
FROM events e `

// eventFilters is shared by the listing queries: $1 is the tenant, $2 to $9 the filter.
// The user and client variants name their column first, and repeat the partial indexes'
// own condition literally, so the planner can walk events_tenant_user or
// events_tenant_client whatever the parameters (a generic plan included).
const eventFilters = `
  AND ($2 = '' OR e.kind = $2) AND ($3 = '' OR e.user_id = $3) AND ($4 = '' OR e.client_id = $4)
  AND ($5::timestamptz IS NULL OR e.at >= $5) AND ($6::timestamptz IS NULL OR e.at < $6)
  AND ($7::bigint = 0 OR e.id < $7) AND ($9::bigint = 0 OR e.id > $9)
ORDER BY e.id DESC LIMIT $8`

const (
	listTenantEvents         = eventSelect + `WHERE e.tenant_id = $1` + eventFilters
	listTenantEventsByUser   = eventSelect + `WHERE e.tenant_id = $1 AND e.user_id = $3 AND e.user_id <> ''` + eventFilters
	listTenantEventsByClient = eventSelect + `WHERE e.tenant_id = $1 AND e.client_id = $4 AND e.client_id <> ''` + eventFilters
	listGlobalEvents         = eventSelect + `WHERE e.tenant_id IS NULL AND $1::uuid IS NULL` + eventFilters
)

func scanEvent(row pgx.Row) (Event, error) {
	var e Event
	err := row.Scan(&e.ID, &e.TenantID, &e.At, &e.Kind, &e.Actor.Type, &e.Actor.ID, &e.Actor.Name,
		&e.Actor.IP, &e.Actor.RequestID, &e.SubjectType, &e.SubjectID, &e.SubjectName, &e.ClientID,
		&e.UserID, &e.Detail)
	return e, err
}

// ListEvents returns up to f.Limit events of the tenant's stream, or of the global stream
// (tenant_id NULL) when tenant is nil, newest first.
func (s *Store) ListEvents(ctx context.Context, tenant *uuid.UUID, f EventFilter) ([]Event, error) {
	sql := listGlobalEvents
	switch {
	case tenant == nil:
	case f.UserID != "":
		sql = listTenantEventsByUser
	case f.ClientID != "":
		sql = listTenantEventsByClient
	default:
		sql = listTenantEvents
	}
	rows, err := s.pool.Query(ctx, sql, tenant, f.Kind, f.UserID, f.ClientID, f.Since, f.Until, f.Before, f.Limit, f.After)
	if err != nil {
		return nil, translate("list events", err)
	}
	return collect(rows, scanEvent, "list events")
}
