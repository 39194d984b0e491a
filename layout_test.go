// Package jeton_test checks the package graph the README's Layout section draws: each
// package imports only the packages of jeton listed for it, so no arrow runs back up.
package jeton_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/jeton-auth/jeton/"

// mayImport lists, for every package of the module, the module's packages it may import
// (README, Layout). A package missing here fails the test: a new package takes its place
// in the graph on purpose.
var mayImport = map[string][]string{
	"cmd/jeton": {"api", "breach", "console", "db", "keyring", "metrics", "migrations", "password", "pgserver",
		"pgserver/pgcontainer", "service", "webhooks"},
	"api":                  {"db", "password", "service"},
	"metrics":              {"db", "service"},
	"service":              {"db", "keyring", "password", "password/legacy", "tokens", "webhooks"},
	"password":             {"password/legacy"},
	"console":              {},
	"db":                   {},
	"tokens":               {},
	"breach":               {},
	"keyring":              {},
	"webhooks":             {},
	"password/legacy":      {},
	"migrations":           {},
	"pgserver":             {},
	"pgserver/pgcontainer": {},
	"pgcluster":            {},
	// Test support (testSupport): never imported by the server's packages.
	"dbtest":                {"migrations", "pgcluster", "pgserver", "pgserver/pgcontainer"},
	"webhooks/webhookstest": {"webhooks"},
	"internal/testkit":      {"db", "password"},
}

// testSupport are the packages only tests, the bench and the chaos suite import: no
// server package may list one in mayImport.
var testSupport = []string{"dbtest", "webhooks/webhookstest", "internal/testkit", "pgcluster"}

// testOnly are packages that hold only tests, examples or tools; they may import anything.
var testOnly = []string{"", "chaos", "rsintegration", "examples/"}

func TestPackageGraph(t *testing.T) {
	for pkg, allowed := range mayImport {
		for _, dep := range allowed {
			if slices.Contains(testSupport, dep) && !slices.Contains(testSupport, pkg) {
				t.Errorf("%s may import the test support package %s", pkg, dep)
			}
		}
	}
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		pkg := strings.TrimPrefix(strings.TrimPrefix(fields[0], module), strings.TrimSuffix(module, "/"))
		if slices.ContainsFunc(testOnly, func(p string) bool { return pkg == p || p != "" && strings.HasPrefix(pkg, p) }) {
			continue
		}
		allowed, ok := mayImport[pkg]
		if !ok {
			t.Errorf("package %s has no place in the graph: add it to mayImport and to the README's Layout", pkg)
			continue
		}
		for _, imp := range fields[1:] {
			dep, internal := strings.CutPrefix(imp, module)
			if internal && !slices.Contains(allowed, dep) {
				t.Errorf("%s imports %s, which the graph does not allow", pkg, dep)
			}
		}
	}
}
