package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/alecthomas/kong"
)

// The completion scripts are generated from kong's model of the command line, so they
// list every command, action and flag there is. The Go modules that complete kong command
// lines (willabides/kongplete, jotaen/kong-completion) have seen no release since 2023,
// rest on posener/complete v1 (2019) and answer by running the binary from the shell at
// every TAB, which run would have to detect in its environment; a static script needs
// none of that. It completes commands and actions, the flags of the command typed so
// far, the values of enum flags and arguments, and files after any other flag that takes
// a value.

// completionCmd is "jeton completion bash|zsh|fish".
type completionCmd struct {
	Shell string `arg:"" enum:"bash,zsh,fish" help:"the shell: bash, zsh or fish"`
}

func (c *completionCmd) Run(kctx *kong.Context, e env) error {
	m := completionModel(kctx.Model)
	switch c.Shell {
	case "bash":
		return writeBash(e.stdout, m)
	case "zsh":
		return writeZsh(e.stdout, m)
	}
	return writeFish(e.stdout, m)
}

// completionNode is one command of the model, as the scripts need it.
type completionNode struct {
	path     string // "tenant create"; "" for jeton itself
	commands []completionItem
	flags    []completionItem
	args     []string // the values of its enum argument
}

type completionItem struct {
	name, help string
	short      rune
	value      bool     // a flag that takes a value
	enum       []string // the values it takes, when they are few
}

// completionModel lists the visible commands of app, jeton first, each with its actions
// and every flag it accepts (its own and those of the commands above it).
func completionModel(app *kong.Application) []completionNode {
	var out []completionNode
	var walk func(n *kong.Node, path string)
	walk = func(n *kong.Node, path string) {
		cn := completionNode{path: path}
		for _, child := range n.Children {
			if !child.Hidden && child.Type == kong.CommandNode {
				cn.commands = append(cn.commands, completionItem{name: child.Name, help: child.Help})
			}
		}
		for _, group := range n.AllFlags(true) {
			for _, f := range group {
				cn.flags = append(cn.flags, completionItem{name: "--" + f.Name, help: f.Help, short: f.Short,
					value: !f.IsBool() && !f.IsCounter(), enum: enumValues(f.Enum)})
			}
		}
		for _, p := range n.Positional {
			cn.args = append(cn.args, enumValues(p.Enum)...)
		}
		out = append(out, cn)
		for _, child := range n.Children {
			if !child.Hidden && child.Type == kong.CommandNode {
				walk(child, strings.TrimSpace(path+" "+child.Name))
			}
		}
	}
	walk(app.Node, "")
	return out
}

func enumValues(enum string) []string {
	if enum == "" {
		return nil
	}
	vs := strings.Split(enum, ",")
	for i := range vs {
		vs[i] = strings.TrimSpace(vs[i])
	}
	return vs
}

// paths are the command paths of m but jeton's own, which the scripts recognise in the
// words typed so far.
func paths(m []completionNode) []string {
	var out []string
	for _, n := range m[1:] {
		out = append(out, n.path)
	}
	return out
}

// valueFlags groups n's flags that take a value by the values they take ("" for any), in
// a stable order.
func (n completionNode) valueFlags() (names map[string][]string, keys []string) {
	names = map[string][]string{}
	for _, f := range n.flags {
		if f.value {
			k := strings.Join(f.enum, " ")
			names[k] = append(names[k], f.name)
		}
	}
	for k := range names {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return names, keys
}

// valueCases is how a script spells the case statement on the word before the cursor
// that completes a flag's value: files after a flag that takes any value, the flag's
// values after one that takes one of a list.
type valueCases struct {
	head, tail string              // the case line and its esac
	anyValue   string              // a format of the flags' names, joined with |
	oneOf      string              // a format of the flags' names and of the list
	list       func(string) string // the space-separated list as oneOf wants it
}

var (
	bashValueCases = valueCases{head: "        case \"$prev\" in\n", tail: "        esac\n",
		anyValue: "        %s) return ;;\n",
		oneOf:    "        %s) COMPREPLY=($(compgen -W %s -- \"$cur\")); return ;;\n", list: quote}
	// zsh's compadd takes the values as separate words: the list goes unquoted.
	zshValueCases = valueCases{head: "      case \"${words[CURRENT-1]}\" in\n", tail: "      esac\n",
		anyValue: "        (%s) _files; return ;;\n",
		oneOf:    "        (%s) compadd -- %s; return ;;\n", list: func(s string) string { return s }}
)

// writeValueCases writes n's case statement in the spelling of s, when n has flags that
// take a value.
func (n completionNode) writeValueCases(b *strings.Builder, s valueCases) {
	names, keys := n.valueFlags()
	if len(keys) == 0 {
		return
	}
	b.WriteString(s.head)
	for _, k := range keys {
		if k == "" {
			fmt.Fprintf(b, s.anyValue, strings.Join(names[k], "|"))
		} else {
			fmt.Fprintf(b, s.oneOf, strings.Join(names[k], "|"), s.list(k))
		}
	}
	b.WriteString(s.tail)
}

// words are what may follow n's words: its actions, its argument's values and its flags.
func (n completionNode) words() []string {
	var out []string
	for _, c := range n.commands {
		out = append(out, c.name)
	}
	out = append(out, n.args...)
	for _, f := range n.flags {
		out = append(out, f.name)
	}
	return out
}

// quote is s in single quotes for bash and zsh.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = quote(s)
	}
	return out
}

