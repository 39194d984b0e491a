package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/service"
	"github.com/jeton-auth/jeton/webhooks"
)

// webhookFlags configure webhook delivery (docs/WEBHOOKS.md); serverFlags embeds them
// with the prefix "webhook-".
type webhookFlags struct {
	AllowPrivate bool          `name:"allow-private" env:"JETON_WEBHOOK_ALLOW_PRIVATE" help:"let webhooks reach loopback and private addresses (tests, private deployments)"`
	Poll         time.Duration `name:"poll" default:"1s" env:"JETON_WEBHOOK_POLL" help:"how often the webhook dispatcher looks for work without a notification (retries coming due; everything with --webhook-poll-only)"`
	PollOnly     bool          `name:"poll-only" env:"JETON_WEBHOOK_POLL_ONLY" help:"never LISTEN for webhook wake-ups, only poll (connections through pgbouncer in transaction mode)"`
	Workers      int           `name:"workers" default:"16" env:"JETON_WEBHOOK_WORKERS" help:"webhook endpoints this instance delivers to at once"`
	Timeout      time.Duration `name:"timeout" default:"10s" env:"JETON_WEBHOOK_TIMEOUT" help:"longest webhook attempt: connecting, sending and the receiver's answer"`
	Lease        time.Duration `name:"lease" default:"1m" env:"JETON_WEBHOOK_LEASE" help:"how long an endpoint's queue stays with an instance that stopped answering (a crash) before another takes it over; more than twice --webhook-timeout"`
}

// sender is the sender of the admin API's checks and tests and of the dispatcher.
func (o webhookFlags) sender() *webhooks.Sender {
	return webhooks.NewSender(webhooks.SenderConfig{AllowPrivate: o.AllowPrivate, UserAgent: "jeton/" + version,
		Timeout: o.Timeout})
}

func (o webhookFlags) check() error {
	switch {
	case o.Poll <= 0 || o.Workers < 1:
		return errors.New("--webhook-poll and --webhook-workers must be positive")
	// The lease is renewed between deliveries once half of it is gone: the other half must
	// outlast an attempt, or a second instance could take the queue over mid-delivery.
	case o.Timeout <= 0 || o.Lease <= 2*o.Timeout:
		return errors.New("--webhook-timeout must be positive and --webhook-lease more than twice as long")
	}
	return nil
}

// startWebhooks runs the dispatcher on store until the returned stop is called; stop waits
// for the deliveries in flight to end (they are cut short and handed over to the other
// instances at once).
func startWebhooks(o webhookFlags, sender *webhooks.Sender, store *db.Store, obs service.ListenObserver, log *slog.Logger) (stop func()) {
	d := service.NewDispatcher(store, sender, service.DispatcherConfig{Poll: o.Poll, PollOnly: o.PollOnly,
		Workers: o.Workers, Lease: o.Lease, Observer: obs}, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}
