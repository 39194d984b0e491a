package service

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/password"
)

// imported are hashes other systems stored (from package legacy's vectors), one a family.
var imported = []struct{ name, pw, hash string }{
	{"bcrypt", "U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"},
	{"sha512-crypt", "Hello world!", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"},
	{"md5-crypt", "password", "$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/"},
	{"django", "password", "pbkdf2_sha256$1000$seasalt$YIWkt6M1JFXrHg5s0jZjBSc7C2Cz6QvchSJ0h8Y+i7c="},
	{"argon2i", "password", "$argon2i$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG"},
	{"ldap", "password", "{SSHA}yI6cZwQadOA1e+/f+T+H3eCQQhRzYWx0"},
	{"firebase", "user1password", `{"algorithm":"firebase-scrypt","hash":"lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==","salt":"42xEC+ixf3L2lw==","signer_key":"jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==","salt_separator":"Bw==","rounds":8,"mem_cost":14}`},
	{"hmac", "what do ya want for nothing?", `{"algorithm":"hmac-sha256","hash":"5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843","encoding":"hex","key":"SmVmZQ=="}`},
}

// mustImportUser stores a user of tenant a with hash as its password hash, as an import does.
func (e *env) mustImportUser(name, hash string) db.User {
	e.t.Helper()
	ctx := context.Background()
	tn, err := e.svc.store.TenantBySlug(ctx, "a")
	if err != nil {
		e.t.Fatal(err)
	}
	u, err := e.svc.store.CreateUser(ctx, db.User{TenantID: tn.ID, Username: name, PasswordHash: hash},
		e.svc.event("user_created", testkit.Actor, &tn))
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// A user imported with another system's hash logs in with the old password, on the hashing
// pool, and that first login replaces the hash with jeton's argon2id, revoking nothing; a
// wrong password fails as for anyone and rewrites nothing.
func TestImportedHashUpgradedOnFirstLogin(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	for _, im := range imported {
		t.Run(im.name, func(t *testing.T) {
			name := "imported-" + im.name
			u := e.mustImportUser(name, im.hash)
			runs := e.svc.HashRuns()
			_, err := e.svc.PasswordGrant(ctx, e.app, PasswordLogin{Username: name, Password: im.pw + "x", Actor: testkit.Actor})
			if !errors.Is(err, ErrInvalidGrant) {
				t.Fatalf("wrong password: %v, want invalid_grant", err)
			}
			if got, _ := e.svc.User(ctx, "a", name); got.PasswordHash != im.hash {
				t.Fatal("a failed login rewrote the hash")
			}
			if _, err := e.svc.PasswordGrant(ctx, e.app, PasswordLogin{Username: name, Password: im.pw, Actor: testkit.Actor}); err != nil {
				t.Fatalf("login with the old system's password: %v", err)
			}
			if got := e.svc.HashRuns() - runs; got != 2 {
				t.Errorf("%d runs on the hashing pool for two logins, want 2", got)
			}
			got, _ := e.svc.User(ctx, "a", name)
			if !strings.HasPrefix(got.PasswordHash, "$argon2id$") || password.NeedsRehash(got.PasswordHash, e.svc.cfg.Hash) {
				t.Errorf("after the first login the hash is %s, want jeton's argon2id", got.PasswordHash)
			}
			if got.Epoch != u.Epoch {
				t.Errorf("epoch %d after the upgrade, want %d: nothing is revoked", got.Epoch, u.Epoch)
			}
			if _, err := e.svc.PasswordGrant(ctx, e.app, PasswordLogin{Username: name, Password: im.pw, Actor: testkit.Actor}); err != nil {
				t.Errorf("login with the upgraded hash: %v", err)
			}
		})
	}
}

// A password set while an imported user's first login is between its verification and its
// tokens stays: the login fails on the moved epoch and the old hash is never upgraded over
// the new one.
func TestImportedHashConcurrentPasswordChangeWins(t *testing.T) {
	var e *env
	const name, pw = "bcrypt-user", "U*U"
	changed := false
	// The change runs on a hashing worker right after the login's verification, before its
	// tokens are written (once); the admin's new hash takes the other worker.
	afterVerify := func() {
		if changed {
			return
		}
		changed = true
		if err := e.svc.SetPassword(context.Background(), testkit.Actor, "a", name, "a new password set by an admin"); err != nil {
			t.Error(err)
		}
	}
	hooked := afterVerifyHasher{password.Local{Rand: rand.Reader}, afterVerify}
	e = newEnv(t, nil, WithHashers([]password.Hasher{hooked, hooked}))
	ctx := context.Background()
	e.mustImportUser(name, imported[0].hash)
	_, err := e.svc.PasswordGrant(ctx, e.app, PasswordLogin{Username: name, Password: pw, Actor: testkit.Actor})
	if !errors.Is(err, ErrInvalidGrant) {
		t.Fatalf("login racing a password change: %v, want invalid_grant", err)
	}
	got, _ := e.svc.User(ctx, "a", name)
	if ok, _ := password.Verify("a new password set by an admin", got.PasswordHash); !ok {
		t.Errorf("the admin's password was overwritten: %s", got.PasswordHash)
	}
	if _, err := e.svc.PasswordGrant(ctx, e.app, PasswordLogin{Username: name, Password: pw, Actor: testkit.Actor}); !errors.Is(err, ErrInvalidGrant) {
		t.Errorf("the old system's password after the change: %v, want invalid_grant", err)
	}
}

// afterVerifyHasher runs after each of its verifications, on the worker.
type afterVerifyHasher struct {
	password.Hasher
	after func()
}

func (h afterVerifyHasher) Verify(pw, phc string) (bool, error) {
	ok, err := h.Hasher.Verify(pw, phc)
	h.after()
	return ok, err
}
