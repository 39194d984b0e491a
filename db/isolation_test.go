package db_test

// Tenant isolation at the db level, after Hydra's persister_nid_test: every exported Store
// method that reads or writes tenant data has a case in isolationCases
// (isolation_reads_test.go, isolation_writes_test.go), named after the method. Each case
// gets two fresh tenants: A with a client, a user, a login (session, access and refresh
// token, known address), client_credentials tokens, a revocation, an admin key, events and
// throttle state; B with a client, a user and a login of its own. The case acts as tenant B with A's
// ids, hashes and names and checks the method's "not there" (ErrNotFound, ErrStale, an
// empty result, nothing changed); the harness then checks that none of A's rows changed and,
// read as tenant A, that A's client, user, session and tokens are still there and live.
//
// The methods without a case are in isolationExempt below, each with why.
// TestTenantIsolationCoversStore fails for an exported Store method that is in neither, so
// a new method gets a case (or a reason) before it lands.

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/jeton-auth/jeton/db"
)

// isolationExempt lists the exported Store methods that are deliberately not tenant-scoped,
// with why.
var isolationExempt = map[string]string{
	// global.go: lookups by a globally unique key the caller presents; each returns the
	// tenant it found, which is explicit from then on.
	"ClientForAuth":        "global.go: a client by its globally unique client_id; returns its tenant",
	"AdminKeyByHash":       "global.go: an admin key by the SHA-256 of the key presented; names its tenant",
	"TokenByHashAnyTenant": "global.go: a token by hash for a global admin key; Token.TenantID says whose",
	"OriginAllowed":        "global.go: a CORS preflight carries no credentials, so it asks about every live client",
	"MarkDev":              "global.go: a mark on the database itself (jeton_meta), no tenant data",
	"IsDev":                "global.go: the dev mark and whether any tenant exists, no tenant's data",
	"DevSecretKey":         "global.go: a dev database's key ring, in jeton_meta, no tenant data",
	// Tenants themselves.
	"CreateTenant":    "creates a tenant: there is no other tenant to act as",
	"TenantBySlug":    "lookup by the globally unique slug; returns the tenant found",
	"ListTenantsPage": "the deployment's tenant list (admin API; a tenant key's is filtered in service)",
	// admin_keys belongs to the deployment (adminkeys.go); only the CLI manages keys.
	"ListAdminKeys":  "every admin key of the deployment, for the CLI",
	"RevokeAdminKey": "names the key by its globally unique id, CLI only; the event goes to the key's own tenant",
	// The revocation feed's reader reads the log once for every subscriber and routes rows
	// by tenant (revocations.go).
	"RevocationsAfter": "the feed's global reader; every row carries its TenantID",
	"RevocationHead":   "the log's largest id, a global cursor",
	"Listen":           "LISTEN on a global channel: revocation ids or empty wake-ups",
	"Notify":           "NOTIFY on a global channel: the listeners' self-check, no tenant data",
	// The sweeper (sweep.go) crosses tenants on purpose; TestPurgeDeletedTenants checks
	// that a live tenant's rows survive the purge of a deleted one.
	"SweepExpiredTokens":   "sweeper: expiry is the same for every tenant",
	"SweepExpiredSessions": "sweeper",
	"SweepRevokedSessions": "sweeper",
	"SweepEvents":          "sweeper: per-tenant retention is read from each event's tenant",
	"SweepRevocations":     "sweeper",
	"SweepLoginThrottles":  "sweeper",
	"SweepKnownIPs":        "sweeper",
	"PurgeDeletedTenants":  "sweeper: deletes only rows of tenants with deleted_at set",
	"SweepMFATokens":       "sweeper: expiry is the same for every tenant",
	"SweepMFAFailures":     "sweeper",
	// No tenant data at all.
	"WithXactLock":     "a transaction-level advisory lock around the sweeper's batches, no tenant data",
	"Ping":             "no tenant data",
	"MinBinaryVersion": "reads jeton_meta, no tenant data",
	// Second factors (mfa.go, mfa_factors.go, global.go).
	"MFAChallengeByHash": "an mfa_token by the SHA-256 of the token presented; MFAToken.TenantID says whose",
	"AccountTokenByHash": "global.go: an access token by the SHA-256 of the token presented; names its tenant",
	"TOTPSecrets":        "jeton keys rotate re-seals every tenant's factor secrets; each row names its tenant",
	"MFAPolicyTenants":   "serve's start-up check: the slugs of every tenant whose policy needs the key ring",
	// The webhook dispatcher (webhook_queue.go, webhook_deliveries.go) serves every tenant:
	// it reads events once for all endpoints and works queues by endpoint id, each row
	// naming its tenant.
	"TakeWebhookEvents":      "webhook dispatcher: turns every tenant's events into deliveries of matching endpoints",
	"ClaimWebhook":           "webhook dispatcher: leases whichever endpoint is due; the endpoint names its tenant",
	"RenewWebhook":           "webhook dispatcher: a lease it holds, by endpoint id",
	"ReleaseWebhook":         "webhook dispatcher: a lease it holds, by endpoint id",
	"NextDeliveries":         "webhook dispatcher: the queue of an endpoint it holds",
	"RecordWebhookAttempt":   "webhook dispatcher: an attempt on an endpoint it holds",
	"SweepWebhookDeliveries": "sweeper: finished deliveries of events that are gone, whoever's",
	// First-party apps (firstparty.go): lookups by the SHA-256 of what the caller presents.
	"AuthCodeByHash":         "a code by the SHA-256 of the code presented; AuthCode.TenantID says whose",
	"AuthSessionByHash":      "an auth_session by the SHA-256 presented; its Session.TenantID says whose",
	"ChallengeSessionByHash": "by the hash of an mfa_token row the caller already found and checked",
	"SweepAuthCodes":         "sweeper: expiry is the same for every tenant",
	// Test-only.
	// Lookups by a secret the caller presents (lifecycle.go, lifecycle_tenants.go).
	"ResetUser":        "a reset token by the SHA-256 of the token presented; the user's TenantID names the tenant",
	"TenantByID":       "the tenant a presented reset token named",
	"AppendRevocation": "export_test.go hook for tests: writes the Revocation it is given in the caller's transaction",
}

