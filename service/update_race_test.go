package service

import (
	"context"
	"sync"
	"testing"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/internal/testkit"
)

// TestConcurrentUpdatesKeepDisable: an update of other fields that races a disable never
// writes back the enabled flag it read before the disable committed.
func TestConcurrentUpdatesKeepDisable(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	for round := 0; round < 10; round++ {
		if _, err := e.svc.UpdateUser(ctx, testkit.Actor, "a", "alice", func(u *db.User) { u.Disabled = false }); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.UpdateTenant(ctx, testkit.Actor, "a", func(tn *db.Tenant) { tn.Disabled = false }); err != nil {
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
			_, err := e.svc.UpdateUser(ctx, testkit.Actor, "a", "alice", func(u *db.User) { u.Disabled = true })
			return err
		})
		run(func() error {
			_, err := e.svc.UpdateTenant(ctx, testkit.Actor, "a", func(tn *db.Tenant) { tn.Disabled = true })
			return err
		})
		for i := 0; i < 3; i++ {
			run(func() error {
				_, err := e.svc.UpdateUser(ctx, testkit.Actor, "a", "alice", func(u *db.User) { u.Scopes = []string{"read"} })
				return err
			})
			run(func() error {
				_, err := e.svc.UpdateTenant(ctx, testkit.Actor, "a", func(tn *db.Tenant) { tn.Name = "renamed" })
				return err
			})
		}
		close(start)
		wg.Wait()
		u, err := e.svc.User(ctx, "a", "alice")
		if err != nil {
			t.Fatal(err)
		}
		tn, err := e.svc.Tenant(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		if !u.Disabled || !tn.Disabled {
			t.Fatalf("round %d: user disabled=%v, tenant disabled=%v after concurrent updates; want both disabled", round, u.Disabled, tn.Disabled)
		}
	}
}
