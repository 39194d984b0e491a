package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	mrand "math/rand/v2"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jeton-auth/jeton/keyring"
	"github.com/jeton-auth/jeton/service"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// mfaUsers is how many users the second-factor scenario logs in as: a user completes at
// most one login per 30-second TOTP step (codes are never replayed), so the pool must
// outlast 30 s of logins at the machine's rate.
const mfaUsers = 4000

// benchKeys is the key ring the bench's jeton seals factor secrets with.
var benchKeys = func() string {
	spec, err := keyring.Generate("bench", rand.Reader)
	if err != nil {
		panic(err)
	}
	return spec
}()

// mfaUser is a seeded user with an active TOTP factor.
type mfaUser struct {
	name   string
	secret string // base32
}

// seedMFA makes tenant bench-mfa with an app client and mfaUsers users who share the
// CLI user's password hash, each with a TOTP factor sealed as jeton seals them.
func (b *bench) seedMFA(ctx context.Context) (cred, []mfaUser, uuid.UUID, error) {
	const slug = "bench-mfa"
	if _, err := b.cli(ctx, nil, "", "tenant", "create", slug, "--json"); err != nil {
		return cred{}, nil, uuid.Nil, err
	}
	app, err := b.createClient(ctx, slug, "app", "--grant", "password", "--scope", "read")
	if err != nil {
		return cred{}, nil, uuid.Nil, err
	}
	var tenant uuid.UUID
	if err := b.pool.QueryRow(ctx, `SELECT id FROM tenants WHERE slug = $1`, slug).Scan(&tenant); err != nil {
		return cred{}, nil, uuid.Nil, err
	}
	ids, err := b.seedBulkUsers(ctx, tenant, "mfa", mfaUsers, "login-cli")
	if err != nil {
		return cred{}, nil, uuid.Nil, err
	}
	keys, err := keyring.Parse(benchKeys)
	if err != nil {
		return cred{}, nil, uuid.Nil, err
	}
	users := make([]mfaUser, len(ids))
	rows := make([][]any, len(ids))
	now := time.Now()
	for i, id := range ids {
		raw := make([]byte, 20)
		if _, err := rand.Read(raw); err != nil {
			return cred{}, nil, uuid.Nil, err
		}
		keyID, sealed, err := service.SealTOTPSecret(keys, tenant, id, raw, rand.Reader)
		if err != nil {
			return cred{}, nil, uuid.Nil, err
		}
		key, err := totp.Generate(totp.GenerateOpts{Issuer: slug, AccountName: "x", Secret: raw})
		if err != nil {
			return cred{}, nil, uuid.Nil, err
		}
		users[i] = mfaUser{name: fmt.Sprintf("mfa-%07d", i), secret: key.Secret()}
		rows[i] = []any{tenant, id, keyID, sealed, now, now}
	}
	if _, err := b.pool.CopyFrom(ctx, pgx.Identifier{"mfa_totp"},
		[]string{"tenant_id", "user_id", "key_id", "secret", "confirmed_at", "created_at"}, pgx.CopyFromRows(rows)); err != nil {
		return cred{}, nil, uuid.Nil, fmt.Errorf("seed factors: %w", err)
	}
	return app, users, tenant, nil
}

// mfaPicker hands out users whose last login was of an earlier TOTP step than now's.
type mfaPicker struct {
	mu   sync.Mutex
	next int
	last []int64 // the step of each user's last login
}

func (p *mfaPicker) pick() (int, int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	step := time.Now().Unix() / 30
	for range len(p.last) {
		i := p.next
		p.next = (p.next + 1) % len(p.last)
		if p.last[i] < step {
			p.last[i] = step
			return i, step
		}
	}
	return -1, step
}