func writeBash(w io.Writer, m []completionNode) error {
	var b strings.Builder
	b.WriteString(`# bash completion for jeton, from "jeton completion bash". Load it with
#   source <(jeton completion bash)
_jeton() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} cmd="" w i
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        case "${cmd:+$cmd }$w" in
        ` + strings.Join(quoteAll(paths(m)), "|") + `) cmd="${cmd:+$cmd }$w" ;;
        esac
    done
    local words
    case "$cmd" in
`)
	for _, n := range m {
		fmt.Fprintf(&b, "    %s)\n", quote(n.path))
		n.writeValueCases(&b, bashValueCases)
		fmt.Fprintf(&b, "        words=%s ;;\n", quote(strings.Join(n.words(), " ")))
	}
	b.WriteString("    esac\n    COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n}\ncomplete -o default -F _jeton jeton\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func writeZsh(w io.Writer, m []completionNode) error {
	var b strings.Builder
	b.WriteString(`#compdef jeton
# zsh completion for jeton, from "jeton completion zsh". Save it as _jeton in a directory
# of $fpath, or load it after compinit with
#   source <(jeton completion zsh)
_jeton() {
  local cmd="" w i
  for ((i = 2; i < CURRENT; i++)); do
    w=${words[i]}
    case "${cmd:+$cmd }$w" in
      (` + strings.Join(quoteAll(paths(m)), "|") + `) cmd="${cmd:+$cmd }$w" ;;
    esac
  done
  local -a items
  case "$cmd" in
`)
	desc := func(name, help string) string { return quote(strings.ReplaceAll(name, ":", `\:`) + ":" + help) }
	for _, n := range m {
		fmt.Fprintf(&b, "    (%s)\n", quote(n.path))
		n.writeValueCases(&b, zshValueCases)
		var items []string
		for _, c := range n.commands {
			items = append(items, desc(c.name, c.help))
		}
		for _, a := range n.args {
			items = append(items, desc(a, ""))
		}
		for _, f := range n.flags {
			items = append(items, desc(f.name, f.help))
		}
		fmt.Fprintf(&b, "      items=(%s) ;;\n", strings.Join(items, " "))
	}
	b.WriteString(`  esac
  _describe -t jeton jeton items
}
if [ "$funcstack[1]" = "_jeton" ]; then
  _jeton "$@"
else
  compdef _jeton jeton
fi
`)
	_, err := io.WriteString(w, b.String())
	return err
}

// fishQuote is s in single quotes for fish, which escapes \ and ' inside them.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func writeFish(w io.Writer, m []completionNode) error {
	var b strings.Builder
	var known []string
	for _, p := range paths(m) {
		known = append(known, fishQuote(p))
	}
	fmt.Fprintf(&b, `# fish completion for jeton, from "jeton completion fish". Install it with
#   jeton completion fish > ~/.config/fish/completions/jeton.fish
function __jeton_command
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l cmd ''
    for w in $tokens
        set -l next (string trim -- "$cmd $w")
        if contains -- $next %s
            set cmd $next
        end
    end
    echo $cmd
end
function __jeton_at
    test (__jeton_command) = "$argv[1]"
end
complete -c jeton -f
`, strings.Join(known, " "))
	for _, n := range m {
		at := fishQuote("__jeton_at " + fishQuote(n.path))
		for _, c := range n.commands {
			fmt.Fprintf(&b, "complete -c jeton -n %s -a %s -d %s\n", at, c.name, fishQuote(c.help))
		}
		if len(n.args) > 0 {
			fmt.Fprintf(&b, "complete -c jeton -n %s -a %s\n", at, fishQuote(strings.Join(n.args, " ")))
		}
		for _, f := range n.flags {
			line := fmt.Sprintf("complete -c jeton -n %s -l %s", at, strings.TrimPrefix(f.name, "--"))
			if f.short != 0 {
				line += fmt.Sprintf(" -s %c", f.short)
			}
			switch {
			case len(f.enum) > 0:
				line += " -x -a " + fishQuote(strings.Join(f.enum, " "))
			case f.value:
				line += " -r -F"
			}
			fmt.Fprintf(&b, "%s -d %s\n", line, fishQuote(f.help))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
