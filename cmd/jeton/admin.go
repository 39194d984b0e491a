package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/service"
)

// The admin commands call the same service methods the admin API wraps. Their
// per-resource flags have no environment variables, so nothing left in a shell grants
// what nobody asked for; only the database URL and deployment settings come from the
// environment.

// adminCmd is one "jeton RESOURCE ACTION" command.
type adminCmd func(ctx context.Context, e env, fs *flag.FlagSet, svc func() (*service.Service, func(), error)) error

func dispatch(ctx context.Context, e env, resource string, cmds map[string]adminCmd) error {
	if len(e.args) == 0 || cmds[e.args[0]] == nil {
		names := make([]string, 0, len(cmds))
		for n := range cmds {
			names = append(names, n)
		}
		fmt.Fprintf(e.stderr, "usage: jeton %s %s [flags]\n", resource, strings.Join(slices.Sorted(slices.Values(names)), "|"))
		return errUsage
	}
	action := e.args[0]
	e.args = e.args[1:]
	fs := newFlags(resource+" "+action, e)
	return cmds[action](ctx, e, fs, func() (*service.Service, func(), error) { return openService(ctx, e) })
}

// openService connects to JETON_DATABASE_URL with the deployment settings from the
// environment.
func openService(ctx context.Context, e env) (*service.Service, func(), error) {
	url := e.getenv("JETON_DATABASE_URL")
	if url == "" {
		return nil, nil, errors.New("JETON_DATABASE_URL is required")
	}
	fs := flag.NewFlagSet("env", flag.ContinueOnError)
	cfg := serviceFlags(fs)
	if err := applyEnv(fs, e.getenv); err != nil {
		return nil, nil, err
	}
	pool, err := openPool(ctx, url)
	if err != nil {
		return nil, nil, err
	}
	svc, err := service.New(db.New(pool), cfg())
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return svc, pool.Close, nil
}

// output prints v as one JSON object, or text as is.
func output(w io.Writer, asJSON bool, v any, text string) error {
	if asJSON {
		return json.NewEncoder(w).Encode(v)
	}
	_, err := fmt.Fprintln(w, text)
	return err
}

// optDuration is a duration flag that may be left alone, set, or reset to the default.
type optDuration struct {
	set   bool
	value *time.Duration
}

func (d *optDuration) String() string { return "" }

func (d *optDuration) Set(v string) error {
	d.set = true
	if v == "default" {
		d.value = nil
		return nil
	}
	x, err := time.ParseDuration(v)
	if err != nil {
		return err
	}
	d.value = &x
	return nil
}

func (d *optDuration) apply(dst **time.Duration) {
	if d.set {
		*dst = d.value
	}
}

// optInt is a flag for an optional integer override: a number, or "default" to clear it.
type optInt struct {
	set   bool
	value *int
}

func (o *optInt) String() string { return "" }

func (o *optInt) Set(v string) error {
	o.set = true
	if v == "default" {
		o.value = nil
		return nil
	}
	x, err := strconv.Atoi(v)
	if err != nil {
		return err
	}
	o.value = &x
	return nil
}

func (o *optInt) apply(dst **int) {
	if o.set {
		*dst = o.value
	}
}

// optScopes is a space-separated scope list flag that may be left alone.
type optScopes struct {
	set    bool
	scopes []string
}

func (s *optScopes) String() string { return "" }

func (s *optScopes) Set(v string) error {
	s.set, s.scopes = true, strings.Fields(v)
	if s.scopes == nil {
		s.scopes = []string{}
	}
	return nil
}

// readPassword reads a password from stdin, minus exactly one trailing newline.
func readPassword(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, 4096))
	if err != nil {
		return "", err
	}
	s := string(b)
	if strings.HasSuffix(s, "\r\n") {
		s = s[:len(s)-2]
	} else {
		s = strings.TrimSuffix(s, "\n")
	}
	return s, nil
}

func durationString(d *time.Duration) string {
	if d == nil {
		return ""
	}
	return d.String()
}
