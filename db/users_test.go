package db_test

import (
	"context"
	"testing"
)

// A rehash replaces the hash it verified under the epoch it read, and moves no epoch.
func TestRehashPassword(t *testing.T) {
	f := newFixture(t)
	a := f.mustTenant("a").ID
	u := f.mustUser(a)
	ctx := context.Background()
	ok, err := f.store.RehashPassword(ctx, a, u.ID, "stale", u.Epoch, "new")
	if err != nil || ok {
		t.Errorf("rehash of a hash no longer stored: %v, %v", ok, err)
	}
	ok, err = f.store.RehashPassword(ctx, a, u.ID, u.PasswordHash, u.Epoch+1, "new")
	if err != nil || ok {
		t.Errorf("rehash under a moved epoch: %v, %v", ok, err)
	}
	ok, err = f.store.RehashPassword(ctx, f.mustTenant("b").ID, u.ID, u.PasswordHash, u.Epoch, "new")
	if err != nil || ok {
		t.Errorf("rehash in another tenant: %v, %v", ok, err)
	}
	ok, err = f.store.RehashPassword(ctx, a, u.ID, u.PasswordHash, u.Epoch, "new")
	if err != nil || !ok {
		t.Fatalf("rehash: %v, %v", ok, err)
	}
	got, err := f.store.UserByID(ctx, a, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.PasswordHash != "new" || got.Epoch != u.Epoch {
		t.Errorf("after the rehash: hash %q epoch %d, want new and %d", got.PasswordHash, got.Epoch, u.Epoch)
	}
}
