package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kong"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jeton-auth/jeton/api"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/password"
	"github.com/jeton-auth/jeton/service"
)

// deploymentFlags are the deployment-wide settings tenants and clients may override within
// their maxima. serve and dev take them as flags; the admin commands read them from their
// environment variables only (deploymentFromEnv), so that, say, a user created from the
// CLI is hashed with the deployment's parameters. Their defaults are service.DefaultConfig's
// (defaultVars).
type deploymentFlags struct {
	Argon2Memory      uint32        `name:"argon2-memory" default:"${argon2_memory}" env:"JETON_ARGON2_MEMORY" help:"argon2id memory in KiB"`
	Argon2Time        uint32        `name:"argon2-time" default:"${argon2_time}" env:"JETON_ARGON2_TIME" help:"argon2id iterations"`
	Argon2Threads     uint8         `name:"argon2-threads" default:"${argon2_threads}" env:"JETON_ARGON2_THREADS" help:"argon2id parallelism"`
	AccessTTL         time.Duration `name:"access-ttl" default:"${access_ttl}" env:"JETON_ACCESS_TTL" help:"default access token lifetime"`
	RefreshIdleTTL    time.Duration `name:"refresh-idle-ttl" default:"${refresh_idle_ttl}" env:"JETON_REFRESH_IDLE_TTL" help:"default refresh token idle lifetime"`
	RefreshMaxTTL     time.Duration `name:"refresh-max-ttl" default:"${refresh_max_ttl}" env:"JETON_REFRESH_MAX_TTL" help:"default absolute session lifetime"`
	EventRetention    time.Duration `name:"event-retention" default:"${event_retention}" env:"JETON_EVENT_RETENTION" help:"default audit event retention"`
	MinPasswordLength int           `name:"min-password-length" default:"${min_password_length}" env:"JETON_MIN_PASSWORD_LENGTH" help:"${min_password_help}"`
	MaxAccessTTL      time.Duration `name:"max-access-ttl" default:"${max_access_ttl}" env:"JETON_MAX_ACCESS_TTL" help:"largest access token lifetime a tenant or client may set"`
	MaxRefreshIdleTTL time.Duration `name:"max-refresh-idle-ttl" default:"${max_refresh_idle_ttl}" env:"JETON_MAX_REFRESH_IDLE_TTL" help:"largest refresh idle lifetime a tenant or client may set"`
	MaxRefreshMaxTTL  time.Duration `name:"max-refresh-max-ttl" default:"${max_refresh_max_ttl}" env:"JETON_MAX_REFRESH_MAX_TTL" help:"largest session lifetime a tenant or client may set"`
	MaxEventRetention time.Duration `name:"max-event-retention" default:"${max_event_retention}" env:"JETON_MAX_EVENT_RETENTION" help:"largest event retention a tenant may set"`

	LoginBackoffAfter    int           `name:"login-backoff-after" default:"${login_backoff_after}" env:"JETON_LOGIN_BACKOFF_AFTER" help:"failed logins of one username from one address before back-off"`
	LoginBackoffMax      time.Duration `name:"login-backoff-max" default:"${login_backoff_max}" env:"JETON_LOGIN_BACKOFF_MAX" help:"longest back-off (it starts at 1s and doubles)"`
	LoginUserLimit       int           `name:"login-user-limit" default:"${login_user_limit}" env:"JETON_LOGIN_USER_LIMIT" help:"failed logins of one username per --login-window before addresses without a recent success are refused"`
	LoginIPLimit         int           `name:"login-ip-limit" default:"${login_ip_limit}" env:"JETON_LOGIN_IP_LIMIT" help:"failed logins from one address per --login-window, across usernames"`
	LoginServerIPLimit   int           `name:"login-server-ip-limit" default:"${login_server_ip_limit}" env:"JETON_LOGIN_SERVER_IP_LIMIT" help:"--login-ip-limit for a confidential client that does not forward its users' addresses"`
	LoginWindow          time.Duration `name:"login-window" default:"${login_window}" env:"JETON_LOGIN_WINDOW" help:"counting window of the username and address limits"`
	LoginKnownFor        time.Duration `name:"login-known-for" default:"${login_known_for}" env:"JETON_LOGIN_KNOWN_FOR" help:"how long a successful login exempts its address from the username limit"`
	MaxLoginBackoffAfter int           `name:"max-login-backoff-after" default:"${max_login_backoff_after}" env:"JETON_MAX_LOGIN_BACKOFF_AFTER" help:"largest --login-backoff-after a tenant may set"`
	MaxLoginUserLimit    int           `name:"max-login-user-limit" default:"${max_login_user_limit}" env:"JETON_MAX_LOGIN_USER_LIMIT" help:"largest --login-user-limit a tenant may set"`
	MaxLoginIPLimit      int           `name:"max-login-ip-limit" default:"${max_login_ip_limit}" env:"JETON_MAX_LOGIN_IP_LIMIT" help:"largest --login-ip-limit a tenant may set"`

	// The keys themselves come from JETON_SECRET_KEYS, never a flag (loadKeys).
	SecretKeysFile string `name:"secret-keys-file" env:"JETON_SECRET_KEYS_FILE" placeholder:"FILE" help:"file of the key ring that seals second-factor secrets: id:base64key entries, comma-separated, 32-byte keys, the first seals and all open (else JETON_SECRET_KEYS)"`

	AllowInsecureHooks bool `name:"allow-insecure-hooks" env:"JETON_ALLOW_INSECURE_HOOKS" help:"let tenants' legacy-login hooks be http and reach loopback and private addresses (tests, private deployments)"`
}

