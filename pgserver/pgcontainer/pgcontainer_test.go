package pgcontainer

import (
	"errors"
	"os"
	"testing"
)

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

// TestStartNoDocker runs only where this machine has no engine configured, which is the
// case it guards: Start answers ErrNoDocker from its own check of the environment, never
// from testcontainers' discovery, which can hang.
func TestStartNoDocker(t *testing.T) {
	if dockerConfigured(os.Getenv, fileExists) {
		t.Skip("a Docker engine is configured here; the no-Docker path cannot be exercised")
	}
	url, stop, err := Start(t.Context())
	if !errors.Is(err, ErrNoDocker) {
		t.Fatalf("Start() = %q, %v; want ErrNoDocker", url, err)
	}
	if stop == nil {
		t.Fatal("stop is nil")
	}
	stop()
}
