package chaos

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jeton-auth/jeton/pgcluster"
)

var (
	fullFlag    = flag.Bool("chaos.full", false, "run the full chaos suite: longer outages, more load (make chaos)")
	resultsFlag = flag.String("chaos.results", "", "Markdown file for the results (default: jeton-chaos-{short,full}.md in the temporary directory)")
)

// config sizes a run.
type config struct {
	name        string
	command     string        // how the report says it was run
	deployment  string        // what the report says the instances ran on
	instanceEnv []string      // more of the instances\' environment
	workers     int           // load goroutines
	pace        time.Duration // each worker's pause between requests
	steady      time.Duration // load before each fault, and after recovery
	outage      time.Duration // how long PostgreSQL stays down in the restart fault
	longOut     time.Duration // the outage during which goroutines and memory are watched
	freeze      time.Duration // how long PostgreSQL stays frozen (SIGSTOP)
	terminate   int           // pg_terminate_backend rounds
	drain       time.Duration // --shutdown-drain of the instances
}

func runConfig() config {
	const pairDeployment = "PostgreSQL: a primary and a synchronous streaming standby run by the suite, " +
		"reached through a multi-host URL (target_session_attrs=read-write)"
	if *fullFlag {
		return config{name: "full", command: "make chaos (go test ./chaos -chaos.full)", deployment: pairDeployment, workers: 5, pace: 30 * time.Millisecond, steady: 10 * time.Second,
			outage: 15 * time.Second, longOut: 60 * time.Second, freeze: 10 * time.Second, terminate: 5,
			drain: 5 * time.Second}
	}
	return config{name: "short", command: "go test ./chaos", deployment: pairDeployment, workers: 3, pace: 40 * time.Millisecond, steady: 2 * time.Second,
		outage: 3 * time.Second, longOut: 6 * time.Second, freeze: 3 * time.Second, terminate: 2,
		drain: time.Second}
}

// Timeouts of the instances and the bounds the suite holds their answers to. The margin
// over each timeout only catches hangs: a request stuck in a lock or a dead connection.
const (
	requestTimeout = 2 * time.Second // jeton's default, left unset on the command line
	adminTimeout   = 5 * time.Second
	hangMargin     = 3 * time.Second
)

// suiteDirPrefix names the suite's temporary directories; leftovers of a killed run (its
// t.Cleanup never ran) older than an hour are removed by the next run.
const suiteDirPrefix = "jeton-chaos-"

// needBinaries fails the test, never skipping, when the PostgreSQL server binaries are
// missing.
func needBinaries(t *testing.T) {
	t.Helper()
	dir, err := pgcluster.BinDir()
	if err != nil {
		t.Fatalf("the chaos suite starts PostgreSQL clusters of its own (a primary and a streaming standby, "+
			"never the server other tests use) and needs the server binaries initdb, postgres, pg_ctl and "+
			"pg_basebackup: %v", err)
	}
	for _, b := range []string{"initdb", "postgres", "pg_ctl", "pg_basebackup"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			t.Fatalf("the chaos suite needs %s in %s (Debian: apt-get install postgresql): %v", b, dir, err)
		}
	}
	if _, err := pgcluster.Credential(); err != nil {
		t.Fatal(err)
	}
}

// suiteDir makes the run's directory (the postgres user must traverse it) after sweeping
// stale ones.
func suiteDir(t *testing.T) string {
	t.Helper()
	old, _ := filepath.Glob(filepath.Join(os.TempDir(), suiteDirPrefix+"*"))
	for _, d := range old {
		if st, err := os.Stat(d); err == nil && time.Since(st.ModTime()) > time.Hour {
			_ = os.RemoveAll(d)
		}
	}
	dir, err := os.MkdirTemp("", suiteDirPrefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// buildJeton compiles cmd/jeton into dir, as a release would be built.
func buildJeton(t *testing.T, dir string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goBin, "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Fatalf("go env GOMOD: %v %s", err, out)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bin := filepath.Join(dir, "jeton")
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", bin, "./cmd/jeton")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/jeton: %v\n%s", err, out)
	}
	return bin
}

func resultsPath(cfg config) string {
	if *resultsFlag != "" {
		return *resultsFlag
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("jeton-chaos-%s.md", cfg.name))
}