// minPasswordHelp is the one description of a minimum password length, as the service
// counts it (service.validPassword) and bounds it, for the deployment's flag and the
// tenant's.
var minPasswordHelp = fmt.Sprintf("minimum password length in code points after NFKC (%d to %d)",
	service.MinPasswordFloor, service.MaxMinPasswordLength)

// defaultVars are the defaults of the flags, interpolated into their tags: written once,
// where the packages that use them define them.
func defaultVars() kong.Vars {
	d, th, fd := service.DefaultConfig(), service.DefaultThrottle(), service.DefaultFeedConfig()
	dur, num := service.FormatDuration, strconv.Itoa
	return kong.Vars{
		"argon2_memory": num(int(d.Hash.Memory)), "argon2_time": num(int(d.Hash.Time)), "argon2_threads": num(int(d.Hash.Threads)),
		"access_ttl": dur(d.AccessTTL), "refresh_idle_ttl": dur(d.RefreshIdleTTL), "refresh_max_ttl": dur(d.RefreshMaxTTL),
		"event_retention": dur(d.EventRetention), "min_password_length": num(d.MinPasswordLength), "min_password_help": minPasswordHelp,
		"max_access_ttl": dur(d.MaxAccessTTL), "max_refresh_idle_ttl": dur(d.MaxRefreshIdleTTL),
		"max_refresh_max_ttl": dur(d.MaxRefreshMaxTTL), "max_event_retention": dur(d.MaxEventRetention),
		"login_backoff_after": num(th.BackoffAfter), "login_backoff_max": dur(th.BackoffMax),
		"login_user_limit": num(th.UserLimit), "login_ip_limit": num(th.IPLimit), "login_server_ip_limit": num(th.ServerIPLimit),
		"login_window": dur(th.Window), "login_known_for": dur(th.KnownFor), "max_login_backoff_after": num(th.MaxBackoffAfter),
		"max_login_user_limit": num(th.MaxUserLimit), "max_login_ip_limit": num(th.MaxIPLimit),
		"feed_max_streams": num(fd.MaxStreams), "feed_max_streams_per_tenant": num(fd.MaxStreamsPerTenant),
		"feed_retention": dur(d.FeedRetention), "feed_poll_interval": dur(fd.Poll), "request_timeout": dur(api.DefaultRequestTimeout),
		"admin_timeout": dur(api.DefaultAdminTimeout),
	}
}