// mfaLogins measures password+OTP logins per second against password-only logins of the
// same users in the same run: the second step is one short statement, no hashing.
func (b *bench) mfaLogins(ctx context.Context) error {
	app, users, tenant, err := b.seedMFA(ctx)
	if err != nil {
		return err
	}
	pw := "bench login password " + b.cfg.seed
	form := func(u mfaUser) string {
		return "grant_type=password&username=" + u.name + "&password=" + strings.ReplaceAll(pw, " ", "+")
	}
	setPolicy := func(p string) error {
		_, err := b.pool.Exec(ctx, `UPDATE tenants SET mfa_policy = $2 WHERE id = $1`, tenant, p)
		return err
	}
	// Password only: the same users, their factors ignored under policy off.
	if err := setPolicy(service.MFAOff); err != nil {
		return err
	}
	passwordOnly := func(name string) result {
		r := runLoads(ctx, b.cfg.warmup, b.cfg.duration, load{name: name, concurrency: b.cfg.concurrency,
			build: func(w int, r *mrand.Rand) *http.Request {
				return formPost(b.main.base+"/token", app.Basic, form(users[r.IntN(len(users))]))
			},
			check: statusIs(http.StatusOK, `"access_token":"jat_`)})[0]
		b.addResult(r)
		quiesce(b.main, 2*time.Minute)
		return r
	}
	before := passwordOnly("password (mfa tenant, policy off), before")

	if err := setPolicy(service.MFAOptional); err != nil {
		return err
	}
	picker := &mfaPicker{last: make([]int64, len(users))}
	// Each worker alternates: the password step (403 with an mfa_token), then the code.
	type state struct {
		user     int
		mfaToken string
	}
	states := make([]state, b.cfg.concurrency)
	both := runLoads(ctx, b.cfg.warmup, b.cfg.duration, load{name: "password + otp (two requests a login)",
		concurrency: b.cfg.concurrency,
		build: func(w int, _ *mrand.Rand) *http.Request {
			st := &states[w]
			if st.mfaToken == "" {
				i, _ := picker.pick()
				if i < 0 {
					i = 0 // every user logged in this step: the request fails, counted as an error
				}
				st.user = i
				return formPost(b.main.base+"/token", app.Basic, form(users[i]))
			}
			code, _ := totp.GenerateCodeCustom(users[st.user].secret, time.Now(),
				totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
			tok := st.mfaToken
			st.mfaToken = ""
			return formPost(b.main.base+"/token", app.Basic,
				"grant_type="+service.GrantMFAOTP+"&mfa_token="+tok+"&otp="+code)
		},
		check: func(w, status int, body []byte) bool {
			if status == http.StatusForbidden {
				states[w].mfaToken = field(body, "mfa_token")
				return states[w].mfaToken != ""
			}
			return status == http.StatusOK && strings.Contains(string(body), `"access_token":"jat_`)
		}})[0]
	b.addResult(both)
	quiesce(b.main, 2*time.Minute)
	if err := setPolicy(service.MFAOff); err != nil {
		return err
	}
	after := passwordOnly("password (mfa tenant, policy off), after")
	// The machine is shared: the password-only rate is the mean of a run before and one
	// after, so a drift in between counts against neither side.
	pwd := (before.RPS + after.RPS) / 2
	logins := both.RPS / 2
	ratio := logins / pwd
	// A 503 is the hashing pool refusing a login it could not hash within its bound, which
	// the password-only runs see too: the rates count logins that got tokens, and any other
	// unexpected answer fails the target.
	refused := func(r result) int64 { return r.Statuses[http.StatusServiceUnavailable] }
	b.addTarget("password+OTP logins vs password-only logins", fmt.Sprintf("%.2f× (%s vs %s logins/s, the password-only rate %s and %s before and after; %d users with a TOTP factor; answered 503 for capacity: %d of the password+OTP requests, %d and %d of the password-only ones)",
		ratio, rate(logins), rate(pwd), rate(before.RPS), rate(after.RPS), len(users), refused(both), refused(before), refused(after)),
		"≥ 0.95×", metStr(ratio >= 0.95 && both.Errors == refused(both)))
	return nil
}
