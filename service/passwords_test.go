package service

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/password"
)

// NIST SP 800-63B-4 §3.1.1.2: length in code points after NFKC (15 by default,
// a tenant's own minimum never below 8), at most 1024 bytes, no common password, not the
// username, no composition rules.
func TestPasswordPolicy(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	if _, err := e.svc.CreateTenant(ctx, testkit.Actor, "short", "Short"); err != nil {
		t.Fatal(err)
	}
	eight := 8
	if _, err := e.svc.UpdateTenant(ctx, testkit.Actor, "short", func(tn *db.Tenant) { tn.MinPasswordLength = &eight }); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, tenant, username, pw string
		ok                         bool
	}{
		{"15 characters", "a", "bob", "abcdefghijklmno", true},
		{"14 characters", "a", "bob", "abcdefghijklmn", false},
		{"15 code points of 2 bytes each", "a", "bob", strings.Repeat("é", 15), true},
		{"14 code points of many bytes", "a", "bob", strings.Repeat("𝒜", 14), false},
		{"NFKC folds a ligature into two", "a", "bob", "ﬀ" + strings.Repeat("x", 13), true},
		{"no composition rules: one repeated lower-case letter", "a", "bob", strings.Repeat("a", 15), true},
		{"1024 bytes", "a", "bob", strings.Repeat("p", 1024), true},
		{"1025 bytes", "a", "bob", strings.Repeat("p", 1025), false},
		{"NUL", "a", "bob", "abcdefghijklmno\x00", false},
		{"invalid UTF-8", "a", "bob", "abcdefghijklmno\xff", false},
		{"spaces and any Unicode", "a", "bob", "correct 馬 battery ✓ staple", true},
		{"8 characters where the tenant allows", "short", "bob", "kq8!vz#m", true},
		{"7 characters where the tenant allows 8", "short", "bob", "kq8!vz#", false},
		{"a common password", "short", "bob", "iloveyou", false},
		{"a common password in other case", "short", "bob", "ILoveYou", false},
		{"a common password in full-width letters", "short", "bob", "ｓｕｎｓｈｉｎｅ", false},
		{"a common password of 15 characters", "a", "bob", "1qaz2wsx3edc4rfv", false},
		{"the username", "a", "bob-the-builder1", "Bob-The-Builder1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.CreateUser(ctx, testkit.Actor, tt.tenant, tt.username, tt.pw, nil)
			var ve *ValidationError
			switch {
			case tt.ok && err != nil:
				t.Errorf("refused: %v", err)
			case !tt.ok && (!errors.As(err, &ve) || ve.Field != "password"):
				t.Errorf("got %v, want a ValidationError on password", err)
			}
			if err == nil {
				if err := e.svc.DeleteUser(ctx, testkit.Actor, tt.tenant, tt.username); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	t.Run("set-password applies it too", func(t *testing.T) {
		err := e.svc.SetPassword(ctx, testkit.Actor, "a", "alice", "password")
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("got %v, want a ValidationError", err)
		}
	})
}

// Tenants override the password minimum and the login thresholds within the
// deployment's bounds.
func TestTenantSecuritySettings(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	v := func(n int) *int { return &n }
	max := DefaultThrottle()
	tests := []struct {
		name   string
		change func(*db.Tenant)
		field  string // "" when valid
	}{
		{"minimum 8", func(tn *db.Tenant) { tn.MinPasswordLength = v(8) }, ""},
		{"minimum 7", func(tn *db.Tenant) { tn.MinPasswordLength = v(7) }, "min_password_length"},
		{"minimum 64", func(tn *db.Tenant) { tn.MinPasswordLength = v(64) }, ""},
		{"minimum 65", func(tn *db.Tenant) { tn.MinPasswordLength = v(65) }, "min_password_length"},
		{"back-off at the maximum", func(tn *db.Tenant) { tn.LoginBackoffAfter = v(max.MaxBackoffAfter) }, ""},
		{"back-off over the maximum", func(tn *db.Tenant) { tn.LoginBackoffAfter = v(max.MaxBackoffAfter + 1) }, "login_backoff_after"},
		{"back-off 0", func(tn *db.Tenant) { tn.LoginBackoffAfter = v(0) }, "login_backoff_after"},
		{"username limit over the maximum", func(tn *db.Tenant) { tn.LoginUserLimit = v(max.MaxUserLimit + 1) }, "login_user_limit"},
		{"address limit 1", func(tn *db.Tenant) { tn.LoginIPLimit = v(1) }, ""},
		{"address limit over the maximum", func(tn *db.Tenant) { tn.LoginIPLimit = v(max.MaxIPLimit + 1) }, "login_ip_limit"},
		{"back to the defaults", func(tn *db.Tenant) {
			tn.MinPasswordLength, tn.LoginBackoffAfter, tn.LoginUserLimit, tn.LoginIPLimit = nil, nil, nil, nil
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.svc.UpdateTenant(ctx, testkit.Actor, "a", tt.change)
			var ve *ValidationError
			switch {
			case tt.field == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.field != "" && (!errors.As(err, &ve) || ve.Field != tt.field):
				t.Errorf("got %v, want a ValidationError on %s", err, tt.field)
			case tt.field == "":
				want := got
				tt.change(&want) // what was asked is what is stored
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("stored (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// A successful login under other argon2id parameters rehashes the password with
// the current ones, revoking nothing; a failed one rewrites nothing.
func TestRehashOnLogin(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	old := password.Params{Memory: 32, Time: 1, Threads: 1}
	oldHash, err := password.Hash(testkit.AlicePassword, old, e.svc.rand)
	if err != nil {
		t.Fatal(err)
	}
	alice, err := e.svc.User(ctx, "a", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.store.SetPassword(ctx, alice.TenantID, alice.ID, oldHash, e.svc.event("user_password_set", testkit.Actor, nil)); err != nil {
		t.Fatal(err)
	}
	alice, _ = e.svc.User(ctx, "a", "alice")

	_, err = e.svc.PasswordGrant(ctx, e.app, PasswordLogin{Username: "alice", Password: "wrong password", Actor: testkit.Actor})
	if !errors.Is(err, ErrInvalidGrant) {
		t.Fatalf("wrong password: %v", err)
	}
	if got, _ := e.svc.User(ctx, "a", "alice"); got.PasswordHash != oldHash {
		t.Fatal("a failed login rewrote the hash")
	}
	first := e.login()
	got, _ := e.svc.User(ctx, "a", "alice")
	if password.NeedsRehash(got.PasswordHash, e.svc.cfg.Hash) || got.Epoch != alice.Epoch {
		t.Errorf("after a login: %s at epoch %d, want the current parameters at epoch %d", got.PasswordHash, got.Epoch, alice.Epoch)
	}
	if ok, err := password.Verify(testkit.AlicePassword, got.PasswordHash); !ok || err != nil {
		t.Errorf("the new hash does not verify alice's password: %v", err)
	}
	if _, _, ok, err := e.svc.IntrospectAs(ctx, e.rs(), first.AccessToken, ""); !ok || err != nil {
		t.Errorf("the login's own token after the rehash: %v, %v", ok, err)
	}
	e.login() // and the new hash works
}

// rs returns the credentials of a new resource server of tenant a.
func (e *env) rs() Credentials {
	e.t.Helper()
	c, secret, err := e.svc.CreateClient(context.Background(), testkit.Actor, "a", ClientSpec{Name: "rs", Introspect: true})
	if err != nil {
		e.t.Fatal(err)
	}
	return Credentials{ClientID: c.ID, Secret: secret}
}

// The pad follows the slowest generation's moving average.
func TestFailurePad(t *testing.T) {
	var f failurePad
	cur, old := "argon2id m=64 t=2 p=1", "bcrypt 10"
	if f.target() != 0 {
		t.Errorf("target with nothing seen: %v", f.target())
	}
	f.observe(old, 10*time.Millisecond)
	f.observe(cur, 20*time.Millisecond)
	if got := f.target(); got != 20*time.Millisecond {
		t.Errorf("target %v, want the slower generation's 20ms", got)
	}
	f.observe(cur, 28*time.Millisecond) // an eighth of the way
	if got := f.target(); got != 21*time.Millisecond {
		t.Errorf("target %v, want 21ms", got)
	}
	f.observe(old, 100*time.Millisecond)
	if got := f.target(); got != 21*time.Millisecond+250*time.Microsecond {
		t.Errorf("target %v, want 21.25ms: the old generation is now the slowest", got)
	}
}

// Which address a login counts on, and where.
func TestOriginOf(t *testing.T) {
	tenant := uuid.New()
	ca := func(public, forwards bool) db.ClientAuth {
		return db.ClientAuth{Tenant: db.Tenant{ID: tenant}, Client: db.Client{ID: "jc_app", Public: public, ForwardsUserIP: forwards}}
	}
	user := netip.MustParseAddr("2001:db8:aa:bb:1:2:3:4")
	tests := []struct {
		name     string
		ca       db.ClientAuth
		peer     string
		userIP   netip.Addr
		ip       string
		global   bool
		server   bool
		actorIP  string
		forwards string
	}{
		{"public client", ca(true, false), "192.0.2.1", user, "192.0.2.1", true, false, "192.0.2.1", ""},
		{"public client over IPv6", ca(true, false), "2001:db8:1:2:3:4:5:6", netip.Addr{}, "2001:db8:1:2::/64", true, false, "2001:db8:1:2:3:4:5:6", ""},
		{"public client, IPv4-mapped", ca(true, false), "::ffff:192.0.2.1", netip.Addr{}, "192.0.2.1", true, false, "::ffff:192.0.2.1", ""},
		{"confidential client", ca(false, false), "192.0.2.1", user, "jc_app 192.0.2.1", false, true, "192.0.2.1", ""},
		{"forwarding client", ca(false, true), "192.0.2.1", user, "2001:db8:aa:bb::/64", false, false, user.String(), "192.0.2.1"},
		{"forwarding client without the header", ca(false, true), "192.0.2.1", netip.Addr{}, "jc_app 192.0.2.1", false, true, "192.0.2.1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := originOf(tt.ca, "alice", PasswordLogin{Actor: db.Actor{IP: tt.peer}, UserIP: tt.userIP})
			if o.counters.IP != tt.ip || (o.counters.IPTenant == nil) != tt.global || o.server != tt.server ||
				o.actorIP != tt.actorIP || o.via != tt.forwards || o.counters.TenantID != tenant || o.counters.Username != "alice" {
				t.Errorf("origin %+v (IP tenant %v)", o, o.counters.IPTenant)
			}
		})
	}
}

// A tenant's overrides apply within the maxima in force; a server-side client gets the
// server address limit.
func TestThrottleLimits(t *testing.T) {
	th := DefaultThrottle()
	big := 1 << 20
	l := th.limits(db.Tenant{LoginBackoffAfter: &big, LoginUserLimit: &big, LoginIPLimit: &big}, false)
	if l.BackoffAfter != th.MaxBackoffAfter || l.UserLimit != th.MaxUserLimit || l.IPLimit != th.MaxIPLimit {
		t.Errorf("overrides past the maxima: %+v", l)
	}
	if l := th.limits(db.Tenant{}, true); l.IPLimit != th.ServerIPLimit || l.BackoffAfter != th.BackoffAfter {
		t.Errorf("server-side client: %+v", l)
	}
	if err := th.Check(); err != nil {
		t.Errorf("the defaults: %v", err)
	}
	th.MaxUserLimit = th.UserLimit - 1
	if th.Check() == nil {
		t.Error("a maximum below its default passed")
	}
}

// FuzzParseScope: ParseScope never panics, and what it accepts is RFC 6749 §3.3 syntax
// that joins back to an equivalent scope.
func FuzzParseScope(f *testing.F) {
	for _, s := range []string{"", "read", "read write", "read  write", " read", "read ", "a\x00b", "ré", `a"b`, `a\b`,
		"read read", "\xff", strings.Repeat("a ", 100) + "a", "!#[]~"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseScope(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidScope) {
				t.Fatalf("ParseScope(%q) error %v is not invalid_scope", s, err)
			}
			return
		}
		for _, tok := range got {
			for i := 0; i < len(tok); i++ {
				if c := tok[i]; c < 0x21 || c == '"' || c == '\\' || c > 0x7e {
					t.Fatalf("ParseScope(%q) accepted token %q", s, tok)
				}
			}
		}
		again, err := ParseScope(strings.Join(got, " "))
		if err != nil || !cmp.Equal(again, got) {
			t.Fatalf("ParseScope(%q) = %q does not round-trip: %q, %v", s, got, again, err)
		}
	})
}
