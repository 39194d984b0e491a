package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/migrations"
	"github.com/jeton-auth/jeton/pgserver"
	"github.com/jeton-auth/jeton/service"
)

const devDatabase = "jeton_dev"

// dev runs jeton on a local development database with a seeded demo tenant. It never
// reads JETON_DATABASE_URL, so it cannot seed a production database, and it refuses any
// database that holds tenants but was not marked as a dev database.
func dev(ctx context.Context, e env) error {
	fs := newFlags("dev", e)
	var o httpOptions
	httpFlags(fs, &o, "text")
	devURL := fs.String("dev-database-url", "", "dev database URL (default: create jeton_dev on localhost:5432, else in a container)")
	seedOnly := fs.Bool("seed-only", false, "seed and print the demo credentials, then exit without serving")
	cfg := serviceFlags(fs)
	if err := parseWithEnv(fs, e); err != nil {
		return err
	}
	if o.issuer != "" {
		if err := checkListen(o); err != nil {
			return err
		}
	}
	url, stop, err := devDatabaseURL(ctx, *devURL, e)
	if err != nil {
		return err
	}
	defer stop()
	pool, err := openPool(ctx, url)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := migrations.Up(ctx, pool); err != nil {
		return err
	}
	store := db.New(pool)
	isDev, hasTenants, err := store.IsDev(ctx)
	if err != nil {
		return err
	}
	if !isDev && hasTenants {
		return errors.New("refusing to seed: this database holds tenants and is not marked as a jeton dev database")
	}
	if err := store.MarkDev(ctx); err != nil {
		return err
	}
	svc, err := service.New(store, cfg())
	if err != nil {
		return err
	}
	seed, err := seedDemo(ctx, svc)
	if err != nil {
		return err
	}
	if *seedOnly {
		seed.print(e.stdout, o.issuerOr("http://"+o.addr), redact(url))
		return nil
	}
	return listenAndServe(ctx, e, o, pool, cfg(), func(issuer string) { seed.print(e.stdout, issuer, redact(url)) })
}

func (o httpOptions) issuerOr(def string) string {
	if o.issuer != "" {
		return o.issuer
	}
	return def
}

// devDatabaseURL returns the dev database's URL: JETON_DEV_DATABASE_URL as given, or a
// jeton_dev database created on the server pgserver finds.
func devDatabaseURL(ctx context.Context, explicit string, e env) (string, func(), error) {
	const envVar = "JETON_DEV_DATABASE_URL"
	f := pgserver.Finder{EnvVar: envVar, Getenv: func(k string) string {
		if k == envVar {
			return explicit
		}
		return ""
	}}
	url, stop, source, err := f.Find(ctx)
	if err != nil {
		return "", stop, err
	}
	if strings.HasPrefix(source, "env:") {
		return url, stop, nil
	}
	if err := createDatabase(ctx, url, devDatabase); err != nil {
		stop()
		return "", func() {}, err
	}
	devURL, err := pgserver.WithDatabase(url, devDatabase)
	return devURL, stop, err
}

// createDatabase creates name on the server at url unless it exists.
func createDatabase(ctx context.Context, url, name string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("dev database: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("dev database: %w", err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create dev database: %w", err)
	}
	return nil
}

// demoSeed is what a dev start prints: fresh credentials for the demo tenant.
type demoSeed struct {
	appID, appSecret string
	rsID, rsSecret   string
	password         string
	adminKey         string
}

// seedDemo upserts tenant demo with user alice, an app client and a resource server,
// rotating their secrets, alice's password and a global admin key at each start.
func seedDemo(ctx context.Context, svc *service.Service) (demoSeed, error) {
	var s demoSeed
	actor := db.Actor{Type: "cli", ID: "cli:jeton-dev", Name: "jeton dev"}
	if _, err := svc.Tenant(ctx, "demo"); errors.Is(err, service.ErrNotFound) {
		if _, err := svc.CreateTenant(ctx, actor, "demo", "Demo"); err != nil {
			return s, err
		}
	} else if err != nil {
		return s, err
	}
	var err error
	if _, s.adminKey, err = svc.ReplaceAdminKey(ctx, actor, "", "jeton dev"); err != nil {
		return s, err
	}
	if s.appID, s.appSecret, err = upsertClient(ctx, svc, actor, service.ClientSpec{Name: "demo-app",
		GrantTypes: []string{service.GrantPassword, service.GrantRefreshToken}, Scopes: []string{"read", "write"}}); err != nil {
		return s, err
	}
	if s.rsID, s.rsSecret, err = upsertClient(ctx, svc, actor, service.ClientSpec{Name: "demo-api", Introspect: true}); err != nil {
		return s, err
	}
	if s.password, err = randomPassword(); err != nil {
		return s, err
	}
	if _, err := svc.User(ctx, "demo", "alice"); errors.Is(err, service.ErrNotFound) {
		_, err = svc.CreateUser(ctx, actor, "demo", "alice", s.password, nil)
		return s, err
	} else if err != nil {
		return s, err
	}
	return s, svc.SetPassword(ctx, actor, "demo", "alice", s.password)
}

// upsertClient creates the demo client named spec.Name, or gives the existing one a new
// secret (the old one stops working at once).
func upsertClient(ctx context.Context, svc *service.Service, actor db.Actor, spec service.ClientSpec) (string, string, error) {
	clients, err := svc.Clients(ctx, "demo")
	if err != nil {
		return "", "", err
	}
	for _, c := range clients {
		if c.Name == spec.Name {
			secret, err := svc.RotateSecret(ctx, actor, "demo", c.ID, 0)
			return c.ID, secret, err
		}
	}
	c, secret, err := svc.CreateClient(ctx, actor, "demo", spec)
	return c.ID, secret, err
}

func randomPassword() (string, error) {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 20)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b), nil
}

// redact hides a password in a database URL before it is printed.
func redact(url string) string {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return "(unparsable URL)"
	}
	c := cfg.ConnConfig
	return fmt.Sprintf("postgres://%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}

func (s demoSeed) print(w io.Writer, issuer, dbURL string) {
	fmt.Fprintf(w, `
jeton dev: %s  (database %s)

Demo tenant "demo" (credentials rotate at every start):
  app client      client_id=%s
                  client_secret=%s
  resource server client_id=%s
                  client_secret=%s
  user            alice / %s

Get a token (password grant):
  TOKEN=$(curl -s -u '%s:%s' -d grant_type=password -d username=alice -d 'password=%s' %s/token | sed -E 's/.*"access_token":"([^"]+)".*/\1/'); echo $TOKEN

Introspect it as the resource server:
  curl -s -u '%s:%s' -d "token=$TOKEN" %s/introspect

Revoke it as the app:
  curl -s -i -u '%s:%s' -d "token=$TOKEN" %s/revoke

Admin API (global dev key, replaced at every start; see docs/ADMIN.md):
  ADMIN_KEY=%s
  curl -s -H "Authorization: Bearer $ADMIN_KEY" %s/admin/v1/tenants/demo/events

`, issuer, dbURL, s.appID, s.appSecret, s.rsID, s.rsSecret, s.password,
		s.appID, s.appSecret, s.password, issuer,
		s.rsID, s.rsSecret, issuer,
		s.appID, s.appSecret, issuer,
		s.adminKey, issuer)
}
