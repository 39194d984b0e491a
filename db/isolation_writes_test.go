package db_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jeton-auth/jeton/db"
)

// isolationWrites are the cases of the methods that write: as tenant B, A's rows are not
// found and not changed, and B writes nothing either unless the case says so.
var isolationWrites = []isolationCase{
	{name: "UpdateClient", act: func(t *testing.T, w *world) {
		_, err := w.store.UpdateClient(context.Background(), w.b.ID, w.client.ID, func(c db.Client) (db.Client, db.Event, error) {
			t.Errorf("edit called with A's client %+v", c)
			c.Disabled = true
			return c, evIn(w.b.ID, "client_updated"), nil
		})
		wantNotFound(t, "UpdateClient", err)
	}},
	{name: "DeleteClient", act: func(t *testing.T, w *world) {
		err := w.store.DeleteClient(context.Background(), w.b.ID, w.client.ID, evIn(w.b.ID, "client_deleted"))
		wantNotFound(t, "DeleteClient", err)
	}},
	{name: "BumpClientEpoch", act: func(t *testing.T, w *world) {
		_, err := w.store.BumpClientEpoch(context.Background(), w.b.ID, w.client.ID, evIn(w.b.ID, "client_tokens_revoked"))
		wantNotFound(t, "BumpClientEpoch", err)
	}},
	{name: "RotateSecret", act: func(t *testing.T, w *world) {
		err := w.store.RotateSecret(context.Background(), w.b.ID, w.client.ID, randomHash(t), isoNow,
			evIn(w.b.ID, "client_secret_rotated"))
		wantNotFound(t, "RotateSecret", err)
	}},
	// client_ids and secret hashes are unique across tenants: B cannot take A's.
	{name: "CreateClient", act: func(t *testing.T, w *world) {
		ctx := context.Background()
		c := db.Client{TenantID: w.b.ID, ID: w.client.ID, Name: "taken", GrantTypes: []string{"client_credentials"},
			Scopes: []string{}}
		if _, err := w.store.CreateClient(ctx, c, randomHash(t), evIn(w.b.ID, "client_created")); !errors.Is(err, db.ErrConflict) {
			t.Errorf("B's client with A's client_id: %v, want ErrConflict", err)
		}
		c.ID = "jc_" + short()
		if _, err := w.store.CreateClient(ctx, c, w.secret, evIn(w.b.ID, "client_created")); !errors.Is(err, db.ErrConflict) {
			t.Errorf("B's client with A's secret hash: %v, want ErrConflict", err)
		}
	}},
	{name: "UpdateUser", act: func(t *testing.T, w *world) {
		_, err := w.store.UpdateUser(context.Background(), w.b.ID, w.user.ID, func(u db.User) (db.User, db.Event, error) {
			t.Errorf("edit called with A's user %+v", u)
			u.Disabled = true
			return u, evIn(w.b.ID, "user_updated"), nil
		})
		wantNotFound(t, "UpdateUser", err)
	}},
	{name: "SetPassword", act: func(t *testing.T, w *world) {
		_, err := w.store.SetPassword(context.Background(), w.b.ID, w.user.ID, "new", evIn(w.b.ID, "user_password_set"))
		wantNotFound(t, "SetPassword", err)
	}},
	{name: "BumpUserEpoch", act: func(t *testing.T, w *world) {
		_, err := w.store.BumpUserEpoch(context.Background(), w.b.ID, w.user.ID, evIn(w.b.ID, "user_tokens_revoked"))
		wantNotFound(t, "BumpUserEpoch", err)
	}},
	{name: "DeleteUser", act: func(t *testing.T, w *world) {
		err := w.store.DeleteUser(context.Background(), w.b.ID, w.user.ID, evIn(w.b.ID, "user_deleted"))
		wantNotFound(t, "DeleteUser", err)
	}},
	// Also in TestRehashPassword; here with the check that nothing of A's moved.
	{name: "RehashPassword", act: func(t *testing.T, w *world) {
		ok, err := w.store.RehashPassword(context.Background(), w.b.ID, w.user.ID, w.user.PasswordHash, w.user.Epoch, "new")
		if err != nil || ok {
			t.Errorf("RehashPassword as tenant B: %v, %v; want false, nil", ok, err)
		}
	}},
	// Usernames are per tenant: B gets a user of its own under A's username.
	{name: "CreateUser", bWrites: true, act: func(t *testing.T, w *world) {
		u, err := w.store.CreateUser(context.Background(), db.User{TenantID: w.b.ID, Username: w.user.Username,
			PasswordHash: "b's"}, evIn(w.b.ID, "user_created"))
		must(t, err)
		if u.TenantID != w.b.ID || u.ID == w.user.ID || u.PasswordHash != "b's" {
			t.Errorf("B's user under A's username: %+v", u)
		}
	}},
	{name: "RevokeToken", act: func(t *testing.T, w *world) {
		for name, h := range w.tokens() {
			ok, err := w.store.RevokeToken(context.Background(), w.b.ID, h, evIn(w.b.ID, "token_revoked"))
			if err != nil || ok {
				t.Errorf("RevokeToken of A's %s token as tenant B: %v, %v; want false, nil", name, ok, err)
			}
		}
	}},
	{name: "RevokeSession", act: func(t *testing.T, w *world) {
		ok, err := w.store.RevokeSession(context.Background(), w.b.ID, w.session, evIn(w.b.ID, "session_revoked"))
		if err != nil || ok {
			t.Errorf("RevokeSession as tenant B: %v, %v; want false, nil", ok, err)
		}
	}},
	// A's refresh token as it is, and A's hash spliced into B's own refresh token (B's
	// session, client, user and epochs, all live): either way A's token is not B's to use.
	{name: "Rotate", act: func(t *testing.T, w *world) {
		ctx := context.Background()
		a, err := w.store.TokenByHash(ctx, w.a.ID, w.refresh)
		must(t, err)
		spliced, err := w.store.TokenByHash(ctx, w.b.ID, w.bRefresh)
		must(t, err)
		spliced.Hash = w.refresh
		for what, old := range map[string]db.Token{"A's refresh token": a, "A's hash in B's token": spliced} {
			err := w.store.Rotate(ctx, db.Rotation{TenantID: w.b.ID, Old: old, Scope: old.Scope, Now: isoNow,
				Access: w.newToken(isoNow.Add(15 * time.Minute)), Refresh: w.newToken(isoNow.Add(24 * time.Hour)),
				Event: evIn(w.b.ID, "token_refreshed")})
			wantStale(t, "Rotate of "+what, err)
		}
	}},
	// A login in B naming A's client, A's user, or both, under epochs that are all 1.
	{name: "IssueLogin", act: func(t *testing.T, w *world) {
		c := db.LoginCounters{TenantID: w.b.ID, Username: w.user.Username, IP: w.counters.IP, IPTenant: &w.b.ID}
		for _, tt := range []struct {
			what   string
			client string
			user   uuid.UUID
		}{
			{"A's client and user", w.client.ID, w.user.ID},
			{"B's client and A's user", w.bClient.ID, w.user.ID},
			{"A's client and B's user", w.client.ID, w.bUser.ID},
		} {
			l := db.Login{TenantID: w.b.ID, ClientID: tt.client, UserID: tt.user, SessionID: uuid.New(), Now: isoNow,
				SessionExpiresAt: isoNow.Add(time.Hour), Epochs: db.Epochs{Tenant: w.b.Epoch, Client: w.client.Epoch, User: &w.user.Epoch},
				Access: w.newToken(isoNow.Add(time.Minute)), Refresh: ptr(w.newToken(isoNow.Add(time.Hour))),
				Event: evIn(w.b.ID, "login_success"), Counters: c}
			wantStale(t, "IssueLogin with "+tt.what, w.store.IssueLogin(context.Background(), l))
		}
	}},
	{name: "IssueClientToken", act: func(t *testing.T, w *world) {
		for _, tt := range []struct {
			what   string
			tenant db.Tenant
			client db.Client
			secret []byte
		}{
			{"in B with A's client and secret", w.b, w.client, w.secret},
			{"in B with B's client and A's secret", w.b, w.bClient, w.secret},
			// Not as B, but with B's credentials: B's secret is no secret of A's client.
			{"in A with A's client and B's secret", w.a, w.client, w.bSecret},
		} {
			err := w.store.IssueClientToken(context.Background(), db.ClientToken{TenantID: tt.tenant.ID,
				ClientID: tt.client.ID, Scope: "read", Now: isoNow,
				Epochs:   db.Epochs{Tenant: tt.tenant.Epoch, Client: tt.client.Epoch},
				Versions: db.Versions{Tenant: tt.tenant.Version, Client: tt.client.Version}, SecretHash: tt.secret,
				Access: w.newToken(isoNow.Add(time.Hour)), Event: evIn(tt.tenant.ID, "token_issued")})
			wantStale(t, "IssueClientToken "+tt.what, err)
		}
	}},
	// An event of B's naming A's user and client lands in B's stream alone.
	{name: "RecordEvent", bWrites: true, act: func(t *testing.T, w *world) {
		e := evIn(w.b.ID, "login_failed")
		e.SubjectType, e.SubjectID, e.UserID, e.ClientID = "user", w.user.ID.String(), w.user.ID.String(), w.client.ID
		must(t, w.store.RecordEvent(context.Background(), e))
		got, err := w.store.ListEvents(context.Background(), &w.b.ID, db.EventFilter{UserID: w.user.ID.String(), Limit: 10})
		if err != nil || len(got) != 1 || got[0].Kind != "login_failed" {
			t.Errorf("B's events naming A's user: %+v, %v; want the one recorded", got, err)
		}
	}},
	// A refusal in B for A's username and address, in the window of A's login_throttled
	// event: B's counters and B's event, never A's.
	{name: "RefuseLogin", bWrites: true, act: func(t *testing.T, w *world) {
		c := db.LoginCounters{TenantID: w.b.ID, Username: w.user.Username, IP: w.counters.IP, IPTenant: &w.b.ID}
		must(t, w.store.RefuseLogin(context.Background(), c, w.throttleEvent(w.b.ID), w.window))
		got, err := w.store.ListEvents(context.Background(), &w.b.ID, db.EventFilter{Kind: "login_throttled", Limit: 10})
		if err != nil || len(got) != 1 {
			t.Errorf("B's login_throttled events: %+v, %v; want one", got, err)
		}
	}},
	{name: "ReturnLogin", act: func(t *testing.T, w *world) {
		c := db.LoginCounters{TenantID: w.b.ID, Username: w.user.Username, IP: w.counters.IP, IPTenant: &w.b.ID}
		must(t, w.store.ReturnLogin(context.Background(), c))
	}},
	// Replacing B's key, or a global key, of the name of A's key revokes neither A's key.
	{name: "CreateAdminKey", bWrites: true, act: func(t *testing.T, w *world) {
		for _, tenant := range []*uuid.UUID{&w.b.ID, nil} {
			k, err := w.store.CreateAdminKey(context.Background(), tenant, w.adminKey.Name, randomHash(t), true,
				ev("admin_key_created"))
			if err != nil || (k.TenantID == nil) != (tenant == nil) {
				t.Errorf("replace key %q of tenant %v: %+v, %v", w.adminKey.Name, tenant, k, err)
			}
		}
	}},
	// The tenant methods take the tenant's own id: acting on B leaves A alone.
	{name: "UpdateTenant", bWrites: true, act: func(t *testing.T, w *world) {
		_, err := w.store.UpdateTenant(context.Background(), w.b.ID, func(tn db.Tenant) (db.Tenant, db.Event, error) {
			if tn.ID != w.b.ID {
				t.Errorf("edit called with %+v, want B", tn)
			}
			tn.Disabled, tn.Name = true, "b disabled"
			return tn, evIn(w.b.ID, "tenant_updated"), nil
		})
		must(t, err)
	}},
	{name: "BumpTenantEpoch", bWrites: true, act: func(t *testing.T, w *world) {
		_, err := w.store.BumpTenantEpoch(context.Background(), w.b.ID, evIn(w.b.ID, "tenant_tokens_revoked"))
		must(t, err)
	}},
	{name: "DeleteTenant", bWrites: true, act: func(t *testing.T, w *world) {
		must(t, w.store.DeleteTenant(context.Background(), w.b.ID, ev("tenant_deleted")))
	}},
}
