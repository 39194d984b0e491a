package main

import (
	"context"
	"errors"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/alecthomas/kong"
	"github.com/jeton-auth/jeton/internal/testkit"
)

// commandPaths maps every command of the grammar, by the words that name it ("" for jeton
// itself), to its node, walking kong's model: a command added later is covered without
// being listed here.
func commandPaths(t *testing.T) map[string]*kong.Node {
	t.Helper()
	k, err := newParser(&cli{}, env{getenv: func(string) string { return "" }, stdout: io.Discard, stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*kong.Node{}
	var walk func(n *kong.Node, path string)
	walk = func(n *kong.Node, path string) {
		out[path] = n
		for _, c := range n.Children {
			walk(c, strings.TrimSpace(path+" "+c.Name))
		}
	}
	walk(k.Model.Node, "")
	return out
}

// runCLI runs the command line with environ as its whole environment and returns what it
// wrote.
func runCLI(environ map[string]string, stdin string, args ...string) (stdout, stderr string, err error) {
	var out, errOut testkit.Buffer
	err = run(context.Background(), append([]string{"jeton"}, args...), func(k string) string { return environ[k] },
		strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

// flagHelp is the part of a help text that describes flag name, its line and the lines its
// description wraps onto (indented deeper than any flag), with runs of spaces and line
// breaks as one space.
func flagHelp(help, name string) string {
	const flagIndent = 6 // "      --name" or "  -h, --help"
	indent := func(l string) int { return len(l) - len(strings.TrimLeft(l, " ")) }
	lines := strings.Split(help, "\n")
	for i, l := range lines {
		t := strings.TrimPrefix(strings.TrimSpace(l), "-h, ")
		if indent(l) > flagIndent || t != name && !strings.HasPrefix(t, name+"=") && !strings.HasPrefix(t, name+" ") {
			continue
		}
		block := []string{l}
		for _, next := range lines[i+1:] {
			if strings.TrimSpace(next) == "" || indent(next) <= flagIndent {
				break
			}
			block = append(block, next)
		}
		return strings.Join(strings.Fields(strings.Join(block, " ")), " ")
	}
	return ""
}

// TestHelpListsEveryFlag: -h and --help on every command and action exit 0 and list every
// flag it accepts with its default and its environment variable; jeton help COMMAND says
// the same.
func TestHelpListsEveryFlag(t *testing.T) {
	for path, node := range commandPaths(t) {
		t.Run(strings.ReplaceAll(testName(path), " ", "_"), func(t *testing.T) {
			words := strings.Fields(path)
			var first string
			for _, h := range []string{"-h", "--help"} {
				out, _, err := runCLI(nil, "", append(words, h)...)
				if err != nil || exitCodeOf(err) != 0 {
					t.Fatalf("jeton %s %s: %v", path, h, err)
				}
				if !strings.Contains(out, strings.TrimSpace("Usage: jeton "+path)) {
					t.Errorf("jeton %s %s does not show its usage:\n%s", path, h, out)
				}
				if first == "" {
					first = out
				} else if out != first {
					t.Errorf("-h and --help differ for jeton %s", path)
				}
			}
			if out, _, err := runCLI(nil, "", append([]string{"help"}, words...)...); err != nil || out != first {
				t.Errorf("jeton help %s = %v, not the same as jeton %s -h:\n%s", path, err, path, out)
			}
			for _, group := range node.AllFlags(true) {
				for _, f := range group {
					block := flagHelp(first, "--"+f.Name)
					if block == "" {
						t.Errorf("--%s is not listed:\n%s", f.Name, first)
						continue
					}
					switch {
					case f.IsBool() && f.HasDefault && f.Default == "true":
						if !strings.Contains(block, "(default true)") {
							t.Errorf("--%s does not show its default, true:\n%s", f.Name, block)
						}
					case f.HasDefault && !f.IsBool() && !strings.Contains(block, "--"+f.Name+"="+f.FormatPlaceHolder()):
						t.Errorf("--%s does not show its default %q:\n%s", f.Name, f.Default, block)
					}
					for _, v := range f.Envs {
						if !strings.Contains(block, "$"+v) {
							t.Errorf("--%s does not name its variable %s:\n%s", f.Name, v, block)
						}
					}
				}
			}
		})
	}
}

func testName(path string) string {
	if path == "" {
		return "jeton"
	}
	return path
}

// exitCodeOf is the status main would exit with, without printing.
func exitCodeOf(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	return 1
}

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{{nil, 0}, {errUsage, 2}, {errors.Join(errors.New("x"), errUsage), 2}} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		if out, _, err := runCLI(nil, "", args...); err != nil || strings.TrimSpace(out) != "jeton "+version {
			t.Errorf("jeton %v = %q, %v; want the release", args, out, err)
		}
	}
	out, _, err := runCLI(nil, "", "version", "-h")
	if err != nil || !strings.Contains(out, "Usage: jeton version") || strings.Contains(out, "jeton "+version+"\n") {
		t.Errorf("jeton version -h = %q, %v; want its help, not the release", out, err)
	}
}

// silentDatabase is a PostgreSQL URL whose server counts the connections it gets and
// closes each at once.
func silentDatabase(t *testing.T) (url string, dials *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	dials = &atomic.Int64{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			dials.Add(1)
			c.Close()
		}
	}()
	return "postgres://nobody@" + ln.Addr().String() + "/x?sslmode=disable&connect_timeout=5", dials
}

// TestUsageErrors: a wrong command line exits 2 with the command's usage and the error on
// stderr, and never reaches the database.
func TestUsageErrors(t *testing.T) {
	dbURL, dials := silentDatabase(t)
	env := map[string]string{"JETON_DATABASE_URL": dbURL}
	for _, tc := range []struct {
		name  string
		args  []string
		usage string // the usage line printed
		want  string // in the error
	}{
		{"no command", nil, "Usage: jeton <command>", "expected one of"},
		{"unknown command", []string{"bogus"}, "Usage: jeton <command>", "bogus"},
		{"unknown flag", []string{"serve", "--bogus"}, "Usage: jeton serve", "--bogus"},
		{"no action", []string{"tenant"}, "Usage: jeton tenant", "expected one of"},
		{"unknown action", []string{"tenant", "bogus"}, "Usage: jeton tenant", "bogus"},
		{"unknown migrate action", []string{"migrate", "bogus"}, "Usage: jeton migrate", "bogus"},
		{"missing argument", []string{"tenant", "create"}, "Usage: jeton tenant create", "slug"},
		{"missing flag", []string{"client", "create", "--name", "app"}, "Usage: jeton client create", "--tenant"},
		{"no user", []string{"user", "show", "--tenant", "acme"}, "Usage: jeton user show", "--username"},
		{"two users", []string{"user", "delete", "alice", "--tenant", "acme", "--username", "bob"}, "Usage: jeton user delete", "two users"},
		{"no --password-stdin", []string{"user", "create", "alice", "--tenant", "acme"}, "Usage: jeton user create", "--password-stdin"},
		{"bad value", []string{"tenant", "update", "acme", "--access-ttl", "soon"}, "Usage: jeton tenant update", "soon"},
		{"bad boolean", []string{"client", "update", "jc_x", "--tenant", "acme", "--introspect", "yes"}, "Usage: jeton client update", "true or false"},
		{"bad id", []string{"admin-key", "revoke", "not-a-uuid"}, "Usage: jeton admin-key revoke", "UUID"},
		{"bad shell", []string{"completion", "tcsh"}, "Usage: jeton completion", "tcsh"},
		{"bad variable", []string{"serve", "--issuer", "http://127.0.0.1"}, "Usage: jeton serve", "JETON_MAX_CONNECTIONS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, err := runCLI(withEnv(env, "JETON_MAX_CONNECTIONS", "lots"), "", tc.args...)
			if !errors.Is(err, errUsage) || exitCodeOf(err) != 2 {
				t.Fatalf("jeton %v = %v, want a usage error", tc.args, err)
			}
			if !strings.Contains(stderr, tc.usage) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("jeton %v: %v, stderr %q; want %q and %q", tc.args, err, stderr, tc.usage, tc.want)
			}
		})
	}
	// The admin commands read the deployment settings from the environment before they
	// connect, too.
	if _, _, err := runCLI(withEnv(env, "JETON_ARGON2_TIME", "x"), "", "tenant", "list"); err == nil ||
		!strings.Contains(err.Error(), "JETON_ARGON2_TIME") {
		t.Errorf("tenant list with JETON_ARGON2_TIME=x: %v", err)
	}
	if n := dials.Load(); n != 0 {
		t.Errorf("usage errors connected to the database %d times", n)
	}
	// The check above would have seen a connection: this one is made.
	if _, _, err := runCLI(env, "", "migrate", "status"); err == nil || dials.Load() == 0 {
		t.Fatalf("migrate status on the counting server: %v, %d connections", err, dials.Load())
	}
}

