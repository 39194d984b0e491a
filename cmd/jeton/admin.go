package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/alecthomas/kong"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/service"
)

// The admin commands (tenant, client, user, admin-key) call the same service methods the
// admin API wraps. Their per-resource flags have no environment variables, so nothing left
// in a shell grants what nobody asked for; only the database URL and the deployment
// settings come from the environment.

// adminFlags are what every admin action takes.
type adminFlags struct {
	databaseFlags `embed:""`
}

// open connects to the database with the deployment settings of the environment. done
// closes it.
func (f adminFlags) open(ctx context.Context, e env, opts ...service.Option) (svc *service.Service, done func(), err error) {
	if err := f.requireURL(); err != nil {
		return nil, nil, err
	}
	cfg, err := deploymentFromEnv(e.getenv)
	if err != nil {
		return nil, nil, err
	}
	// The passwords an admin sets are checked against serve's breached list too.
	breachOpts, closeList, err := adminBreachList(e.getenv)
	if err != nil {
		return nil, nil, err
	}
	pool, err := f.databaseFlags.open(ctx)
	if err != nil {
		closeList()
		return nil, nil, err
	}
	if svc, err = service.New(db.New(pool), cfg, append(opts, breachOpts...)...); err != nil {
		pool.Close()
		closeList()
		return nil, nil, err
	}
	return svc, func() { _ = svc.Close(); pool.Close(); closeList() }, nil
}

// withService runs do on a service opened as open opens it, and closes the service after.
func (f adminFlags) withService(ctx context.Context, e env, do func(*service.Service) error, opts ...service.Option) error {
	svc, done, err := f.open(ctx, e, opts...)
	if err != nil {
		return err
	}
	defer done()
	return do(svc)
}

// act runs do, a service call that returns nothing, on a service opened as open opens it,
// and then prints what was done: result as one JSON object, or text.
func (f adminFlags) act(ctx context.Context, e env, asJSON bool, result any, text string, do func(*service.Service) error) error {
	return f.withService(ctx, e, func(svc *service.Service) error {
		if err := do(svc); err != nil {
			return err
		}
		return output(e.stdout, asJSON, result, text)
	})
}

// output prints v as one JSON object, or text as is.
func output(w io.Writer, asJSON bool, v any, text string) error {
	if asJSON {
		return json.NewEncoder(w).Encode(v)
	}
	_, err := fmt.Fprintln(w, text)
	return err
}

// table prints a list: one JSON object per line, or aligned columns under a header.
func table[T any](w io.Writer, asJSON bool, items []T, header string, row func(T) string, view func(T) any) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, it := range items {
			if err := enc.Encode(view(it)); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, it := range items {
		fmt.Fprintln(tw, row(it))
	}
	return tw.Flush()
}

// fields prints a resource as aligned "name value" lines.
func fields(w io.Writer, kv ...string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(tw, "%s\t%s\n", kv[i], kv[i+1])
	}
	return tw.Flush()
}

// oneOf returns the resource an action names, given as its argument or by its flag (the
// form older command lines use), and refuses neither or two different ones.
func oneOf(arg, flag, what, flagName string) (string, error) {
	switch {
	case arg == "" && flag == "":
		return "", fmt.Errorf("name the %s: as the argument or with %s", what, flagName)
	case arg != "" && flag != "" && arg != flag:
		return "", fmt.Errorf("two %ss: %q and %s %q", what, arg, flagName, flag)
	}
	return cmp.Or(arg, flag), nil
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

// scopes reads a space-separated scope list flag: nil when the flag was not given, an
// empty list for "".
func scopes(flag *string) []string {
	if flag == nil {
		return nil
	}
	return append([]string{}, strings.Fields(*flag)...)
}

// The update actions change only what their flags name. A lifetime or threshold a tenant
// or client may override is an optDuration or optInt: left alone, set, or "default", which
// drops the override. A boolean that takes a value (--introspect true|false) is an optBool.

// optDuration is a duration that may be left alone, set, or reset to the default.
type optDuration struct {
	set   bool
	value *time.Duration
}

// Decode reads a duration or "default".
func (d *optDuration) Decode(ctx *kong.DecodeContext) error {
	v, err := optValue(ctx)
	if err != nil {
		return err
	}
	if v == "default" {
		d.set, d.value = true, nil
		return nil
	}
	x, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("want a duration or default, got %q", v)
	}
	d.set, d.value = true, &x
	return nil
}

func (d optDuration) apply(dst **time.Duration) {
	if d.set {
		*dst = d.value
	}
}

// optInt is an integer that may be left alone, set, or reset to the default.
type optInt struct {
	set   bool
	value *int
}

// Decode reads an integer or "default".
func (o *optInt) Decode(ctx *kong.DecodeContext) error {
	v, err := optValue(ctx)
	if err != nil {
		return err
	}
	if v == "default" {
		o.set, o.value = true, nil
		return nil
	}
	x, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("want a whole number or default, got %q", v)
	}
	o.set, o.value = true, &x
	return nil
}

func (o optInt) apply(dst **int) {
	if o.set {
		*dst = o.value
	}
}

// optBool is a boolean that may be left alone; unlike a boolean flag it takes its value
// as the next argument: --introspect true.
type optBool struct{ set, value bool }

// Decode reads true or false.
func (b *optBool) Decode(ctx *kong.DecodeContext) error {
	v, err := optValue(ctx)
	if err != nil {
		return err
	}
	switch v {
	case "true":
		b.set, b.value = true, true
	case "false":
		b.set, b.value = true, false
	default:
		return fmt.Errorf("want true or false, got %q", v)
	}
	return nil
}

func (b optBool) apply(dst *bool) {
	if b.set {
		*dst = b.value
	}
}

// optValue is the value of an opt flag.
func optValue(ctx *kong.DecodeContext) (string, error) {
	var v string
	err := ctx.Scan.PopValueInto("value", &v)
	return v, err
}

// overrideString shows a lifetime override, or "default".
func overrideString(d *time.Duration) string {
	if d == nil {
		return "default"
	}
	return service.FormatDuration(*d)
}

// overrideInt shows a threshold override, or "default".
func overrideInt(n *int) string {
	if n == nil {
		return "default"
	}
	return strconv.Itoa(*n)
}

// timeString shows an optional time, or "-".
func timeString(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}

// allPages reads a listing the service pages, page after page, until its end or until it
// has limit items (0: no limit).
func allPages[T any](limit int, page func(cursor string, n int) ([]T, string, error)) ([]T, error) {
	var all []T
	for cursor := ""; ; {
		n := service.MaxPageSize
		if limit > 0 {
			n = min(n, limit-len(all))
		}
		items, next, err := page(cursor, n)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if cursor = next; cursor == "" || limit > 0 && len(all) >= limit {
			return all, nil
		}
	}
}
