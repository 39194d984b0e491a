package main

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/jeton-auth/jeton/tokens"
)

func TestPercentile(t *testing.T) {
	samples := make([]time.Duration, 100)
	for i := range samples {
		samples[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name string
		in   []time.Duration
		q    float64
		want time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one", []time.Duration{7}, 0.99, 7},
		{"median of 100", samples, 0.5, 50 * time.Millisecond},
		{"p99 of 100", samples, 0.99, 99 * time.Millisecond},
		{"max", samples, 1, 100 * time.Millisecond},
		{"tiny q", samples, 0.0001, time.Millisecond},
		{"p50 of 3", []time.Duration{1, 2, 3}, 0.5, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.in, tt.q); got != tt.want {
				t.Errorf("percentile(%d samples, %v) = %v, want %v", len(tt.in), tt.q, got, tt.want)
			}
		})
	}
}

func TestRelDiff(t *testing.T) {
	tests := []struct {
		name string
		in   []time.Duration
		want float64
	}{
		{"equal", []time.Duration{10, 10, 10}, 0},
		{"ten percent", []time.Duration{100, 110, 105}, 0.1},
		{"single", []time.Duration{5}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := relDiff(tt.in...); got < tt.want-1e-9 || got > tt.want+1e-9 {
				t.Errorf("relDiff(%v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

// TestTokenGen checks that seeded tokens are what jeton accepts, deterministic, distinct
// per index and stream, and hashed the way jeton stores them.
func TestTokenGen(t *testing.T) {
	g := tokenGen{seed: "s", stream: "live"}
	other := tokenGen{seed: "s", stream: "unknown"}
	seen := map[string]bool{}
	for i := uint64(0); i < 2000; i++ {
		for _, k := range []tokens.Kind{tokens.Access, tokens.Refresh, tokens.ClientSecret} {
			tok := g.token(k, i)
			if err := tokens.Check(k, tok); err != nil {
				t.Fatalf("token %d of kind %s = %q: Check: %v", i, k, tok, err)
			}
			if seen[tok] {
				t.Fatalf("token %d of kind %s repeats", i, k)
			}
			seen[tok] = true
		}
		if g.token(tokens.Access, i) != g.token(tokens.Access, i) {
			t.Fatalf("token %d is not deterministic", i)
		}
		if g.token(tokens.Access, i) == other.token(tokens.Access, i) {
			t.Fatalf("streams share token %d", i)
		}
	}
	if got, want := g.id(3), g.id(3); got != want || got.Version() != 4 {
		t.Errorf("id(3) = %v, %v: want deterministic version 4", got, want)
	}
	if id := g.clientID(1); len(id) != 27 || id[:3] != "jc_" {
		t.Errorf("clientID(1) = %q, want jc_ and 24 characters", id)
	}
	h := tokens.HashOf(g.token(tokens.Access, 1))
	if !slices.Equal(h[:], hashOf(g.token(tokens.Access, 1))) {
		t.Errorf("hashOf differs from tokens.HashOf")
	}
}

func TestMalformed(t *testing.T) {
	for i := uint64(0); i < 100; i++ {
		if tok := malformedToken(i); tokens.Check(tokens.Access, tok) == nil {
			t.Fatalf("malformedToken(%d) = %q passes tokens.Check", i, tok)
		}
	}
}

func TestThousands(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {1000000, "1,000,000"}, {-12345, "-12,345"}}
	for _, tt := range tests {
		if got := thousands(tt.in); got != tt.want {
			t.Errorf("thousands(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEnumAttempts(t *testing.T) {
	wrong := []string{"w-0", "w-1", "w-2"}
	disabled := []string{"d-0", "d-1", "d-2"}
	got := enumAttempts(3, "enum1", "a password", wrong, disabled, 1)
	if len(got) != 9 {
		t.Fatalf("enumAttempts(3, ...) returned %d attempts, want 9", len(got))
	}
	kinds := map[string]int{}
	forms := map[string]bool{}
	for _, a := range got {
		kinds[a.kind]++
		if forms[a.form] {
			t.Errorf("form %q repeats", a.form)
		}
		forms[a.form] = true
	}
	if want := map[string]int{"unknown user": 3, "wrong password": 3, "disabled user": 3}; !maps.Equal(kinds, want) {
		t.Errorf("kinds %v, want %v", kinds, want)
	}
	if again := enumAttempts(3, "enum1", "a password", wrong, disabled, 1); !slices.Equal(got, again) {
		t.Errorf("enumAttempts is not deterministic")
	}
}