// TestTenantIsolationCoversStore: every exported method of *db.Store has an isolation case
// or a place on the exempt list, never both, and neither list names a method that is gone.
func TestTenantIsolationCoversStore(t *testing.T) {
	cased := map[string]bool{}
	for _, c := range isolationCases {
		if cased[c.name] {
			t.Errorf("two isolation cases named %s", c.name)
		}
		cased[c.name] = true
	}
	methods := map[string]bool{}
	st := reflect.TypeFor[*db.Store]()
	for i := range st.NumMethod() {
		name := st.Method(i).Name
		methods[name] = true
		_, exempt := isolationExempt[name]
		switch {
		case !cased[name] && !exempt:
			t.Errorf("Store.%s has no tenant isolation case (isolation_*_test.go) and is not on isolationExempt", name)
		case cased[name] && exempt:
			t.Errorf("Store.%s has an isolation case and is on isolationExempt", name)
		}
	}
	for _, names := range []map[string]bool{cased, keys(isolationExempt)} {
		for name := range names {
			if !methods[name] {
				t.Errorf("isolation lists Store.%s, which *db.Store does not have", name)
			}
		}
	}
	t.Logf("%d methods: %d with an isolation case, %d exempt", len(methods), len(cased), len(isolationExempt))
}

func keys[V any](m map[string]V) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

// isolationCase acts as tenant B on tenant A's things through one Store method.
type isolationCase struct {
	name string // the method's name
	// bWrites says acting as B legitimately writes B's rows (an event, a counter, a user
	// of its own); otherwise B's rows must not change either.
	bWrites bool
	act     func(t *testing.T, w *world)
}

