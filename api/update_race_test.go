package api_test

import (
	"context"
	"sync"
	"testing"

	"github.com/jeton-auth/jeton/db"
)

// TestConcurrentUpdatesKeepDisable: an update of other fields that races a disable never
// writes back the enabled flag it read before the disable committed.
func TestConcurrentUpdatesKeepDisable(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for round := 0; round < 10; round++ {
		if _, err := w.svc.UpdateUser(ctx, w.cli, "a", "alice", func(u *db.User) { u.Disabled = false }); err != nil {
			t.Fatal(err)
		}
		if _, err := w.svc.UpdateTenant(ctx, w.cli, "a", func(tn *db.Tenant) { tn.Disabled = false }); err != nil {
			t.Fatal(err)
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		run := func(f func() error) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if err := f(); err != nil {
					t.Error(err)
				}
			}()
		}
		run(func() error {
			_, err := w.svc.UpdateUser(ctx, w.cli, "a", "alice", func(u *db.User) { u.Disabled = true })
			return err
		})
		run(func() error {
			_, err := w.svc.UpdateTenant(ctx, w.cli, "a", func(tn *db.Tenant) { tn.Disabled = true })
			return err
		})
		for i := 0; i < 3; i++ {
			run(func() error {
				_, err := w.svc.UpdateUser(ctx, w.cli, "a", "alice", func(u *db.User) { u.Scopes = []string{"read"} })
				return err
			})
			run(func() error {
				_, err := w.svc.UpdateTenant(ctx, w.cli, "a", func(tn *db.Tenant) { tn.Name = "renamed" })
				return err
			})
		}
		close(start)
		wg.Wait()
		u, err := w.svc.User(ctx, "a", "alice")
		if err != nil {
			t.Fatal(err)
		}
		tn, err := w.store.TenantBySlug(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		if !u.Disabled || !tn.Disabled {
			t.Fatalf("round %d: user disabled=%v, tenant disabled=%v after concurrent updates; want both disabled", round, u.Disabled, tn.Disabled)
		}
	}
}
