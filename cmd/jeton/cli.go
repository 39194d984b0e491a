package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	"github.com/alecthomas/kong"
)

// cli is jeton's command line: kong reads it into these structs, then calls the Run method
// of the command it names. Every command is "jeton COMMAND [ACTION] [ARGS] [flags]"; flags
// may come before or after the arguments.
type cli struct {
	Version kong.VersionFlag `hidden:"" help:"Print the release and exit (as jeton version does)."`

	Serve       serveCmd       `cmd:"" set:"log_format=json" set:"shutdown_drain=5s" help:"Serve /token, /introspect, /revoke, the revocation feed and the admin API (needs JETON_DATABASE_URL and --issuer)."`
	Dev         devCmd         `cmd:"" set:"log_format=text" set:"shutdown_drain=0s" help:"Run on a local dev database with a seeded demo tenant, printing its credentials and curl lines."`
	Migrate     migrateCmd     `cmd:"" help:"Apply, roll back or list migrations."`
	Tenant      tenantCmd      `cmd:"" help:"Manage tenants."`
	Client      clientCmd      `cmd:"" help:"Manage a tenant's clients."`
	User        userCmd        `cmd:"" help:"Manage a tenant's users."`
	AdminKey    adminKeyCmd    `cmd:"" name:"admin-key" help:"Manage admin API keys."`
	Keys        keysCmd        `cmd:"" help:"Manage the key ring that seals second-factor secrets."`
	Webhook     webhookCmd     `cmd:"" help:"Manage webhook endpoints (docs/WEBHOOKS.md)."`
	Breach      breachCmd      `cmd:"" help:"Build the offline breached-password filter serve --breached-passwords maps."`
	Healthcheck healthcheckCmd `cmd:"" help:"Exit 0 when a running jeton answers /readyz (the container's health check)."`
	Release     versionCmd     `cmd:"" name:"version" help:"Print the release (dev for a build from source)."`
	Completion  completionCmd  `cmd:"" help:"Print a completion script for bash, zsh or fish."`
	Help        helpCmd        `cmd:"" help:"Show the help of a command."`
}

const description = `jeton: a multi-tenant OAuth2 authorization server.

Admin commands (tenant, client, user, admin-key) call the same service functions as the admin API, on JETON_DATABASE_URL, and record cli:<os user> as the actor.`

// env is what every command gets from the process besides its command line.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// input opens the file a command reads, or e's standard input for "-", and returns its
// size when it is a regular file (-1 otherwise: progress then shows no total) and what
// closes it.
func (e env) input(path string) (io.Reader, int64, func(), error) {
	if path == "-" {
		return e.stdin, -1, func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, nil, err
	}
	size := int64(-1)
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		size = fi.Size()
	}
	return f, size, func() { f.Close() }, nil
}

// errUsage marks a command line that was wrong; run has printed the usage and the error.
var errUsage = errors.New("usage")

// run is the whole program; tests call it as the binary would run. It returns an error
// wrapping errUsage for a wrong command line, which it has reported on stderr.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	var c cli
	k, err := newParser(&c, e, kong.Description(description), kong.Vars{"version": "jeton " + version})
	if err != nil {
		return err
	}
	kctx, done, err := parse(k, args[1:])
	switch {
	case done:
		return nil
	case err != nil:
		return usageError(k, err)
	}
	kctx.BindTo(ctx, (*context.Context)(nil))
	return kctx.Run(e)
}

// newParser builds a parser of grammar that reads environment variables through e.getenv
// and writes help to e.stdout.
func newParser(grammar any, e env, options ...kong.Option) (*kong.Kong, error) {
	k, err := kong.New(grammar, append([]kong.Option{
		kong.Name("jeton"),
		kong.Writers(e.stdout, e.stderr),
		kong.Exit(func(code int) { panic(exitRequest(code)) }),
		kong.Vars(defaultVars()),
		kong.Resolvers(envResolver(e.getenv)),
		kong.ValueFormatter(helpValue),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true, WrapUpperBound: 100}),
		kong.ExplicitGroups([]kong.Group{{Key: "deployment", Title: "Deployment settings (the admin commands read them from their variables too):"}}),
	}, options...)...)
	if err != nil {
		return nil, err
	}
	hideEnvs(k)
	return k, nil
}

