package rs

import (
	"errors"
	"testing"
	"time"
)

// A limit under a second still limits: it is one second, never rounded down to none.
func TestMaxAgeUnderASecond(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	c := &Client{cfg: Config{Now: func() time.Time { return now }}}
	for _, tc := range []struct {
		d       time.Duration
		ago     time.Duration
		refused bool
		maxAge  time.Duration
	}{
		{500 * time.Millisecond, 0, false, time.Second},
		{500 * time.Millisecond, 2 * time.Second, true, time.Second},
		{1500 * time.Millisecond, 1200 * time.Millisecond, true, time.Second},
		{10 * time.Minute, 9 * time.Minute, false, 10 * time.Minute},
		{0, 24 * time.Hour, false, 0},
	} {
		var o options
		MaxAge(tc.d)(&o)
		err := c.stepUp(Token{AuthTime: now.Add(-tc.ago)}, o)
		var e *Error
		if refused := errors.As(err, &e); refused != tc.refused || o.maxAge != tc.maxAge {
			t.Errorf("MaxAge(%v), login %v ago: refused %v (%v), max_age %v; want refused %v, max_age %v",
				tc.d, tc.ago, refused, err, o.maxAge, tc.refused, tc.maxAge)
		}
		if tc.refused && e.MaxAge != tc.maxAge {
			t.Errorf("MaxAge(%v): the error says max_age %v", tc.d, e.MaxAge)
		}
	}
}