// TestCompletion: each script names every command, action and flag; the bash one, run in
// bash, completes them.
func TestCompletion(t *testing.T) {
	paths := commandPaths(t)
	for _, shell := range []string{"bash", "zsh", "fish"} {
		out, _, err := runCLI(nil, "", "completion", shell)
		if err != nil || out == "" {
			t.Fatalf("completion %s: %q, %v", shell, out, err)
		}
		for path, node := range paths {
			if path != "" && !strings.Contains(out, node.Name) {
				t.Errorf("completion %s does not mention %q", shell, path)
			}
			for _, f := range node.Flags {
				if !f.Hidden && !strings.Contains(out, f.Name) {
					t.Errorf("completion %s does not mention --%s of %q", shell, f.Name, path)
				}
			}
		}
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash to run the bash script in")
	}
	script, _, err := runCLI(nil, "", "completion", "bash")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		line string // what is typed; the last word is completed
		want string
	}{
		{"jeton te", "tenant"},
		{"jeton tenant cr", "create"},
		{"jeton client rot", "rotate-secret"},
		{"jeton client create --tenant acme --pu", "--public"},
		{"jeton user create alice --tenant acme --password-", "--password-stdin"},
		{"jeton serve --log-format ", "json text"},
		{"jeton completion ", "bash zsh fish --help"},
		{"jeton migrate ", "up down status --help"},
	} {
		words := strings.Split(tc.line, " ")
		cmd := exec.Command(bash, "--norc", "-c", script+`
COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _jeton; echo "${COMPREPLY[*]}"`, "bash")
		cmd.Args = append(cmd.Args, words...)
		got, err := cmd.Output()
		if err != nil || strings.TrimSpace(string(got)) != tc.want {
			t.Errorf("completing %q: %q, %v; want %q", tc.line, got, err, tc.want)
		}
	}
}