// isolationCases is every case, one per tenant-scoped Store method.
var isolationCases = slices.Concat(isolationReads, isolationWrites, isolationMFA, isolationWebhooks, isolationFirstParty,
	isolationBulk, isolationLifecycle)

// TestTenantIsolation runs every case on two fresh tenants of one database.
func TestTenantIsolation(t *testing.T) {
	base := newFixture(t)
	for _, tc := range isolationCases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, base)
			w.checkLive(t, "before")
			a, b := w.rowsOf(w.a.ID), w.rowsOf(w.b.ID)
			tc.act(t, w)
			if diff := cmp.Diff(a, w.rowsOf(w.a.ID)); diff != "" {
				t.Errorf("tenant A's rows changed (-before +after):\n%s", diff)
			}
			if !tc.bWrites {
				if diff := cmp.Diff(b, w.rowsOf(w.b.ID)); diff != "" {
					t.Errorf("tenant B's rows changed (-before +after):\n%s", diff)
				}
			}
			w.checkLive(t, "after")
		})
	}
}

// isoNow is when the cases act: every token of A's is live then.
var isoNow = t0.Add(time.Minute)

// world is two tenants: A with one of everything, B with a client, a user and a login.
type world struct {
	fixture
	a, b db.Tenant

	// A's, all written as tenant A.
	client      db.Client // confidential, introspects, allows https://app.example
	secret      []byte    // the client's secret hash
	user        db.User
	session     uuid.UUID
	access      []byte // the login's tokens
	refresh     []byte
	clientToken []byte // a client_credentials token
	revoked     []byte // another one, revoked: a row in A's revocation log
	adminKey    db.AdminKey
	adminHash   []byte
	counters    db.LoginCounters // one unit reserved on each; a login_throttled event in window
	window      time.Time

	// B's own, and a login of B's user.
	bClient  db.Client
	bSecret  []byte
	bUser    db.User
	bRefresh []byte
}

func newWorld(t *testing.T, base fixture) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{fixture: fixture{t: t, pool: base.pool, store: base.store}}
	w.a, w.b = w.mustTenant("a-"+short()), w.mustTenant("b-"+short())
	a := w.a.ID
	w.client, w.secret = w.newClient(a)
	w.user = w.newUser(a)
	w.bClient, w.bSecret = w.newClient(w.b.ID)
	w.bUser = w.newUser(w.b.ID)

	w.counters = db.LoginCounters{TenantID: a, Username: w.user.Username, IP: "192.0.2.10", IPTenant: &a}
	l := w.login(w.a, w.client, w.user, w.counters)
	w.session, w.access, w.refresh = l.SessionID, l.Access.Hash, l.Refresh.Hash
	w.bRefresh = w.login(w.b, w.bClient, w.bUser,
		db.LoginCounters{TenantID: w.b.ID, Username: w.bUser.Username, IP: "198.51.100.20", IPTenant: &w.b.ID}).Refresh.Hash
	w.clientToken = w.issueClientToken(w.a, w.client, w.secret)
	w.revoked = w.issueClientToken(w.a, w.client, w.secret)
	if ok, err := w.store.RevokeToken(ctx, a, w.revoked, evIn(a, "token_revoked")); err != nil || !ok {
		t.Fatalf("revoke: %v, %v", ok, err)
	}

	w.adminHash = randomHash(t)
	var err error
	if w.adminKey, err = w.store.CreateAdminKey(ctx, &a, "ops-"+short(), w.adminHash, false, ev("admin_key_created")); err != nil {
		t.Fatal(err)
	}

	// Two attempts reserved, one refused and given back.
	w.window = t0.Truncate(time.Hour)
	w.mustReserve(w.counters, t0)
	w.mustReserve(w.counters, t0)
	if err := w.store.RefuseLogin(ctx, w.counters, w.throttleEvent(a), w.window); err != nil {
		t.Fatal(err)
	}
	w.lifecycleRows()
	return w
}