// config is service.DefaultConfig with the flags applied.
func (f deploymentFlags) config() service.Config {
	c := service.DefaultConfig()
	c.Hash = password.Params{Memory: f.Argon2Memory, Time: f.Argon2Time, Threads: f.Argon2Threads}
	c.AccessTTL, c.RefreshIdleTTL, c.RefreshMaxTTL = f.AccessTTL, f.RefreshIdleTTL, f.RefreshMaxTTL
	c.EventRetention, c.MinPasswordLength = f.EventRetention, f.MinPasswordLength
	c.MaxAccessTTL, c.MaxRefreshIdleTTL, c.MaxRefreshMaxTTL = f.MaxAccessTTL, f.MaxRefreshIdleTTL, f.MaxRefreshMaxTTL
	c.MaxEventRetention = f.MaxEventRetention
	c.Throttle = service.Throttle{BackoffAfter: f.LoginBackoffAfter, BackoffMax: f.LoginBackoffMax,
		UserLimit: f.LoginUserLimit, IPLimit: f.LoginIPLimit, ServerIPLimit: f.LoginServerIPLimit,
		Window: f.LoginWindow, KnownFor: f.LoginKnownFor, MaxBackoffAfter: f.MaxLoginBackoffAfter,
		MaxUserLimit: f.MaxLoginUserLimit, MaxIPLimit: f.MaxLoginIPLimit}
	c.AllowInsecureHooks = f.AllowInsecureHooks
	return c
}

// deploymentFromEnv reads the deployment settings from their environment variables alone,
// for the admin commands. It returns an error naming a variable it cannot read.
func deploymentFromEnv(getenv func(string) string) (service.Config, error) {
	var settings struct {
		Deployment deploymentFlags `embed:""`
	}
	k, err := newParser(&settings, env{getenv: getenv, stdout: io.Discard, stderr: io.Discard})
	if err != nil {
		return service.Config{}, err
	}
	if _, err := k.Parse(nil); err != nil {
		return service.Config{}, fmt.Errorf("deployment settings: %w", err)
	}
	c := settings.Deployment.config()
	c.Keys, err = loadKeys(getenv, settings.Deployment.SecretKeysFile)
	return c, err
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
	case c.AccessTTL < time.Second || c.RefreshIdleTTL < time.Second || c.RefreshMaxTTL < c.RefreshIdleTTL:
		return errors.New("lifetimes must be positive and --refresh-max-ttl at least --refresh-idle-ttl")
	}
	return c.Throttle.Check()
}

// list is a repeatable flag; each value may also hold several comma-separated items.
type list []string

// Decode adds the items of the flag's next value.
func (l *list) Decode(ctx *kong.DecodeContext) error {
	var v string
	if err := ctx.Scan.PopValueInto("value", &v); err != nil {
		return err
	}
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*l = append(*l, item)
		}
	}
	return nil
}

// databaseFlags say how serve, migrate and the admin commands reach jeton's database.
type databaseFlags struct {
	DatabaseURL      string `name:"database-url" env:"JETON_DATABASE_URL" placeholder:"URL" help:"PostgreSQL URL (required)"`
	DatabaseExecMode string `name:"database-exec-mode" env:"JETON_DATABASE_EXEC_MODE" placeholder:"MODE" help:"how statements are sent: cache_statement (the fastest, on a direct connection), cache_describe, exec or simple_protocol (behind pgbouncer in transaction mode); unset, the URL's default_query_exec_mode, else cache_statement"`
}

// requireURL returns an error when no database URL is given.
func (f databaseFlags) requireURL() error {
	if f.DatabaseURL == "" {
		return errors.New("JETON_DATABASE_URL (or --database-url) is required")
	}
	return nil
}

