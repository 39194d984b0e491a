package db_test

import (
	"context"
	"encoding/hex"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/jeton-auth/jeton/db"
)

// isolationReads are the cases of the methods that only read: as tenant B, A's rows are
// not there.
var isolationReads = []isolationCase{
	{name: "ClientByID", act: func(t *testing.T, w *world) {
		_, err := w.store.ClientByID(context.Background(), w.b.ID, w.client.ID)
		wantNotFound(t, "ClientByID", err)
	}},
	{name: "ListClients", act: func(t *testing.T, w *world) {
		cs, err := w.store.ListClients(context.Background(), w.b.ID)
		must(t, err)
		var ids []string
		for _, c := range cs {
			ids = append(ids, c.ID)
		}
		if diff := cmp.Diff([]string{w.bClient.ID}, ids); diff != "" {
			t.Errorf("B's clients (-want +got):\n%s", diff)
		}
	}},
	{name: "ListClientsPage", act: func(t *testing.T, w *world) {
		// Searching for A's client by its client_id, and past a cursor at A's client.
		for _, after := range []*db.ClientCursor{nil, {CreatedAt: w.client.CreatedAt.Add(-time.Hour), ID: ""}} {
			cs, err := w.store.ListClientsPage(context.Background(), w.b.ID, w.client.ID, after, 10)
			must(t, err)
			if len(cs) != 0 {
				t.Errorf("A's client searched as B: %+v, want none", cs)
			}
		}
		cs, err := w.store.ListClientsPage(context.Background(), w.b.ID, "", nil, 10)
		must(t, err)
		if len(cs) != 1 || cs[0].ID != w.bClient.ID {
			t.Errorf("B's clients: %+v, want B's own only", cs)
		}
	}},
	{name: "Secrets", act: func(t *testing.T, w *world) {
		s, err := w.store.Secrets(context.Background(), w.b.ID, w.client.ID, isoNow)
		must(t, err)
		if len(s) != 0 {
			t.Errorf("A's client's secrets as B: %+v, want none", s)
		}
	}},
	{name: "TenantSecrets", act: func(t *testing.T, w *world) {
		s, err := w.store.TenantSecrets(context.Background(), w.b.ID, isoNow)
		must(t, err)
		if len(s) != 1 || s[0].ClientID != w.bClient.ID || !cmp.Equal(s[0].Hash, w.bSecret) {
			t.Errorf("B's secrets: %+v, want only its client's one", s)
		}
	}},
	{name: "UserByID", act: func(t *testing.T, w *world) {
		_, err := w.store.UserByID(context.Background(), w.b.ID, w.user.ID)
		wantNotFound(t, "UserByID", err)
	}},
	{name: "UserByUsername", act: func(t *testing.T, w *world) {
		_, err := w.store.UserByUsername(context.Background(), w.b.ID, w.user.Username)
		wantNotFound(t, "UserByUsername", err)
	}},
	{name: "ListUsers", act: func(t *testing.T, w *world) {
		ctx := context.Background()
		all, err := w.store.ListUsers(ctx, w.b.ID, "", "", 100)
		must(t, err)
		if len(all) != 1 || all[0].ID != w.bUser.ID {
			t.Errorf("B's users: %+v, want only its own", all)
		}
		named, err := w.store.ListUsers(ctx, w.b.ID, w.user.Username, "", 100)
		must(t, err)
		if len(named) != 0 {
			t.Errorf("B's users named like A's: %+v, want none", named)
		}
	}},
	{name: "Session", act: func(t *testing.T, w *world) {
		_, err := w.store.Session(context.Background(), w.b.ID, w.session)
		wantNotFound(t, "Session", err)
	}},
	{name: "UserSessions", act: func(t *testing.T, w *world) {
		ctx := context.Background()
		s, err := w.store.UserSessions(ctx, w.b.ID, w.user.ID, isoNow)
		must(t, err)
		if len(s) != 0 {
			t.Errorf("A's user's sessions as B: %+v, want none", s)
		}
		if s, err := w.store.UserSessions(ctx, w.a.ID, w.user.ID, isoNow); err != nil || len(s) != 1 {
			t.Errorf("control: A's user's sessions as A: %+v, %v; want one", s, err)
		}
	}},
	{name: "TokenByHash", act: func(t *testing.T, w *world) {
		for name, h := range w.tokens() {
			_, err := w.store.TokenByHash(context.Background(), w.b.ID, h)
			wantNotFound(t, "TokenByHash of A's "+name+" token", err)
		}
	}},
	// The counts of what a bump revoked, asked as B about A's user, client and epochs;
	// the control counts as A: the login's two tokens and the client token (the revoked
	// one was not live).
	{name: "CountUserRevoked", act: func(t *testing.T, w *world) {
		count := func(tenant db.Tenant) (int64, error) {
			return w.store.CountUserRevoked(context.Background(), tenant.ID, w.user.ID, w.user.Epoch, isoNow)
		}
		wantCounts(t, count, w, 0, 2)
	}},
	{name: "CountClientRevoked", act: func(t *testing.T, w *world) {
		count := func(tenant db.Tenant) (int64, error) {
			return w.store.CountClientRevoked(context.Background(), tenant.ID, w.client.ID, w.client.Epoch, isoNow)
		}
		wantCounts(t, count, w, 0, 3)
	}},
	// As B, B's own login's two tokens.
	{name: "CountTenantRevoked", act: func(t *testing.T, w *world) {
		count := func(tenant db.Tenant) (int64, error) {
			return w.store.CountTenantRevoked(context.Background(), tenant.ID, w.a.Epoch, isoNow)
		}
		wantCounts(t, count, w, 2, 3)
	}},
	{name: "ListEvents", act: func(t *testing.T, w *world) {
		ctx := context.Background()
		uid := w.user.ID.String()
		for _, f := range []db.EventFilter{{}, {UserID: uid}, {ClientID: w.client.ID}, {Kind: "login_success"}} {
			f.Limit = 1000
			got, err := w.store.ListEvents(ctx, &w.b.ID, f)
			must(t, err)
			for _, e := range got {
				if e.TenantID == nil || *e.TenantID != w.b.ID || e.UserID == uid || e.ClientID == w.client.ID {
					t.Errorf("B's events filtered by %+v hold %+v", f, e)
				}
			}
			if (f.UserID != "" || f.ClientID != "") && len(got) != 0 {
				t.Errorf("B's events filtered by %+v: %+v, want none", f, got)
			}
			if mine, err := w.store.ListEvents(ctx, &w.a.ID, f); err != nil || len(mine) == 0 {
				t.Errorf("control: A's events filtered by %+v: %v, %v; want some", f, mine, err)
			}
		}
		// Nor does the global stream (tenant nil) hold any of A's.
		global, err := w.store.ListEvents(ctx, nil, db.EventFilter{Limit: 1000})
		must(t, err)
		for _, e := range global {
			if e.TenantID != nil || e.UserID == uid || e.ClientID == w.client.ID || e.SubjectID == w.a.ID.String() {
				t.Errorf("the global stream holds %+v", e)
			}
		}
	}},
	{name: "TenantRevocations", act: func(t *testing.T, w *world) {
		ctx := context.Background()
		p, err := w.store.TenantRevocations(ctx, w.b.ID, 0, math.MaxInt64, 1000)
		must(t, err)
		if len(p.Rows) != 0 {
			t.Errorf("B's revocation log: %+v, want empty", p.Rows)
		}
		mine, err := w.store.TenantRevocations(ctx, w.a.ID, 0, math.MaxInt64, 1000)
		must(t, err)
		if len(mine.Rows) != 1 || mine.Rows[0].Subject != hex.EncodeToString(w.revoked) {
			t.Errorf("control: A's revocation log: %+v, want its revoked token", mine.Rows)
		}
	}},
	// The caller is found by its globally unique client_id (and then is B's); A's tokens
	// are not B's to introspect, and A's secret does not authenticate B's client.
	{name: "Introspect", act: func(t *testing.T, w *world) {
		caller := db.IntrospectCaller{Found: true, TenantID: w.b.ID, Tenant: w.b.Slug, Introspect: true, Authenticated: true}
		for name, h := range w.tokens() {
			if diff := cmp.Diff(db.IntrospectResult{Caller: caller}, w.introspect(w.bClient, w.bSecret, h)); diff != "" {
				t.Errorf("A's %s token introspected by B's client (-want +got):\n%s", name, diff)
			}
		}
		caller.Authenticated = false
		if diff := cmp.Diff(db.IntrospectResult{Caller: caller}, w.introspect(w.bClient, w.secret, w.access)); diff != "" {
			t.Errorf("B's client with A's secret (-want +got):\n%s", diff)
		}
	}},
	// The reservation reads the user it counts on and whether the address is one the user
	// logged in from: A's username in B names nobody, and A's user's known address is not
	// known in B (so B's pair backs off after BackoffAfter, not BackoffAfterKnown). That
	// A's counters do not answer for B's is TestReserveLoginTenantIsolation.
	{name: "ReserveLogin", bWrites: true, act: func(t *testing.T, w *world) {
		c := db.LoginCounters{TenantID: w.b.ID, Username: w.user.Username, IP: w.counters.IP, IPTenant: &w.b.ID}
		l := limits
		l.BackoffAfter, l.BackoffAfterKnown = 1, 10
		r, err := w.store.ReserveLogin(context.Background(), c, l, isoNow)
		must(t, err)
		if r.Refused || r.User != nil {
			t.Errorf("B's reservation for A's username: %+v (user %+v), want through and no user", r, r.User)
		}
		if r := w.mustReserveWith(c, l, isoNow); !r.Refused || r.Limits[0] != "backoff" {
			t.Errorf("B's second attempt at A's user's known address: %+v, want refused by the back-off", r)
		}
		if got := w.failures(&w.b.ID, "p", c.Username, c.IP); got != 2 {
			t.Errorf("B's pair: %d failures, want 2", got)
		}
	}},
}

// tokens are A's live tokens by name.
func (w *world) tokens() map[string][]byte {
	return map[string][]byte{"access": w.access, "refresh": w.refresh, "client": w.clientToken}
}

// wantCounts checks count is inB as B and inA as A.
func wantCounts(t *testing.T, count func(db.Tenant) (int64, error), w *world, inB, inA int64) {
	t.Helper()
	if n, err := count(w.b); err != nil || n != inB {
		t.Errorf("as B: %d, %v; want %d", n, err, inB)
	}
	if n, err := count(w.a); err != nil || n != inA {
		t.Errorf("control as A: %d, %v; want %d", n, err, inA)
	}
}