func short() string { return uuid.NewString()[:8] }

func ptr[T any](v T) *T { return &v }

// evIn is ev in the tenant's stream.
func evIn(tenant uuid.UUID, kind string) db.Event {
	e := ev(kind)
	e.TenantID = &tenant
	return e
}

func (w *world) newClient(tenant uuid.UUID) (db.Client, []byte) {
	w.t.Helper()
	secret := randomHash(w.t)
	c, err := w.store.CreateClient(context.Background(), db.Client{TenantID: tenant, ID: "jc_" + short(), Name: "app",
		GrantTypes: []string{"password", "refresh_token", "client_credentials"}, Scopes: []string{"read"},
		Introspect: true, AllowedOrigins: []string{"https://app.example"}}, secret, evIn(tenant, "client_created"))
	if err != nil {
		w.t.Fatal(err)
	}
	return c, secret
}

func (w *world) newUser(tenant uuid.UUID) db.User {
	w.t.Helper()
	u, err := w.store.CreateUser(context.Background(), db.User{TenantID: tenant, Username: "u" + short(),
		PasswordHash: "hash-" + short()}, evIn(tenant, "user_created"))
	if err != nil {
		w.t.Fatal(err)
	}
	return u
}

// login records a login of u to c at t0, counted on counters (which become a known address).
func (w *world) login(tn db.Tenant, c db.Client, u db.User, counters db.LoginCounters) db.Login {
	w.t.Helper()
	l := db.Login{TenantID: tn.ID, ClientID: c.ID, UserID: u.ID, SessionID: uuid.New(), Scope: "read",
		Now: t0, SessionExpiresAt: t0.Add(90 * 24 * time.Hour),
		Epochs: db.Epochs{Tenant: tn.Epoch, Client: c.Epoch, User: &u.Epoch},
		Access: w.newToken(t0.Add(15 * time.Minute)), Refresh: ptr(w.newToken(t0.Add(14 * 24 * time.Hour))),
		Event: evIn(tn.ID, "login_success"), Counters: counters}
	if err := w.store.IssueLogin(context.Background(), l); err != nil {
		w.t.Fatal(err)
	}
	return l
}

func (w *world) newToken(expires time.Time) db.NewToken {
	return db.NewToken{Hash: randomHash(w.t), ID: uuid.New(), ExpiresAt: expires}
}

// issueClientToken issues a client_credentials token of c, valid for an hour from t0.
func (w *world) issueClientToken(tn db.Tenant, c db.Client, secret []byte) []byte {
	w.t.Helper()
	tok := w.newToken(t0.Add(time.Hour))
	if err := w.store.IssueClientToken(context.Background(), db.ClientToken{TenantID: tn.ID, ClientID: c.ID,
		Scope: "read", Now: t0, Epochs: db.Epochs{Tenant: tn.Epoch, Client: c.Epoch},
		Versions: db.Versions{Tenant: tn.Version, Client: c.Version}, SecretHash: secret, Access: tok,
		Event: evIn(tn.ID, "token_issued")}); err != nil {
		w.t.Fatal(err)
	}
	return tok.Hash
}

// throttleEvent is the login_throttled event of A's counters' username and address, in
// tenant's stream.
func (w *world) throttleEvent(tenant uuid.UUID) db.Event {
	e := evIn(tenant, "login_throttled")
	e.Actor = db.Actor{Type: "client", ID: w.client.ID, Name: "app", IP: w.counters.IP}
	e.SubjectType, e.SubjectName, e.Detail = "username", w.counters.Username, map[string]any{"attempts": 1}
	return e
}

// introspect asks, as client c with secret, about the token with hash h at isoNow.
func (w *world) introspect(c db.Client, secret, h []byte) db.IntrospectResult {
	w.t.Helper()
	r, err := w.store.Introspect(context.Background(), db.IntrospectQuery{ClientID: c.ID, HasSecret: true,
		SecretHash: [32]byte(secret), TokenHash: [32]byte(h), Now: isoNow})
	if err != nil {
		w.t.Fatal(err)
	}
	return r
}

