package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jeton-auth/jeton/db"
)

// An update that changes the hash, or disables the user, bumps the epoch and logs a user
// revocation; one that changes neither moves nothing. A dry run counts and writes nothing.
func TestImportUpdateRevokes(t *testing.T) {
	f := newFixture(t)
	a := f.mustTenant("a").ID
	u := f.mustUser(a)
	ctx := context.Background()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	head := func() int64 {
		p, err := f.store.TenantRevocations(ctx, a, 0, 1<<62, 1000)
		if err != nil {
			t.Fatal(err)
		}
		return int64(len(p.Rows))
	}
	tests := []struct {
		name   string
		row    db.ImportRow
		dryRun bool
		bumps  bool
	}{
		{"same hash", db.ImportRow{PasswordHash: u.PasswordHash, HasHash: true}, false, false},
		{"no hash given", db.ImportRow{}, false, false},
		{"dry run of a new hash", db.ImportRow{PasswordHash: "other", HasHash: true}, true, false},
		{"new hash", db.ImportRow{PasswordHash: "other", HasHash: true}, false, true},
		{"disabled", db.ImportRow{Disabled: true}, false, true},
		{"still disabled", db.ImportRow{Disabled: true}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, err := f.store.UserByID(ctx, a, u.ID)
			must(t, err)
			revs := head()
			tt.row.Line, tt.row.ID, tt.row.Username, tt.row.CreatedAt = 1, uuid.New(), u.Username, now
			b, err := f.store.ImportUsers(ctx, a, []db.ImportRow{tt.row}, db.ImportUpdate, tt.dryRun, now)
			must(t, err)
			if b.Updated != 1 || b.Imported != 0 {
				t.Errorf("batch %+v, want one updated", b)
			}
			after, err := f.store.UserByID(ctx, a, u.ID)
			must(t, err)
			bumped := after.Epoch != before.Epoch
			if bumped != tt.bumps || (head() != revs) != tt.bumps {
				t.Errorf("epoch %d → %d, revocations %d → %d; want a bump: %v", before.Epoch, after.Epoch, revs, head(), tt.bumps)
			}
			if tt.dryRun && after.PasswordHash != before.PasswordHash {
				t.Error("a dry run wrote the hash")
			}
		})
	}
}
