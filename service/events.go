package service

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jeton-auth/jeton/db"
)

// Page sizes of the admin listings.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// EventQuery filters a stream of events. Empty fields filter nothing. Since is inclusive,
// Until exclusive; After keeps the events with a larger id (0: all), for a follower that has
// seen up to that id; Cursor is a previous page's NextCursor; Limit 0 means DefaultPageSize.
type EventQuery struct {
	Kind     string
	UserID   string
	ClientID string
	Since    *time.Time
	Until    *time.Time
	After    int64
	Cursor   string
	Limit    int
}

// EventPage is one page of events, newest first. NextCursor is "" on the last page.
type EventPage struct {
	Items      []db.Event
	NextCursor string
}

// Events lists the tenant's events, newest first. It returns ErrNotFound for an unknown
// tenant and a ValidationError for a bad query.
func (s *Service) Events(ctx context.Context, slug string, q EventQuery) (EventPage, error) {
	f, err := eventFilter(q)
	if err != nil {
		return EventPage{}, err
	}
	t, err := s.tenant(ctx, slug)
	if err != nil {
		return EventPage{}, err
	}
	return s.events(ctx, &t.ID, f)
}

// GlobalEvents lists the global stream (the events of no tenant: tenant deletions, global
// admin keys), newest first. It returns a ValidationError for a bad query.
func (s *Service) GlobalEvents(ctx context.Context, q EventQuery) (EventPage, error) {
	f, err := eventFilter(q)
	if err != nil {
		return EventPage{}, err
	}
	return s.events(ctx, nil, f)
}

func (s *Service) events(ctx context.Context, tenant *uuid.UUID, f db.EventFilter) (EventPage, error) {
	limit := f.Limit
	f.Limit++ // one more tells whether there is a next page
	items, err := s.store.ListEvents(ctx, tenant, f)
	if err != nil {
		return EventPage{}, err
	}
	var page EventPage
	page.Items, page.NextCursor = pageOf(items, limit, "e", func(e db.Event) string { return strconv.FormatInt(e.ID, 10) })
	return page, nil
}

func eventFilter(q EventQuery) (db.EventFilter, error) {
	f := db.EventFilter{Kind: q.Kind, UserID: q.UserID, ClientID: q.ClientID, Since: q.Since, Until: q.Until, After: q.After}
	if q.After < 0 {
		return f, invalid("after", "must be an event id")
	}
	for _, p := range []struct{ field, v string }{{"kind", q.Kind}, {"user", q.UserID}, {"client", q.ClientID}} {
		if err := validFilter(p.field, p.v); err != nil {
			return f, err
		}
	}
	if q.UserID != "" {
		if _, err := uuid.Parse(q.UserID); err != nil {
			return f, invalid("user", "must be a user id")
		}
	}
	if q.Since != nil && q.Until != nil && q.Until.Before(*q.Since) {
		return f, invalid("until", "is before since")
	}
	var err error
	if f.Limit, err = pageLimit(q.Limit); err != nil {
		return f, err
	}
	f.Before, err = decodeSeqCursor("e", q.Cursor)
	return f, err
}

// validFilter refuses what the database would choke on: a query value is short printable
// UTF-8 text.
func validFilter(field, v string) error {
	if len(v) > 256 || !utf8.ValidString(v) || strings.ContainsFunc(v, isControl) {
		return invalid(field, "must be at most 256 bytes of printable UTF-8")
	}
	return nil
}

func pageLimit(n int) (int, error) {
	switch {
	case n == 0:
		return DefaultPageSize, nil
	case n < 0 || n > MaxPageSize:
		return 0, invalid("limit", "must be from 1 to "+strconv.Itoa(MaxPageSize))
	}
	return n, nil
}

// Cursors are opaque to callers: a listing's tag and its position, base64url-encoded, so
// a cursor from one listing is refused by another.
func encodeCursor(tag, v string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(tag + ":" + v))
}

func decodeCursor(tag, c string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	v, ok := strings.CutPrefix(string(b), tag+":")
	if err != nil || !ok || !utf8.Valid(b) || strings.ContainsFunc(v, isControl) {
		return "", invalid("cursor", "is not a cursor this listing returned")
	}
	return v, nil
}

// decodeSeqCursor reads a cursor of a listing by a positive sequence number (event ids,
// delivery seqs); "" is 0, the first page.
func decodeSeqCursor(tag, c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	v, err := decodeCursor(tag, c)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, invalid("cursor", "is not a cursor this listing returned")
	}
	return n, nil
}

// pageOf cuts items, read with a limit of one more than limit so as to tell whether a next
// page exists, to one page; when there is a next page it also returns its cursor: tag and
// the position pos gives the page's last item.
func pageOf[T any](items []T, limit int, tag string, pos func(T) string) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, encodeCursor(tag, pos(items[limit-1]))
}