// checkLive reads A's things as tenant A: client, user, session, admin key and tokens are
// there and unchanged, and the access tokens introspect as active.
func (w *world) checkLive(t *testing.T, when string) {
	t.Helper()
	ctx := context.Background()
	a := w.a.ID
	if c, err := w.store.ClientByID(ctx, a, w.client.ID); err != nil || c.Disabled || c.Epoch != w.client.Epoch {
		t.Errorf("%s: A's client: %+v, %v; want it enabled at epoch %d", when, c, err, w.client.Epoch)
	}
	if u, err := w.store.UserByID(ctx, a, w.user.ID); err != nil || u.Disabled || u.Epoch != w.user.Epoch ||
		u.PasswordHash != w.user.PasswordHash {
		t.Errorf("%s: A's user: %+v, %v; want it enabled at epoch %d with its hash", when, u, err, w.user.Epoch)
	}
	if s, err := w.store.Session(ctx, a, w.session); err != nil || s.RevokedAt != nil {
		t.Errorf("%s: A's session: %+v, %v; want it live", when, s, err)
	}
	if k, err := w.store.AdminKeyByHash(ctx, w.adminHash); err != nil || k.ID != w.adminKey.ID {
		t.Errorf("%s: A's admin key: %+v, %v; want it live", when, k, err)
	}
	for name, h := range map[string][]byte{"access": w.access, "refresh": w.refresh, "client": w.clientToken} {
		if tok, err := w.store.TokenByHash(ctx, a, h); err != nil || tok.RevokedAt != nil || tok.UsedAt != nil {
			t.Errorf("%s: A's %s token: %+v, %v; want it unrevoked and unused", when, name, tok, err)
		}
	}
	for name, h := range map[string][]byte{"access": w.access, "client": w.clientToken} {
		if r := w.introspect(w.client, w.secret, h); !r.Active || !r.Caller.Authenticated {
			t.Errorf("%s: A's %s token introspected by A's client: %+v; want active", when, name, r)
		}
	}
}

// tenantRows are the tables holding a tenant's rows and the condition that selects them;
// the names are constants, not input.
var tenantRows = []struct{ table, where string }{
	{"tenants", "x.id = $1"},
	{"users", "x.tenant_id = $1"},
	{"clients", "x.tenant_id = $1"},
	{"client_secrets", "x.tenant_id = $1"},
	{"sessions", "x.tenant_id = $1"},
	{"tokens", "x.tenant_id = $1"},
	{"admin_keys", "x.tenant_id = $1"},
	{"events", "x.tenant_id = $1"},
	{"revocations", "x.tenant_id = $1"},
	{"login_throttles", "x.tenant_id = $1"},
	{"known_ips", "x.tenant_id = $1"},
	{"password_history", "x.tenant_id = $1"},
	{"password_resets", "x.tenant_id = $1"},
	{"forbidden_passwords", "x.tenant_id = $1"},
}

// rowsOf returns every row of the tenant, as JSON, by table.
func (w *world) rowsOf(tenant uuid.UUID) map[string][]string {
	w.t.Helper()
	out := map[string][]string{}
	for _, r := range tenantRows {
		rows, err := w.pool.Query(context.Background(),
			`SELECT to_jsonb(x)::text FROM `+r.table+` x WHERE `+r.where+` ORDER BY 1`, tenant)
		if err != nil {
			w.t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				w.t.Fatal(err)
			}
			got = append(got, s)
		}
		if err := rows.Err(); err != nil {
			w.t.Fatal(err)
		}
		out[r.table] = got
	}
	return out
}

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, db.ErrNotFound) {
		t.Errorf("%s as tenant B: %v, want ErrNotFound", what, err)
	}
}

func wantStale(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, db.ErrStale) {
		t.Errorf("%s as tenant B: %v, want ErrStale", what, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
