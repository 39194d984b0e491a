package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/jeton-auth/jeton/service"
)

// userImportCmd is "jeton user import --tenant SLUG FILE".
type userImportCmd struct {
	Tenant     string `name:"tenant" required:"" placeholder:"SLUG" help:"the tenant to import into"`
	File       string `arg:"" name:"file" help:"the users, one JSON object a line (docs/MIGRATION.md), or - for standard input"`
	OnConflict string `name:"on-conflict" enum:"fail,skip,update" default:"fail" help:"what an existing username does: fail (stop there), skip, or update"`
	DryRun     bool   `name:"dry-run" help:"validate and count everything, write nothing"`
	adminFlags `embed:""`
	JSON       bool `name:"json" help:"print the summary as one JSON object"`
}

func (c *userImportCmd) Run(ctx context.Context, e env) error {
	in, size, done, err := e.input(c.File)
	if err != nil {
		return err
	}
	defer done()
	return c.withService(ctx, e, func(svc *service.Service) error {
		progress, finish := importProgress(e.stderr, size)
		sum, err := svc.ImportUsers(ctx, cliActor(), c.Tenant, in, service.ImportOptions{OnConflict: c.OnConflict,
			DryRun: c.DryRun, Progress: progress})
		finish()
		var conflict *service.ImportConflictError
		if err != nil && !errors.As(err, &conflict) {
			return err
		}
		if perr := printSummary(e.stdout, c.JSON, sum); perr != nil {
			return perr
		}
		return err
	})
}

// importProgress shows an import's progress on w: a bar of bytes and users a second on a
// terminal, a plain line every 10,000 users otherwise.
func importProgress(w io.Writer, size int64) (func(int64, int), func()) {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		bar := progressbar.NewOptions64(size, progressbar.OptionSetWriter(w), progressbar.OptionShowBytes(true),
			progressbar.OptionSetDescription("importing"), progressbar.OptionThrottle(100_000_000),
			progressbar.OptionShowElapsedTimeOnFinish(), progressbar.OptionClearOnFinish())
		return func(n int64, lines int) {
			bar.Describe(fmt.Sprintf("%d users", lines))
			_ = bar.Set64(n)
		}, func() { _ = bar.Finish() }
	}
	next := 10_000
	return func(n int64, lines int) {
		if lines >= next {
			fmt.Fprintf(w, "read %d lines, %d bytes\n", lines, n)
			next = lines + 10_000
		}
	}, func() {}
}

func printSummary(w io.Writer, asJSON bool, sum service.ImportSummary) error {
	if asJSON {
		return json.NewEncoder(w).Encode(sum)
	}
	if _, err := fmt.Fprintf(w, "imported %d, updated %d, skipped %d, failed %d\n", sum.Imported, sum.Updated,
		sum.Skipped, sum.Failed); err != nil {
		return err
	}
	for _, le := range sum.Errors {
		if _, err := fmt.Fprintf(w, "line %d: %s\n", le.Line, le.Error); err != nil {
			return err
		}
	}
	return nil
}

// userExportCmd is "jeton user export --tenant SLUG": NDJSON on standard output.
type userExportCmd struct {
	Tenant         string `name:"tenant" required:"" placeholder:"SLUG" help:"the tenant to export"`
	IncludeSecrets bool   `name:"include-secrets" help:"include second-factor secrets"`
	adminFlags     `embed:""`
}

func (c *userExportCmd) Run(ctx context.Context, e env) error {
	return c.withService(ctx, e, func(svc *service.Service) error {
		enc := json.NewEncoder(e.stdout)
		return svc.ExportUsers(ctx, cliActor(), c.Tenant, service.ExportOptions{IncludeSecrets: c.IncludeSecrets},
			func(l service.ImportLine) error { return enc.Encode(l) })
	})
}

// legacyLoginFlags are tenant update's lazy migration flags.
type legacyLoginFlags struct {
	LegacyLoginURL string `name:"legacy-login-url" placeholder:"URL" help:"turn the lazy migration hook on at this https URL; its secret (whsec_...) from standard input, or made and printed once when none is given"`
	LegacyLogin    string `name:"legacy-login" enum:"off," default:"" placeholder:"off" help:"off turns the lazy migration hook off"`
}

// apply sets or turns off the hook when a flag asks, before the other changes.
func (f legacyLoginFlags) apply(ctx context.Context, e env, svc *service.Service, slug string) error {
	switch {
	case f.LegacyLogin == "off" && f.LegacyLoginURL != "":
		return errors.New("--legacy-login off and --legacy-login-url exclude each other")
	case f.LegacyLogin == "off":
		_, err := svc.SetLegacyLogin(ctx, cliActor(), slug, "", "", true)
		return err
	case f.LegacyLoginURL == "":
		return nil
	}
	secret := ""
	if f, ok := e.stdin.(*os.File); e.stdin != nil && (!ok || !term.IsTerminal(int(f.Fd()))) {
		s, err := readPassword(e.stdin)
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		secret = s
	}
	made, err := svc.SetLegacyLogin(ctx, cliActor(), slug, f.LegacyLoginURL, secret, false)
	if err == nil && made != "" {
		fmt.Fprintf(e.stderr, "legacy login secret (shown once): %s\n", made)
	}
	return err
}
