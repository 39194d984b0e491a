package service

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/webhooks"
)

// queueBatch is how many deliveries a worker reads at a time; changes to the endpoint
// apply from the next read on.
const queueBatch = 50

// Payload is the body of every delivery.
type Payload struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      any    `json:"data"`
}

// WebhookBody returns the delivery body of e: its kind, its time and the event as the
// admin API shows it.
func WebhookBody(e db.Event) ([]byte, error) {
	return json.Marshal(Payload{Type: e.Kind, Timestamp: e.At.UTC().Format(time.RFC3339Nano), Data: ViewEvent(e)})
}

// work sends the endpoint's due deliveries in queue order while this instance holds its
// lease; it stops at the first that is not due (a retry waiting), and releases the lease
// when it stops for any reason but losing it. When ctx ends (shutdown) the delivery in
// flight is cut short and released unrecorded, so another instance makes it again at
// once; only a crash leaves the lease to expire.
func (d *Dispatcher) work(ctx context.Context, w db.WebhookEndpoint) {
	defer func() {
		if ctx.Err() != nil {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer cancel()
			d.release(rctx, w)
		}
	}()
	leaseUntil := d.now().Add(d.cfg.Lease)
	for first := true; ctx.Err() == nil; first = false {
		if !first { // an update, a rotation or disabling applies from the next batch on
			cur, err := d.store.Webhook(ctx, w.TenantID, w.ID)
			if err != nil || cur.DisabledAt != nil {
				break
			}
			w = cur
		}
		queue, err := d.store.NextDeliveries(ctx, w.ID, queueBatch)
		if err != nil || len(queue) == 0 {
			break
		}
		ids := make([]int64, len(queue))
		for i, q := range queue {
			ids[i] = q.EventID
		}
		events, err := d.store.EventsByID(ctx, w.TenantID, ids)
		if err != nil {
			break
		}
		for _, q := range queue {
			now := d.now()
			if q.NextAttemptAt.After(now) {
				d.release(ctx, w)
				return
			}
			if now.After(leaseUntil.Add(-d.cfg.Lease / 2)) {
				leaseUntil = now.Add(d.cfg.Lease)
				if err := d.store.RenewWebhook(ctx, d.owner, w.ID, leaseUntil); err != nil {
					return
				}
			}
			a, ok := d.attempt(ctx, w, q, events, now)
			if !ok {
				return
			}
			err := d.store.RecordWebhookAttempt(ctx, d.owner, a)
			if err != nil || a.Disable != nil {
				if err != nil && !errors.Is(err, db.ErrStale) && ctx.Err() == nil {
					// Not recorded: the delivery stays due, for this or another instance.
					d.log.LogAttrs(ctx, slog.LevelWarn, "webhooks: record attempt failed", slog.String("webhook", w.ID.String()),
						slog.String("err", err.Error()))
					d.release(ctx, w)
				}
				return
			}
			if a.State == db.DeliveryPending {
				break // the head waits for its retry: read the queue again, which releases
			}
		}
	}
	if ctx.Err() == nil {
		d.release(ctx, w)
	}
}

func (d *Dispatcher) release(ctx context.Context, w db.WebhookEndpoint) {
	if err := d.store.ReleaseWebhook(ctx, d.owner, w.ID); err != nil && ctx.Err() == nil {
		d.log.LogAttrs(ctx, slog.LevelWarn, "webhooks: release failed", slog.String("err", err.Error()))
	}
}

// attempt makes one delivery attempt and says what to record; ok is false when ctx ended
// during it (nothing is recorded: the delivery stays in flight until the lease expires).
func (d *Dispatcher) attempt(ctx context.Context, w db.WebhookEndpoint, q db.WebhookDelivery, events map[int64]db.Event,
	now time.Time) (db.WebhookAttempt, bool) {
	a := db.WebhookAttempt{EndpointID: w.ID, EventID: q.EventID, At: now, NextAttempt: now}
	e, kept := events[q.EventID]
	if !kept {
		a.State, a.Error = db.DeliverySkipped, "the event was deleted (event retention) before it was delivered"
		return a, true
	}
	body, err := WebhookBody(e)
	if err != nil {
		a.State, a.Error = db.DeliverySkipped, "the event cannot be encoded: "+err.Error()
		return a, true
	}
	sent := d.sender.Post(ctx, w.URL, webhooks.Message{ID: strconv.FormatInt(e.ID, 10), At: now, Body: body, Keys: w.Keys(now)})
	if ctx.Err() != nil {
		return a, false
	}
	a.Counted, a.Latency, a.Response = true, sent.Latency, CleanText(string(sent.Body))
	if sent.Status != 0 {
		status := sent.Status
		a.Status = &status
	}
	if sent.Err != nil {
		a.Error = CleanText(sent.Err.Error())
		if len(a.Error) > maxErrorLen {
			a.Error = a.Error[:maxErrorLen]
		}
	} else if !sent.Delivered() {
		a.Error = "the receiver answered " + strconv.Itoa(sent.Status)
	}
	first := now
	if q.FirstAttemptAt != nil {
		first = *q.FirstAttemptAt
	}
	switch {
	case sent.Delivered():
		a.State = db.DeliveryDelivered
	case sent.Status == http.StatusGone:
		d.disable(&a, w, e, "the receiver answered 410 Gone")
	case now.Sub(first) >= GiveUpAfter:
		d.disable(&a, w, e, "deliveries failed for 3 days")
	default:
		a.State = db.DeliveryPending
		delay := RetryDelay(q.Attempts + 1)
		a.NextAttempt = now.Add(time.Duration(float64(delay) * (0.8 + 0.4*d.jitter())))
	}
	return a, true
}

// disable makes a the last attempt: the delivery failed, the endpoint is disabled and a
// webhook_disabled event says why.
func (d *Dispatcher) disable(a *db.WebhookAttempt, w db.WebhookEndpoint, e db.Event, reason string) {
	a.State, a.DisabledReason = db.DeliveryFailed, reason
	detail := map[string]any{"reason": reason, "event_id": e.ID}
	if a.Status != nil {
		detail["last_status"] = *a.Status
	}
	a.Disable = &db.Event{TenantID: w.TenantID, At: a.At, Kind: "webhook_disabled",
		Actor:       db.Actor{Type: "system", ID: "webhooks", Name: "webhook dispatcher"},
		SubjectType: "webhook", SubjectID: w.ID.String(), SubjectName: w.URL, Detail: detail}
}

// CleanText makes a receiver's answer storable as text: valid UTF-8 without NUL.
func CleanText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
