// Command jeton is the jeton authorization server and its admin CLI.
package main

import (
	"context"
	"errors"
	"fmt"
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
	err := run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err))
}

// exitCode is the process's status for what run returned: 0 done, 2 a wrong command line
// (run has printed why), 1 any other error, which it prints.
func exitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	fmt.Fprintln(os.Stderr, "jeton:", err)
	return 1
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
