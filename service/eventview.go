package service

import (
	"time"

	"github.com/jeton-auth/jeton/db"
)

// EventView is one audit event as the admin API lists it and webhooks carry it. Actor and
// subject are ids with the display names they had when the event was written, so they
// outlive what they name.
type EventView struct {
	ID        int64          `json:"id"`
	At        time.Time      `json:"at"`
	Kind      string         `json:"kind"`
	Actor     ActorView      `json:"actor"`
	Subject   *SubjectView   `json:"subject"`
	ClientID  string         `json:"client_id,omitempty"`
	UserID    string         `json:"user_id,omitempty"`
	ClientIP  string         `json:"client_ip,omitempty"`
	RequestID string         `json:"request_id,omitempty"`
	Detail    map[string]any `json:"detail"`
}

// ActorView is who did what an event records.
type ActorView struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Name string `json:"name"`
}

// SubjectView is what an event is about.
type SubjectView struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// ViewEvent returns e as the admin API and webhooks show it.
func ViewEvent(e db.Event) EventView {
	out := EventView{ID: e.ID, At: e.At, Kind: e.Kind, Actor: ActorView{Type: e.Actor.Type, ID: e.Actor.ID, Name: e.Actor.Name},
		ClientID: e.ClientID, UserID: e.UserID, ClientIP: e.Actor.IP, RequestID: e.Actor.RequestID, Detail: e.Detail}
	if e.SubjectType != "" || e.SubjectID != "" {
		out.Subject = &SubjectView{Type: e.SubjectType, ID: e.SubjectID, Name: e.SubjectName}
	}
	if out.Detail == nil {
		out.Detail = map[string]any{}
	}
	return out
}
