package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/service"
)

// The default access token lives 15 minutes.
func TestAccessTokenExpiry(t *testing.T) {
	w := newWorld(t)
	at := str(w.login(w.app, "alice", testkit.AlicePassword), "access_token")
	w.clock.Advance(15*time.Minute - time.Second)
	if !w.isActive(w.rs, at) {
		t.Fatal("inactive before 15 minutes")
	}
	w.clock.Advance(time.Second)
	if w.isActive(w.rs, at) {
		t.Error("active at 15 minutes")
	}
}

// A refresh token expires after 14 days without use; each refresh starts a new 14 days.
func TestRefreshIdleExpiry(t *testing.T) {
	w := newWorld(t)
	rt := str(w.login(w.app, "alice", testkit.AlicePassword), "refresh_token")
	w.clock.Advance(14*day - time.Second)
	rt = str(w.mustRefresh(w.app, rt), "refresh_token")
	w.clock.Advance(14*day - time.Second)
	rt = str(w.mustRefresh(w.app, rt), "refresh_token")
	w.clock.Advance(14 * day)
	expectOAuthError(t, w.tryRefresh(w.app, rt), http.StatusBadRequest, "invalid_grant")
}

// A session ends 90 days after its login however often it is refreshed, and no token
// descended from it outlives it.
func TestSessionMaxLifetime(t *testing.T) {
	w := newWorld(t)
	rt := str(w.login(w.app, "alice", testkit.AlicePassword), "refresh_token")
	for range 6 { // day 78
		w.clock.Advance(13 * day)
		rt = str(w.mustRefresh(w.app, rt), "refresh_token")
	}
	w.clock.Advance(12*day - 5*time.Minute) // 5 minutes before the end
	last := w.mustRefresh(w.app, rt)
	if last["expires_in"] != float64(300) {
		t.Errorf("expires_in 5 minutes before the session ends: %v, want 300", last["expires_in"])
	}
	w.clock.Advance(5 * time.Minute)
	if w.isActive(w.rs, str(last, "access_token")) {
		t.Error("an access token is active after its session ended")
	}
	expectOAuthError(t, w.tryRefresh(w.app, str(last, "refresh_token")), http.StatusBadRequest, "invalid_grant")
}

// Lifetimes come from the client, else the tenant, else the configuration.
func TestLifetimeOverrides(t *testing.T) {
	ctx := context.Background()
	dur := func(d time.Duration) *time.Duration { return &d }
	for _, c := range []struct {
		name          string
		tenant        func(*db.Tenant)
		client        func(*service.ClientSpec)
		wantExpiresIn float64
		idle, max     time.Duration // refresh idle and session lifetimes in effect
	}{
		{
			name:          "configured defaults",
			wantExpiresIn: 900, idle: 14 * day, max: 90 * day,
		},
		{
			name: "tenant overrides",
			tenant: func(tn *db.Tenant) {
				tn.AccessTTL, tn.RefreshIdleTTL, tn.RefreshMaxTTL = dur(5*time.Minute), dur(time.Hour), dur(3*time.Hour)
			},
			wantExpiresIn: 300, idle: time.Hour, max: 3 * time.Hour,
		},
		{
			name: "client overrides beat the tenant's",
			tenant: func(tn *db.Tenant) {
				tn.AccessTTL, tn.RefreshIdleTTL, tn.RefreshMaxTTL = dur(5*time.Minute), dur(time.Hour), dur(3*time.Hour)
			},
			client: func(s *service.ClientSpec) {
				s.AccessTTL, s.RefreshIdleTTL, s.RefreshMaxTTL = dur(time.Minute), dur(2*time.Hour), dur(5*time.Hour)
			},
			wantExpiresIn: 60, idle: 2 * time.Hour, max: 5 * time.Hour,
		},
		{
			name:   "client override over the configured defaults",
			client: func(s *service.ClientSpec) { s.AccessTTL = dur(30 * time.Minute) },
			// The tenant sets nothing: the other lifetimes are the configured ones.
			wantExpiresIn: 1800, idle: 14 * day, max: 90 * day,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			if c.tenant != nil {
				if _, err := w.svc.UpdateTenant(ctx, w.cli, "a", c.tenant); err != nil {
					t.Fatal(err)
				}
			}
			spec := service.ClientSpec{Name: "app2", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read"}}
			if c.client != nil {
				c.client(&spec)
			}
			app := w.mustClient("a", spec)
			tok := w.login(app, "alice", testkit.AlicePassword)
			if tok["expires_in"] != c.wantExpiresIn {
				t.Errorf("expires_in %v, want %v", tok["expires_in"], c.wantExpiresIn)
			}
			access := time.Duration(c.wantExpiresIn) * time.Second
			w.clock.Advance(access - time.Second)
			if !w.isActive(w.rs, str(tok, "access_token")) {
				t.Error("access token inactive just before its lifetime")
			}
			w.clock.Advance(time.Second)
			if w.isActive(w.rs, str(tok, "access_token")) {
				t.Error("access token active at the end of its lifetime")
			}

			// Idle: a refresh token used just in time works, one left idle does not.
			rt := str(w.mustRefresh(app, str(tok, "refresh_token")), "refresh_token")
			w.clock.Advance(c.idle)
			expectOAuthError(t, w.tryRefresh(app, rt), http.StatusBadRequest, "invalid_grant")

			// Absolute: refreshing within the idle time keeps a new session only until its end.
			rt = str(w.login(app, "alice", testkit.AlicePassword), "refresh_token")
			step, elapsed := c.idle-time.Second, time.Duration(0)
			for elapsed+step < c.max {
				w.clock.Advance(step)
				elapsed += step
				rt = str(w.mustRefresh(app, rt), "refresh_token")
			}
			w.clock.Advance(c.max - elapsed)
			expectOAuthError(t, w.tryRefresh(app, rt), http.StatusBadRequest, "invalid_grant")
		})
	}
}
