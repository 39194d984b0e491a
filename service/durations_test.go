package service

import (
	"errors"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"15m", 15 * time.Minute, true},
		{"90d", 90 * 24 * time.Hour, true},
		{"0d", 0, true},
		{"36500d", 36500 * 24 * time.Hour, true},
		{"36501d", 0, false},
		{"213504d", 0, false}, // would overflow time.Duration
		{"-1d", 0, false},
		{"xd", 0, false},
		{"", 0, false},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParseDuration("f", c.in)
			var ve *ValidationError
			switch {
			case c.ok && (err != nil || got != c.want):
				t.Fatalf("ParseDuration(%q) = %v, %v; want %v", c.in, got, err, c.want)
			case !c.ok && !errors.As(err, &ve):
				t.Fatalf("ParseDuration(%q) = %v, %v; want a ValidationError", c.in, got, err)
			}
		})
	}
}
