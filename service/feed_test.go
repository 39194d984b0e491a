package service

// An internal test: the hub's routing is driven directly, without a database.

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/dbtest"
	"github.com/jeton-auth/jeton/internal/testkit"
)

// newBareFeed is a feed that knows the log ends at head and reads nothing itself.
func newBareFeed(cfg FeedConfig, head int64) *Feed {
	f := NewFeed(nil, cfg, nil)
	f.last = head
	close(f.known)
	return f
}

func subscriber(tenant uuid.UUID, client string) db.ClientAuth {
	return db.ClientAuth{Client: db.Client{ID: client, TenantID: tenant}, Tenant: db.Tenant{ID: tenant}}
}

func mustSubscribe(t *testing.T, f *Feed, ca db.ClientAuth) *Subscription {
	t.Helper()
	s, err := f.Subscribe(context.Background(), ca, "", 0, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func mustNext(t *testing.T, s *Subscription) FeedEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ev, err := s.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestFeedDropsSlowSubscriber: routing never waits for a subscriber. One whose buffer is
// full is dropped (it ends with ErrFeedTooSlow, to reconnect and replay); the others get
// every row of their tenant, in order, and nothing of another tenant.
func TestFeedDropsSlowSubscriber(t *testing.T) {
	a, b := uuid.New(), uuid.New()
	f := newBareFeed(FeedConfig{Buffer: 2}, 10)
	slow, fast, other := mustSubscribe(t, f, subscriber(a, "jc_slow")), mustSubscribe(t, f, subscriber(a, "jc_fast")),
		mustSubscribe(t, f, subscriber(b, "jc_other"))
	for _, s := range []*Subscription{slow, fast, other} {
		if ev := mustNext(t, s); ev.Type != FeedReady || ev.ID != 10 {
			t.Fatalf("first event %+v, want ready at 10", ev)
		}
	}
	row := func(id int64, tenant uuid.UUID) db.Revocation {
		return db.Revocation{ID: id, TenantID: tenant, Kind: db.RevokedUser, Subject: "u"}
	}
	var got, gotOther []int64
	for i := int64(11); i <= 14; i++ {
		f.route([]db.Revocation{row(i, a), row(100+i, b)})
		got = append(got, mustNext(t, fast).ID)
		gotOther = append(gotOther, mustNext(t, other).ID)
	}
	if diff := cmp.Diff([]int64{11, 12, 13, 14}, got); diff != "" {
		t.Errorf("fast subscriber (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int64{111, 112, 113, 114}, gotOther); diff != "" {
		t.Errorf("the other tenant's subscriber (-want +got):\n%s", diff)
	}
	if _, err := slow.Next(context.Background()); !errors.Is(err, ErrFeedTooSlow) {
		t.Errorf("slow subscriber: %v, want ErrFeedTooSlow", err)
	}
	if f.Streams() != 3 {
		t.Errorf("%d streams open: a dropped stream counts until it is closed", f.Streams())
	}
	slow.Close()
	slow.Close()
	if f.Streams() != 2 {
		t.Errorf("%d streams open after closing the slow one twice", f.Streams())
	}
}

// newResourceServerFeed returns a test service, a resource-server client "api" of tenant
// "a" that may follow the feed, and a feed with cfg whose hub is treated as caught up.
func newResourceServerFeed(t *testing.T, cfg FeedConfig) (*env, db.Client, *Feed) {
	t.Helper()
	e := newEnv(t, nil)
	rs, _, err := e.svc.CreateClient(context.Background(), testkit.Actor, "a", ClientSpec{Name: "api", Introspect: true})
	if err != nil {
		t.Fatal(err)
	}
	f := NewFeed(db.New(e.pool, db.WithListenConfig(dbtest.ListenConfig(e.pool))), cfg, nil, WithFeedClock(e.clock.Now))
	close(f.known)
	return e, rs, f
}

// TestFeedAccessRecheck: after an event about its own client or its tenant, a
// subscription checks that its client may still follow the feed; other events do not.
func TestFeedAccessRecheck(t *testing.T) {
	e, rs, f := newResourceServerFeed(t, FeedConfig{})
	ctx := context.Background()
	s := mustSubscribe(t, f, subscriber(e.app.Tenant.ID, rs.ID))
	mustNext(t, s) // ready
	f.route([]db.Revocation{{ID: 1, TenantID: e.app.Tenant.ID, Kind: db.RevokedClient, Subject: e.app.Client.ID}})
	mustNext(t, s)
	if _, err := e.svc.UpdateClient(ctx, testkit.Actor, "a", rs.ID, func(c *db.Client) { c.Introspect = false }); err != nil {
		t.Fatal(err)
	}
	f.route([]db.Revocation{{ID: 2, TenantID: e.app.Tenant.ID, Kind: db.RevokedClient, Subject: rs.ID}})
	if ev := mustNext(t, s); ev.ID != 2 {
		t.Fatalf("got %+v, want the event about its own client first", ev)
	}
	if _, err := s.Next(ctx); !errors.Is(err, ErrFeedAccessEnded) {
		t.Fatalf("after its client lost introspect: %v, want ErrFeedAccessEnded", err)
	}
}

// TestFeedTellsWhyBeforeEnding: a check that finds the client deleted before the deletion's
// revocation reached the stream (here at a heartbeat; also once FeedConfig.Recheck has
// passed) still delivers that revocation, from the log, and then ends the stream.
func TestFeedTellsWhyBeforeEnding(t *testing.T) {
	e, rs, f := newResourceServerFeed(t, FeedConfig{Heartbeat: 20 * time.Millisecond})
	ctx := context.Background()
	s := mustSubscribe(t, f, subscriber(e.app.Tenant.ID, rs.ID))
	mustNext(t, s) // ready
	if err := e.svc.DeleteClient(ctx, testkit.Actor, "a", rs.ID); err != nil {
		t.Fatal(err)
	}
	var last FeedEvent
	for {
		ev, err := s.Next(ctx)
		if err != nil {
			if !errors.Is(err, ErrFeedAccessEnded) {
				t.Fatalf("the stream ended with %v, want ErrFeedAccessEnded", err)
			}
			break
		}
		last = ev
	}
	if r := last.Revocation; last.Type != FeedRevoke || r.Kind != db.RevokedClient || r.Subject != rs.ID {
		t.Fatalf("the last event before the end: %+v, want the client's own revocation", last)
	}
}
