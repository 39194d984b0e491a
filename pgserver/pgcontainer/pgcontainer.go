// Package pgcontainer starts a throwaway PostgreSQL server in a container with
// testcontainers-go: the last resort of pgserver.Finder for the tests (dbtest) and for a
// `jeton dev` built with the dev tag (make run). It is a package of its own so that the
// jeton binary that serves production, which never imports it, links no Docker client.
package pgcontainer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/testcontainers/testcontainers-go"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"
)

// Image is the image Start runs.
const Image = "postgres:15-alpine"

// startTimeout bounds the whole start. Without Docker, Start returns before
// testcontainers runs at all, so this only matters with an engine present, where a first
// pull of the image can take well over 30 seconds on a slow link.
const startTimeout = 90 * time.Second

// ErrNoDocker is returned by Start when no Docker engine is configured: DOCKER_HOST
// is unset and none of the usual sockets exists.
var ErrNoDocker = errors.New("no Docker engine found (DOCKER_HOST is unset and no docker socket exists)")

// Start starts a PostgreSQL container with testcontainers-go and returns its URL
// (with sslmode=disable) and a stop function that removes it; testcontainers' reaper also
// removes it when the process exits. It returns ErrNoDocker at once when no engine is
// configured, an error after 90 seconds if the container is not ready by then, and turns a
// panic inside testcontainers into an error.
func Start(ctx context.Context) (url string, stop func(), err error) {
	stop = func() {}
	if !dockerConfigured(os.Getenv, fileExists) {
		return "", stop, ErrNoDocker
	}
	defer func() {
		if r := recover(); r != nil {
			url, err = "", fmt.Errorf("start postgres container: testcontainers panicked: %v", r)
		}
	}()

	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	ctr, err := tcpostgres.Run(ctx, Image, tcpostgres.BasicWaitStrategies())
	if ctr != nil {
		stop = func() { _ = testcontainers.TerminateContainer(ctr) }
	}
	if err != nil {
		stop()
		return "", func() {}, fmt.Errorf("start postgres container: %w", err)
	}
	url, err = ctr.ConnectionString(ctx, "sslmode=disable")
	if err != nil {
		stop()
		return "", func() {}, fmt.Errorf("postgres container address: %w", err)
	}
	return url, stop, nil
}

// dockerConfigured reports whether any Docker (or Podman, Colima, ...) engine is configured
// the ways testcontainers looks for one. It is a cheap check of the environment and the
// file system, so the no-Docker case never waits on testcontainers' own discovery.
func dockerConfigured(getenv func(string) string, exists func(string) bool) bool {
	if getenv("DOCKER_HOST") != "" || getenv("TESTCONTAINERS_HOST_OVERRIDE") != "" {
		return true
	}
	var paths []string
	if home := getenv("HOME"); home != "" {
		paths = append(paths,
			filepath.Join(home, ".testcontainers.properties"),
			filepath.Join(home, ".docker", "contexts", "meta"),
			filepath.Join(home, ".docker", "run", "docker.sock"),
			filepath.Join(home, ".docker", "desktop", "docker.sock"),
			filepath.Join(home, ".colima", "default", "docker.sock"),
			filepath.Join(home, ".rd", "docker.sock"),
			filepath.Join(home, ".orbstack", "run", "docker.sock"),
		)
	}
	if xdg := getenv("XDG_RUNTIME_DIR"); xdg != "" {
		paths = append(paths,
			filepath.Join(xdg, "docker.sock"),
			filepath.Join(xdg, "podman", "podman.sock"),
		)
	}
	uid := strconv.Itoa(os.Getuid())
	paths = append(paths,
		"/var/run/docker.sock",
		"/run/docker.sock",
		"/run/user/"+uid+"/docker.sock",
		"/run/podman/podman.sock",
	)
	for _, p := range paths {
		if exists(p) {
			return true
		}
	}
	return false
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
