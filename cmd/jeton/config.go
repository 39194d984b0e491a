package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os/user"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/password"
	"github.com/jeton-auth/jeton/service"
)

// envName is the environment variable behind a flag: --tls-cert is JETON_TLS_CERT.
func envName(flagName string) string {
	return "JETON_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func newFlags(name string, e env) *flag.FlagSet {
	fs := flag.NewFlagSet("jeton "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs
}

// parseWithEnv gives every flag of fs the value of its environment variable, then parses
// the command line over it: a flag given on the command line wins.
func parseWithEnv(fs *flag.FlagSet, e env) error {
	if err := applyEnv(fs, e.getenv); err != nil {
		return err
	}
	return parse(fs, e.args)
}

func applyEnv(fs *flag.FlagSet, getenv func(string) string) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if v := getenv(envName(f.Name)); v != "" && err == nil {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("%s=%q: %w", envName(f.Name), v, serr)
			}
		}
	})
	return err
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errUsage
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %q\n", fs.Args())
		return errUsage
	}
	return nil
}

// list is a repeatable flag; each value may also hold several comma-separated items.
type list []string

func (l *list) String() string { return strings.Join(*l, ",") }

func (l *list) Set(v string) error {
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*l = append(*l, item)
		}
	}
	return nil
}

// serviceFlags registers the deployment-wide settings shared by serve, dev and the admin
// commands, and returns a function that reads them once parsed.
func serviceFlags(fs *flag.FlagSet) func() service.Config {
	d := service.DefaultConfig()
	mem := fs.Uint("argon2-memory", uint(d.Hash.Memory), "argon2id memory in KiB")
	iter := fs.Uint("argon2-time", uint(d.Hash.Time), "argon2id iterations")
	threads := fs.Uint("argon2-threads", uint(d.Hash.Threads), "argon2id parallelism")
	access := fs.Duration("access-ttl", d.AccessTTL, "default access token lifetime")
	idle := fs.Duration("refresh-idle-ttl", d.RefreshIdleTTL, "default refresh token idle lifetime")
	max := fs.Duration("refresh-max-ttl", d.RefreshMaxTTL, "default absolute session lifetime")
	retention := fs.Duration("event-retention", d.EventRetention, "default audit event retention")
	minPw := fs.Int("min-password-length", d.MinPasswordLength, "minimum password length in code points (at least 8)")
	maxAccess := fs.Duration("max-access-ttl", d.MaxAccessTTL, "largest access token lifetime a tenant or client may set")
	maxIdle := fs.Duration("max-refresh-idle-ttl", d.MaxRefreshIdleTTL, "largest refresh idle lifetime a tenant or client may set")
	maxMax := fs.Duration("max-refresh-max-ttl", d.MaxRefreshMaxTTL, "largest session lifetime a tenant or client may set")
	maxRetention := fs.Duration("max-event-retention", d.MaxEventRetention, "largest event retention a tenant may set")
	workers := fs.Int("hash-workers", 0, "argon2id computations at once (0: one per CPU)")
	queue := fs.Int("hash-queue", 0, "logins that may wait for an argon2id worker before 503 (0: 32 per worker); fewer are admitted when they could not expect their hash within ¾ of --request-timeout")
	th := &d.Throttle
	fs.IntVar(&th.BackoffAfter, "login-backoff-after", th.BackoffAfter, "failed logins of one username from one address before back-off")
	fs.DurationVar(&th.BackoffMax, "login-backoff-max", th.BackoffMax, "longest back-off (it starts at 1s and doubles)")
	fs.IntVar(&th.UserLimit, "login-user-limit", th.UserLimit, "failed logins of one username per --login-window before addresses without a recent success are refused")
	fs.IntVar(&th.IPLimit, "login-ip-limit", th.IPLimit, "failed logins from one address per --login-window, across usernames")
	fs.IntVar(&th.ServerIPLimit, "login-server-ip-limit", th.ServerIPLimit, "--login-ip-limit for a confidential client that does not forward its users' addresses")
	fs.DurationVar(&th.Window, "login-window", th.Window, "counting window of the username and address limits")
	fs.DurationVar(&th.KnownFor, "login-known-for", th.KnownFor, "how long a successful login exempts its address from the username limit")
	fs.IntVar(&th.MaxBackoffAfter, "max-login-backoff-after", th.MaxBackoffAfter, "largest --login-backoff-after a tenant may set")
	fs.IntVar(&th.MaxUserLimit, "max-login-user-limit", th.MaxUserLimit, "largest --login-user-limit a tenant may set")
	fs.IntVar(&th.MaxIPLimit, "max-login-ip-limit", th.MaxIPLimit, "largest --login-ip-limit a tenant may set")
	return func() service.Config {
		d.HashWorkers, d.HashQueue = *workers, *queue
		d.MaxAccessTTL, d.MaxRefreshIdleTTL, d.MaxRefreshMaxTTL = *maxAccess, *maxIdle, *maxMax
		d.MaxEventRetention = *maxRetention
		d.Hash.Memory, d.Hash.Time, d.Hash.Threads = uint32(*mem), uint32(*iter), uint8(*threads)
		d.AccessTTL, d.RefreshIdleTTL, d.RefreshMaxTTL, d.EventRetention = *access, *idle, *max, *retention
		d.MinPasswordLength = *minPw
		return d
	}
}

// checkConfig refuses settings that would weaken jeton below its floor.
func checkConfig(c service.Config) error {
	switch {
	case c.Hash.Memory < 19456 || c.Hash.Time < 2 || c.Hash.Threads < 1:
		return errors.New("argon2id parameters below OWASP's floor (m=19456, t=2, p=1)")
	case c.Hash.Memory > password.MaxMemory:
		return fmt.Errorf("--argon2-memory above %d KiB", password.MaxMemory)
	case c.MinPasswordLength < service.MinPasswordFloor || c.MinPasswordLength > service.MaxMinPasswordLength:
		return fmt.Errorf("--min-password-length must be from %d to %d", service.MinPasswordFloor, service.MaxMinPasswordLength)
	case c.HashWorkers < 0 || c.HashQueue < 0:
		return errors.New("--hash-workers and --hash-queue cannot be negative")
	case c.AccessTTL < time.Second || c.RefreshIdleTTL < time.Second || c.RefreshMaxTTL < c.RefreshIdleTTL:
		return errors.New("lifetimes must be positive and --refresh-max-ttl at least --refresh-idle-ttl")
	}
	return c.Throttle.Check()
}

// defaultConnectTimeout bounds each connection attempt, per host of a multi-host URL,
// when the URL sets no connect_timeout: pgx would otherwise wait minutes on a host that
// does not answer (a partitioned primary) before trying the next one.
const defaultConnectTimeout = 5 * time.Second

// openPool connects to url and checks that the server answers.
func openPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database: %w", err)
	}
	return pool, nil
}

// newLogger returns a JSON logger, or text for humans.
func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, nil))
	}
	return slog.New(slog.NewJSONHandler(w, nil))
}

// cliActor names the operating-system user running an admin command, for the audit trail.
func cliActor() db.Actor {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return db.Actor{Type: "cli", ID: "cli:" + name, Name: "cli:" + name}
}
