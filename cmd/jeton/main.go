// Command jeton is the jeton authorization server and its admin CLI.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/jeton-auth/jeton/password"
)

func main() {
	if os.Getenv(password.WorkerEnv) != "" {
		hashWorker()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "jeton:", err)
		}
		os.Exit(1)
	}
}

// hashWorker runs this process as one of serve's password hashing workers
// (password.ProcessWorkers) until its parent closes its standard input, then exits. It
// ignores SIGINT and SIGTERM, which a terminal, a container runtime or an operator may send
// to every jeton process (on Linux it is in a session of its own; elsewhere in the
// server's process group): its parent ends it when it has drained.
func hashWorker() {
	signal.Ignore(os.Interrupt, syscall.SIGTERM)
	if err := password.ServeWorker(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "jeton hash worker:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// errUsage reports a command line that was wrong; the usage was already printed.
var errUsage = errors.New("usage")

// env is what every command gets from the process: its arguments after the command
// name, the environment, and standard streams.
type env struct {
	args   []string
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

const usage = `jeton: a multi-tenant OAuth2 authorization server.

Usage:
  jeton serve [flags]          serve /token, /introspect, /revoke (needs JETON_DATABASE_URL)
  jeton dev [flags]            run on a local dev database with a seeded demo tenant
  jeton migrate up|down|status apply, roll back or list migrations
  jeton tenant create|update   manage tenants
  jeton client create|update   manage clients
  jeton user create|disable|enable|delete|set-password
                               manage users
  jeton admin-key create|list|revoke
                               manage admin API keys
  jeton healthcheck [--url U]  exit 0 when a running jeton answers /readyz (for containers)
  jeton version                print the release (dev for a build from source)
Run "jeton COMMAND -h" for a command's flags.
`

// run is the whole program; tests call it as the binary would run.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	e := env{args: args[2:], getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	switch args[1] {
	case "serve":
		return serve(ctx, e)
	case "dev":
		return dev(ctx, e)
	case "migrate":
		return migrate(ctx, e)
	case "tenant":
		return tenantCmd(ctx, e)
	case "client":
		return clientCmd(ctx, e)
	case "user":
		return userCmd(ctx, e)
	case "admin-key":
		return adminKeyCmd(ctx, e)
	case "healthcheck":
		return healthcheck(ctx, e)
	case "version", "--version":
		fmt.Fprintln(stdout, "jeton", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "jeton: unknown command %q\n\n%s", args[1], usage)
	return errUsage
}
