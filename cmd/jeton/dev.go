package main

import (
	"cmp"
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

// devCmd is "jeton dev": jeton on a local development database with a seeded demo
// tenant. It never reads JETON_DATABASE_URL, so it cannot seed a production database, and
// it refuses any database that holds tenants but was not marked as a dev database.
type devCmd struct {
	DevDatabaseURL string          `name:"dev-database-url" env:"JETON_DEV_DATABASE_URL" placeholder:"URL" help:"dev database URL (default: create jeton_dev on localhost:5432, else, in a build with the dev tag, in a container)"`
	SeedOnly       bool            `name:"seed-only" env:"JETON_SEED_ONLY" help:"seed and print the demo credentials, then exit without serving"`
	Server         serverFlags     `embed:""`
	Deployment     deploymentFlags `embed:"" group:"deployment"`
}

func (c *devCmd) Run(ctx context.Context, e env) error {
	o := c.Server
	if o.Issuer != "" {
		if err := checkListen(o); err != nil {
			return err
		}
	}
	if err := checkServer(o); err != nil {
		return err
	}
	url, stop, err := devDatabaseURL(ctx, devFinder(c.DevDatabaseURL))
	if err != nil {
		return err
	}
	defer stop()
	pool, err := openPool(ctx, url, "")
	if err != nil {
		return err
	}
	defer pool.Close()
	if o.Migrate {
		if err := migrations.Up(ctx, pool); err != nil {
			return err
		}
	}
	cfg := o.config(c.Deployment)
	if cfg.Keys, err = devKeys(ctx, e.getenv, c.Deployment.SecretKeysFile, db.New(pool)); err != nil {
		return err
	}
	seed, err := seedDevDatabase(ctx, db.New(pool), cfg)
	if err != nil {
		return err
	}
	if c.SeedOnly {
		seed.print(e.stdout, cmp.Or(o.Issuer, "http://"+o.Addr), redact(url))
		return nil
	}
	return listenAndServe(ctx, e, o, pool, cfg, func(issuer string) { seed.print(e.stdout, issuer, redact(url)) })
}

// seedDevDatabase marks the database as a dev database, unless it holds tenants and is
// not one, and seeds the demo tenant.
func seedDevDatabase(ctx context.Context, store *db.Store, cfg service.Config) (demoSeed, error) {
	isDev, hasTenants, err := store.IsDev(ctx)
	if err != nil {
		return demoSeed{}, err
	}
	if !isDev && hasTenants {
		return demoSeed{}, errors.New("refusing to seed: this database holds tenants and is not marked as a jeton dev database")
	}
	if err := store.MarkDev(ctx); err != nil {
		return demoSeed{}, err
	}
	svc, err := service.New(store, cfg)
	if err != nil {
		return demoSeed{}, err
	}
	defer svc.Close()
	return seedDemo(ctx, svc)
}

// noContainerHint ends the error of a jeton dev without the container fallback that found
// no server.
const noContainerHint = "This jeton build has no container fallback; make run (go run -tags dev ./cmd/jeton dev) has one."

// devFinder looks for the dev database's server: the URL given (--dev-database-url), else
// localhost:5432, else, in a build with the dev tag, a container.
func devFinder(explicit string) pgserver.Finder {
	const envVar = "JETON_DEV_DATABASE_URL"
	return pgserver.Finder{EnvVar: envVar, Getenv: func(k string) string {
		if k == envVar {
			return explicit
		}
		return ""
	}, StartContainer: startContainer}
}

// devDatabaseURL returns the dev database's URL: the one f's variable gives as is, or a
// jeton_dev database created on the server f finds.
func devDatabaseURL(ctx context.Context, f pgserver.Finder) (string, func(), error) {
	url, stop, source, err := f.Find(ctx)
	if _, ok := errors.AsType[*pgserver.NotFoundError](err); ok && f.StartContainer == nil {
		return "", stop, fmt.Errorf("%w\n%s", err, noContainerHint)
	}
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

Admin console: open %s/console/ and paste the ADMIN_KEY above.

`, issuer, dbURL, s.appID, s.appSecret, s.rsID, s.rsSecret, s.password,
		s.appID, s.appSecret, s.password, issuer,
		s.rsID, s.rsSecret, issuer,
		s.appID, s.appSecret, issuer,
		s.adminKey, issuer, issuer)
}