// open connects to the database as openPool does. It returns an error when there is no URL.
func (f databaseFlags) open(ctx context.Context) (*pgxpool.Pool, error) {
	if err := f.requireURL(); err != nil {
		return nil, err
	}
	return openPool(ctx, f.DatabaseURL, f.DatabaseExecMode)
}

// execModes are the pgx query exec modes --database-exec-mode names. describe_exec is not
// among them: it describes a statement in one round trip and binds it in the next, which
// behind a pooler in transaction mode can reach another client's unnamed statement under
// concurrency (08P01, bind message supplies 2 parameters, but prepared statement ""
// requires 26), and on a direct connection it is only slower than cache_statement.
var execModes = map[string]pgx.QueryExecMode{
	"cache_statement": pgx.QueryExecModeCacheStatement,
	"cache_describe":  pgx.QueryExecModeCacheDescribe,
	"exec":            pgx.QueryExecModeExec,
	"simple_protocol": pgx.QueryExecModeSimpleProtocol,
}

// poolingModes is what to tell someone whose database is reached through a pooler in
// transaction mode.
const poolingModes = "use --database-exec-mode (JETON_DATABASE_EXEC_MODE) exec, simple_protocol or cache_describe"

// setExecMode sets cfg's query exec mode to mode, or leaves the URL's (pgx's default,
// cache_statement, if it names none) when mode is empty. It returns an error for a mode
// execModes does not name, and for describe_exec from either.
func setExecMode(cfg *pgx.ConnConfig, mode string) error {
	if mode != "" {
		m, ok := execModes[mode]
		if !ok {
			if mode == "describe_exec" {
				return fmt.Errorf("--database-exec-mode describe_exec is refused: behind pgbouncer in transaction pooling mode concurrent statements bind to each other's (08P01); %s", poolingModes)
			}
			return fmt.Errorf("--database-exec-mode %q: want cache_statement, cache_describe, exec or simple_protocol", mode)
		}
		cfg.DefaultQueryExecMode = m
	}
	if cfg.DefaultQueryExecMode == pgx.QueryExecModeDescribeExec {
		return fmt.Errorf("database URL: default_query_exec_mode=describe_exec is refused: behind pgbouncer in transaction pooling mode concurrent statements bind to each other's (08P01); %s", poolingModes)
	}
	return nil
}

// defaultConnectTimeout bounds each connection attempt, per host of a multi-host URL,
// when the URL sets no connect_timeout: pgx would otherwise wait minutes on a host that
// does not answer (a partitioned primary) before trying the next one.
const defaultConnectTimeout = 5 * time.Second

// openPool connects to url, with its statements sent in exec mode mode (setExecMode), and
// checks that the server answers and keeps what the mode prepares: a statement cache
// behind pgbouncer in transaction pooling mode is refused here, with what to use instead,
// rather than failing every other request.
func openPool(ctx context.Context, url, mode string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	if err := setExecMode(cfg.ConnConfig, mode); err != nil {
		return nil, err
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	// Writes need a primary, and reads must not see a standby's past (docs/OPERATIONS.md,
	// With Patroni).
	db.PrimaryOnly(cfg)
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
	if err := db.CheckPreparedStatements(pctx, pool); err != nil {
		pool.Close()
		if errors.Is(err, db.ErrPreparedStatementsLost) {
			return nil, fmt.Errorf("database: %w; in mode %s the connections are not one PostgreSQL session each, as behind pgbouncer in transaction pooling mode: %s",
				err, execModeName(cfg.ConnConfig.DefaultQueryExecMode), poolingModes)
		}
		return nil, fmt.Errorf("database: %w", err)
	}
	return pool, nil
}

// listenConfig parses the URL of the LISTEN connections (--listen-database-url), with
// openPool's connect timeout.
func listenConfig(url string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("--listen-database-url: %w", err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = defaultConnectTimeout
	}
	return cfg, nil
}

// execModeName is mode as --database-exec-mode spells it.
func execModeName(mode pgx.QueryExecMode) string {
	for name, m := range execModes {
		if m == mode {
			return name
		}
	}
	return mode.String()
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
