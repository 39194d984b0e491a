package db_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/jeton-auth/jeton/db"
)

// isolationBulk are the cases of the user import and export.
var isolationBulk = []isolationCase{
	// Usernames are per tenant: an update as B under A's username creates B's own user;
	// A's user's id is reported taken, never overwritten.
	{name: "ImportUsers", bWrites: true, act: func(t *testing.T, w *world) {
		ctx := context.Background()
		rows := []db.ImportRow{
			{Line: 1, ID: uuid.New(), Username: w.user.Username, PasswordHash: "b's", HasHash: true, CreatedAt: isoNow},
			{Line: 2, ID: w.user.ID, KeepID: true, Username: "other", PasswordHash: "b's", HasHash: true, CreatedAt: isoNow},
		}
		b, err := w.store.ImportUsers(ctx, w.b.ID, rows, db.ImportUpdate, false, isoNow)
		must(t, err)
		if b.Imported != 1 || b.Updated != 0 || len(b.TakenIDs) != 1 || b.TakenIDs[0] != 2 {
			t.Errorf("import as B under A's username and id: %+v, want 1 imported and line 2's id taken", b)
		}
		u, err := w.store.UserByUsername(ctx, w.b.ID, w.user.Username)
		must(t, err)
		if u.ID == w.user.ID || u.PasswordHash != "b's" {
			t.Errorf("B's user under A's username: %+v", u)
		}
	}},
	{name: "ExportUsers", act: func(t *testing.T, w *world) {
		us, err := w.store.ExportUsers(context.Background(), w.b.ID, "", 100)
		must(t, err)
		if len(us) != 1 || us[0].ID != w.bUser.ID {
			t.Errorf("B's export: %+v, want only its own user", us)
		}
	}},
	{name: "LegacyLogin", act: func(t *testing.T, w *world) {
		_, err := w.store.LegacyLogin(context.Background(), w.b.ID)
		wantNotFound(t, "LegacyLogin", err)
	}},
	// B's hook is B's: A still has none.
	{name: "SetLegacyLogin", bWrites: true, act: func(t *testing.T, w *world) {
		ctx := context.Background()
		must(t, w.store.SetLegacyLogin(ctx, w.b.ID, &db.LegacyLogin{URL: "https://b.example/", Secret: "whsec_b"},
			evIn(w.b.ID, "tenant_updated")))
		_, err := w.store.LegacyLogin(ctx, w.a.ID)
		wantNotFound(t, "LegacyLogin of A after B set its own", err)
	}},
}
