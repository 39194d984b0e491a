package service_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/dbtest"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/service"
	"github.com/jeton-auth/jeton/webhooks"
)

// checks records LISTEN self-check outcomes.
type checks chan string

func (c checks) ListenChecked(channel string, ok bool) {
	c <- channel + map[bool]string{true: " ok", false: " failed"}[ok]
}

// TestListenSelfCheck: after connecting, the feed's and the dispatcher's listeners send
// themselves a notification through the main pool. When their LISTEN connection is on the
// main pool's database it arrives (the feed says listening); when it is on another
// database, as behind a pooler that drops notifications, it never does, and the check
// says so: the observer hears a failure, the log warns, the feed says polling.
func TestListenSelfCheck(t *testing.T) {
	main, other := dbtest.New(t), dbtest.New(t)
	for _, tc := range []struct {
		name   string
		listen *pgxpool.Pool
		want   string // the feed's delivery state after the check
	}{
		{"direct", main, service.DeliveryListening},
		{"notifications lost", other, service.DeliveryPolling},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok := tc.want == service.DeliveryListening
			store := db.New(main, db.WithListenConfig(dbtest.ListenConfig(tc.listen)))
			var logs testkit.Buffer
			log := logs.Logger()
			heard := make(checks, 4)
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			t.Cleanup(func() { cancel(); wg.Wait() })
			// A check that fails waits this long: the outcome, not the time, is asserted. One
			// that must pass may take long on a loaded machine.
			wait := map[bool]time.Duration{true: 30 * time.Second, false: 300 * time.Millisecond}[ok]
			f := service.NewFeed(store, service.FeedConfig{ListenCheck: wait, Observer: heard}, log)
			if got := f.Delivery(); got != service.DeliveryStarting {
				t.Errorf("before the check: %q, want %q", got, service.DeliveryStarting)
			}
			d := service.NewDispatcher(store, webhooks.NewSender(webhooks.SenderConfig{}),
				service.DispatcherConfig{ListenCheck: wait, Observer: heard}, log)
			wg.Add(2)
			go func() { defer wg.Done(); f.Run(ctx) }()
			go func() { defer wg.Done(); d.Run(ctx) }()
			got := map[string]bool{}
			for range 2 {
				select {
				case c := <-heard:
					got[c] = true
				case <-time.After(time.Minute):
					t.Fatalf("no self-check outcome; heard %v", got)
				}
			}
			suffix := map[bool]string{true: " ok", false: " failed"}[ok]
			for _, ch := range []string{db.RevocationChannel, db.WebhookChannel} {
				if !got[ch+suffix] {
					t.Errorf("self-checks heard %v, want %q", got, ch+suffix)
				}
			}
			if got := f.Delivery(); got != tc.want {
				t.Errorf("feed delivery %q, want %q", got, tc.want)
			}
			warned := strings.Count(logs.String(), "LISTEN self-check failed")
			if want := map[bool]int{true: 0, false: 2}[ok]; warned != want {
				t.Errorf("%d self-check warnings, want %d; log:\n%s", warned, want, logs.String())
			}
		})
	}
}

// TestFeedPollOnly: a poll-only feed says polling, and reads the log all the same.
func TestFeedPollOnly(t *testing.T) {
	f := service.NewFeed(db.New(dbtest.New(t)), service.FeedConfig{PollOnly: true, Poll: 50 * time.Millisecond}, nil)
	if got := f.Delivery(); got != service.DeliveryPolling {
		t.Errorf("delivery %q, want %q", got, service.DeliveryPolling)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	// A stream opens only once the feed has read where the log ends.
	s, err := f.Subscribe(ctx, db.ClientAuth{Tenant: db.Tenant{ID: uuid.New()}}, "", 0, false)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}
