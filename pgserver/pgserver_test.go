package pgserver

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
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
		noContainer  bool // the Finder has no StartContainer

		wantURL       string
		wantSource    string
		wantStarted   bool     // StartContainer was called
		wantErrParts  []string // all must appear in the error; nil means no error
		wantErrNot    []string // none may appear in the error
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
		{
			name:         "no container fallback: localhost's error, no word of Docker",
			pingErr:      map[string]error{localURL: errRefused},
			noContainer:  true,
			wantErrParts: []string{"set TEST_DATABASE_URL to a postgres:// URL", "localhost:5432", "connection refused"},
			wantErrNot:   []string{"Docker", "container"},
			wantErrIs:    []error{errRefused},
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
			if tt.noContainer {
				f.StartContainer = nil
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
				for _, part := range tt.wantErrNot {
					if strings.Contains(err.Error(), part) {
						t.Errorf("error %q mentions %q", err, part)
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
	// Port 1 on loopback refuses the connection.
	if err := Ping(t.Context(), "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable"); err == nil {
		t.Fatal("Ping of a closed port succeeded")
	}
}

// TestPingSilentServer: a port that accepts but never answers (a firewall that swallows
// packets, a hung server) ends in Ping's own timeout, not in a hang.
func TestPingSilentServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, silent, until the test ends
		}
	}()
	err = Ping(t.Context(), "postgres://postgres@"+ln.Addr().String()+"/postgres?sslmode=disable")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Ping of a silent server = %v, want its timeout (context.DeadlineExceeded)", err)
	}
}
