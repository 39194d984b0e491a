package pgserver

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestFindOrder(t *testing.T) {
	const (
		envURL       = "postgres://env@db.example:5432/x"
		localURL     = "postgres://local@localhost:5432/postgres"
		containerURL = "postgres://postgres:postgres@localhost:32768/postgres?sslmode=disable"
	)
	errRefused := errors.New("connection refused")
	errDocker := errors.New("docker: engine unreachable")

	tests := []struct {
		name         string
		env          map[string]string
		pingErr      map[string]error // by URL; absent means the ping succeeds
		containerErr error

		wantURL       string
		wantSource    string
		wantStarted   bool     // StartContainer was called
		wantErrParts  []string // all must appear in the error; nil means no error
		wantErrIs     []error
		wantStopCalls int // after calling the returned stop once
	}{
		{
			name:       "env wins over a reachable localhost",
			env:        map[string]string{"TEST_DATABASE_URL": envURL},
			wantURL:    envURL,
			wantSource: "env:TEST_DATABASE_URL",
		},
		{
			name:         "env set but unreachable fails without falling back",
			env:          map[string]string{"TEST_DATABASE_URL": envURL},
			pingErr:      map[string]error{envURL: errRefused},
			wantErrParts: []string{"TEST_DATABASE_URL is set", "connection refused"},
			wantErrIs:    []error{errRefused},
		},
		{
			name:       "localhost when its ping succeeds",
			wantURL:    localURL,
			wantSource: "localhost",
		},
		{
			name:          "container when localhost does not answer",
			pingErr:       map[string]error{localURL: errRefused},
			wantURL:       containerURL,
			wantSource:    "container",
			wantStarted:   true,
			wantStopCalls: 1,
		},
		{
			name:         "both fail: the message says how to fix it",
			pingErr:      map[string]error{localURL: errRefused},
			containerErr: errDocker,
			wantStarted:  true,
			wantErrParts: []string{
				"set TEST_DATABASE_URL to a postgres:// URL",
				"localhost:5432",
				"Docker",
				"connection refused",
				"docker: engine unreachable",
			},
			wantErrIs: []error{errRefused, errDocker},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			started, stopCalls := false, 0
			f := Finder{
				EnvVar:   "TEST_DATABASE_URL",
				Getenv:   func(k string) string { return tt.env[k] },
				LocalURL: localURL,
				Ping: func(_ context.Context, url string) error {
					return tt.pingErr[url]
				},
				StartContainer: func(context.Context) (string, func(), error) {
					started = true
					if tt.containerErr != nil {
						return "", nil, tt.containerErr
					}
					return containerURL, func() { stopCalls++ }, nil
				},
			}
			url, stop, source, err := f.Find(t.Context())
			if stop == nil {
				t.Fatal("stop is nil")
			}
			stop()
			if started != tt.wantStarted {
				t.Errorf("container started = %v, want %v", started, tt.wantStarted)
			}
			if stopCalls != tt.wantStopCalls {
				t.Errorf("container stop calls = %d, want %d", stopCalls, tt.wantStopCalls)
			}
			if tt.wantErrParts != nil {
				if err == nil {
					t.Fatalf("Find() = %q, %q, want an error", url, source)
				}
				for _, part := range tt.wantErrParts {
					if !strings.Contains(err.Error(), part) {
						t.Errorf("error %q does not mention %q", err, part)
					}
				}
				for _, target := range tt.wantErrIs {
					if !errors.Is(err, target) {
						t.Errorf("errors.Is(err, %v) = false", target)
					}
				}
				if url != "" || source != "" {
					t.Errorf("on error got url %q source %q, want empty", url, source)
				}
				return
			}
			if err != nil {
				t.Fatalf("Find() error: %v", err)
			}
			if url != tt.wantURL || source != tt.wantSource {
				t.Errorf("Find() = %q, %q, want %q, %q", url, source, tt.wantURL, tt.wantSource)
			}
		})
	}
}

func TestFindDefaults(t *testing.T) {
	var pinged string
	f := Finder{
		Getenv: func(string) string { t.Error("Getenv called with no EnvVar"); return "" },
		Ping:   func(_ context.Context, url string) error { pinged = url; return nil },
	}
	url, _, source, err := f.Find(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if pinged != DefaultLocalURL || url != DefaultLocalURL || source != "localhost" {
		t.Errorf("pinged %q, got %q from %q; want DefaultLocalURL from localhost", pinged, url, source)
	}
}

func TestPingUnreachable(t *testing.T) {
	// Port 1 on loopback refuses at once; the point is that Ping returns an error, quickly.
	start := time.Now()
	err := Ping(t.Context(), "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=1")
	if err == nil {
		t.Fatal("Ping of a closed port succeeded")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Ping took %v, want at most about 2s", d)
	}
}

func TestDockerConfigured(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		existing []string
		want     bool
	}{
		{name: "nothing", env: map[string]string{"HOME": "/home/u"}, want: false},
		{name: "DOCKER_HOST", env: map[string]string{"DOCKER_HOST": "tcp://127.0.0.1:2375"}, want: true},
		{name: "system socket", existing: []string{"/var/run/docker.sock"}, want: true},
		{name: "desktop socket", env: map[string]string{"HOME": "/home/u"}, existing: []string{"/home/u/.docker/run/docker.sock"}, want: true},
		{name: "rootless socket", env: map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000"}, existing: []string{"/run/user/1000/docker.sock"}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exists := func(p string) bool {
				for _, e := range tt.existing {
					if p == e {
						return true
					}
				}
				return false
			}
			got := dockerConfigured(func(k string) string { return tt.env[k] }, exists)
			if got != tt.want {
				t.Errorf("dockerConfigured() = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestContainerStarterNoDocker runs only where this machine has no engine configured, which
// is the case it guards: failing fast instead of hanging in testcontainers.
func TestContainerStarterNoDocker(t *testing.T) {
	if dockerConfigured(os.Getenv, fileExists) {
		t.Skip("a Docker engine is configured here; the no-Docker path cannot be exercised")
	}
	start := time.Now()
	url, stop, err := ContainerStarter(t.Context())
	if !errors.Is(err, ErrNoDocker) {
		t.Fatalf("ContainerStarter() = %q, %v; want ErrNoDocker", url, err)
	}
	if stop == nil {
		t.Fatal("stop is nil")
	}
	stop()
	if d := time.Since(start); d > time.Second {
		t.Errorf("ContainerStarter took %v without Docker, want immediate", d)
	}
}