// exitRequest is how kong ends a parse after it has answered --help or --version: it calls
// Exit, which must not end the process run runs in.
type exitRequest int

// parse reads args into k's grammar. done reports that kong answered the command line
// itself (--help, --version): there is nothing more to do.
func parse(k *kong.Kong, args []string) (kctx *kong.Context, done bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(exitRequest); !ok {
				panic(r)
			}
			done = true
		}
	}()
	kctx, err = k.Parse(args)
	return kctx, false, err
}

// usageError reports a command line kong refused: the usage of the command it got to,
// then the error, on stderr. It returns err wrapping errUsage.
func usageError(k *kong.Kong, err error) error {
	if pe, ok := errors.AsType[*kong.ParseError](err); ok && pe.Context != nil {
		k.Stdout = k.Stderr
		_ = kong.DefaultShortHelpPrinter(kong.HelpOptions{}, pe.Context)
	}
	k.Errorf("%s", err)
	return fmt.Errorf("%w: %w", errUsage, err)
}

// Environment variables: kong would read a flag's env tag with os.LookupEnv when it resets
// the flag, before any resolver runs. jeton reads them through run's getenv instead (tests
// give run its whole environment), and an empty variable counts as unset, so that
// JETON_OPS_ADDR= leaves the default and JETON_OPS_ADDR=off turns the listener off.
// hideEnvs, once kong has built the model, takes the names from kong's reset, leaving them
// in Flag.Envs for envResolver, the help and the completion scripts.
func hideEnvs(k *kong.Kong) {
	_ = kong.Visit(k.Model, func(n kong.Visitable, next kong.Next) error {
		if f, ok := n.(*kong.Flag); ok {
			f.Value.Tag.Envs = nil
		}
		return next(nil)
	})
}

// envResolver gives a flag missing from the command line the value of its first
// environment variable that is set and not empty. It returns an error naming the variable
// when the flag cannot take its value.
func envResolver(getenv func(string) string) kong.Resolver {
	return kong.ResolverFunc(func(_ *kong.Context, _ *kong.Path, f *kong.Flag) (any, error) {
		for _, name := range f.Envs {
			v := getenv(name)
			if v == "" {
				continue
			}
			scan := kong.ScanFromTokens(kong.Token{Type: kong.FlagValueToken, Value: v})
			if err := f.Mapper.Decode(&kong.DecodeContext{Value: f.Value, Scan: scan}, reflect.New(f.Target.Type()).Elem()); err != nil {
				return nil, fmt.Errorf("%w (from %s)", err, name)
			}
			return v, nil
		}
		return nil, nil
	})
}

// helpValue is the help of a flag or argument: its text, then "default true" for a
// boolean flag on by default (kong shows every other default in place of the value), then
// its environment variable.
func helpValue(v *kong.Value) string {
	h := v.Help
	if v.Flag == nil {
		return h
	}
	if v.IsBool() && v.HasDefault && v.Default == "true" {
		h += " (default true)"
	}
	if len(v.Flag.Envs) > 0 {
		h += " ($" + strings.Join(v.Flag.Envs, ", $") + ")"
	}
	return h
}

// helpCmd is "jeton help [COMMAND...]", the same as "jeton COMMAND... --help".
type helpCmd struct {
	Command []string `arg:"" optional:"" help:"the command, e.g. tenant create"`
}

func (c *helpCmd) Run(kctx *kong.Context) error {
	_, _, err := parse(kctx.Kong, append(c.Command, "--help"))
	if err != nil {
		return usageError(kctx.Kong, err)
	}
	return nil
}

// versionCmd is "jeton version".
type versionCmd struct{}

func (versionCmd) Run(e env) error {
	_, err := fmt.Fprintln(e.stdout, "jeton", version)
	return err
}
