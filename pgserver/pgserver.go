// Package pgserver finds a PostgreSQL server for `jeton dev` and for the tests: a URL from
// an environment variable, else a server on localhost:5432, else, when the caller provides
// one, a throwaway container (package pgcontainer). It links no container runtime itself.
package pgserver

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultLocalURL is the server Find tries when the environment names none: a stock
// PostgreSQL install on this machine with trust auth for the postgres user.
const DefaultLocalURL = "postgres://postgres@localhost:5432/postgres?sslmode=disable"

// pingTimeout bounds each probe, so a firewalled port fails fast instead of hanging Find.
const pingTimeout = 2 * time.Second

// Finder searches for a PostgreSQL server. Its fields are injected so tests cover the
// search order and the message printed when nothing is found; the zero value of every
// field but EnvVar falls back to the real thing.
type Finder struct {
	// EnvVar names the variable holding a server URL, e.g. "TEST_DATABASE_URL".
	// Empty means no variable is consulted.
	EnvVar string
	// Getenv defaults to os.Getenv.
	Getenv func(string) string
	// LocalURL defaults to DefaultLocalURL.
	LocalURL string
	// Ping defaults to the package's Ping: connect and ping with a 2s timeout.
	Ping func(ctx context.Context, url string) error
	// StartContainer, when set, is the last resort (pgcontainer.Start); nil means there is
	// no container fallback.
	StartContainer func(ctx context.Context) (url string, stop func(), err error)
}

// Find returns the URL of a reachable server, a stop function that releases whatever Find
// started (never nil; a no-op unless a container was started) and where the URL came from:
// "env:NAME", "localhost" or "container".
//
// The order is: the environment variable if set, which must answer a ping; else LocalURL if
// it answers; else a container, if StartContainer is set. When the variable is set but
// unreachable, Find returns that error rather than silently using another server. When
// nothing works, the error (a *NotFoundError) says how to point jeton at a server and wraps
// the local and the container errors.
func (f Finder) Find(ctx context.Context) (url string, stop func(), source string, err error) {
	noop := func() {}
	getenv := f.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	ping := f.Ping
	if ping == nil {
		ping = Ping
	}
	local := f.LocalURL
	if local == "" {
		local = DefaultLocalURL
	}

	if f.EnvVar != "" {
		if u := getenv(f.EnvVar); u != "" {
			// The URL may hold a password, so only the variable's name goes in the error.
			if err := ping(ctx, u); err != nil {
				return "", noop, "", fmt.Errorf("%s is set but its server does not answer (fix or unset it): %w", f.EnvVar, err)
			}
			return u, noop, "env:" + f.EnvVar, nil
		}
	}

	localErr := ping(ctx, local)
	if localErr == nil {
		return local, noop, "localhost", nil
	}

	if f.StartContainer == nil {
		return "", noop, "", &NotFoundError{EnvVar: f.EnvVar, LocalURL: local, Local: localErr}
	}
	u, stopContainer, containerErr := f.StartContainer(ctx)
	if containerErr == nil {
		if stopContainer == nil {
			stopContainer = noop
		}
		return u, stopContainer, "container", nil
	}
	if stopContainer != nil {
		stopContainer()
	}
	return "", noop, "", &NotFoundError{EnvVar: f.EnvVar, LocalURL: local, Local: localErr, Container: containerErr}
}

// NotFoundError is returned by Find when no server could be found. Its message tells the
// user the three ways to provide one.
type NotFoundError struct {
	EnvVar    string
	LocalURL  string
	Local     error // why LocalURL did not answer
	Container error // why no container could be started; nil without a container fallback
}

// Error lists the ways to provide a server, then the underlying errors.
func (e *NotFoundError) Error() string {
	envVar := e.EnvVar
	if envVar == "" {
		envVar = "the database URL variable"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "no PostgreSQL server found; point jeton at one in any of these ways:\n"+
		"  - set %s to a postgres:// URL, e.g. %s='postgres://user:password@host:5432/postgres?sslmode=disable'\n"+
		"  - start PostgreSQL on localhost:5432 accepting user postgres (tried %s)\n", envVar, envVar, e.LocalURL)
	if e.Container != nil {
		b.WriteString("  - install and start Docker, so a PostgreSQL container can be started\n")
	}
	fmt.Fprintf(&b, "localhost: %v", e.Local)
	if e.Container != nil {
		fmt.Fprintf(&b, "\ncontainer: %v", e.Container)
	}
	return b.String()
}

// Unwrap returns the underlying errors, for errors.Is and errors.As.
func (e *NotFoundError) Unwrap() []error {
	if e.Container == nil {
		return []error{e.Local}
	}
	return []error{e.Local, e.Container}
}

// Ping connects to url and pings the server, giving up after two seconds.
// It returns the connection or ping error.
func Ping(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), pingTimeout)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	if err := conn.Ping(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}
