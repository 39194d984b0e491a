package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/jeton-auth/jeton/breach"
	"github.com/jeton-auth/jeton/service"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// breachCmd is "jeton breach import".
type breachCmd struct {
	Import breachImportCmd `cmd:"" help:"Read a Pwned Passwords SHA-1 list (HEX:COUNT lines, any order) into a filter file."`
}

type breachImportCmd struct {
	List   string `arg:"" placeholder:"LIST" help:"the list, or - for standard input"`
	Out    string `name:"out" default:"breached-passwords.jbf" placeholder:"FILE" help:"filter file to write (replaced atomically)"`
	TmpDir string `name:"tmp-dir" placeholder:"DIR" help:"directory for the keys spilled per shard, about 8 bytes a line (default the system's)"`
}

func (c *breachImportCmd) Run(e env) error {
	in, size, done, err := e.input(c.List)
	if err != nil {
		return err
	}
	defer done()
	st, err := breach.Import(in, c.Out, c.TmpDir, breachProgress(e.stderr, size))
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "wrote %s: %d entries from %d lines, %d bytes\n", c.Out, st.Entries, st.Lines, st.Bytes)
	return nil
}

// breachProgress draws progress bars on stderr when it is a terminal: bytes read (a
// spinner for standard input), then shards built.
func breachProgress(w io.Writer, size int64) breach.Progress {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return breach.Progress{}
	}
	read := progressbar.DefaultBytes(size, "reading")
	var built *progressbar.ProgressBar
	return breach.Progress{
		Read: func(n int64) { _ = read.Set64(n) },
		Built: func(n int) {
			if built == nil {
				_ = read.Finish()
				built = progressbar.Default(256, "building")
			}
			_ = built.Set(n)
		},
	}
}

// openBreachList maps --breached-passwords, when given, and remaps it on every SIGHUP
// until closed: closing stops the remapping, then unmaps the file.
func openBreachList(ctx context.Context, o serverFlags, log *slog.Logger) (_ *breach.List, closeList func(), _ error) {
	if o.BreachedPasswords == "" {
		if o.BreachCheckLogin {
			return nil, nil, errors.New("--breach-check-login needs --breached-passwords")
		}
		return nil, nil, nil
	}
	l, err := breach.OpenList(o.BreachedPasswords)
	if err != nil {
		return nil, nil, fmt.Errorf("--breached-passwords: %w", err)
	}
	ctx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	log.Info("breached passwords", slog.String("file", o.BreachedPasswords), slog.Uint64("entries", l.Entries()))
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer close(stopped)
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := l.Reload(); err != nil {
					log.Error("breached passwords not reloaded; the previous file stays in use", slog.String("error", err.Error()))
					continue
				}
				log.Info("breached passwords reloaded", slog.String("file", o.BreachedPasswords), slog.Uint64("entries", l.Entries()))
			}
		}
	}()
	return l, func() { stop(); <-stopped; _ = l.Close() }, nil
}

// adminBreachList opens JETON_BREACHED_PASSWORDS, when set, for an admin command.
func adminBreachList(getenv func(string) string) ([]service.Option, func(), error) {
	path := getenv("JETON_BREACHED_PASSWORDS")
	if path == "" {
		return nil, func() {}, nil
	}
	l, err := breach.OpenList(path)
	if err != nil {
		return nil, nil, fmt.Errorf("JETON_BREACHED_PASSWORDS: %w", err)
	}
	return []service.Option{service.WithBreachList(l)}, func() { _ = l.Close() }, nil
}
