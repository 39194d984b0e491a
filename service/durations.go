package service

import (
	"strconv"
	"strings"
	"time"
)

// ParseDuration reads a duration of the admin API: as Go writes one ("15m", "1h30m",
// "2160h"), or a whole number of days ("90d"). It returns a ValidationError naming field.
// Ranges are checked where the value is used.
func ParseDuration(field, s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		// Bounded so the product cannot overflow (about 290 years fit in a Duration).
		if n, err := strconv.ParseInt(days, 10, 32); err == nil && n >= 0 && n <= maxDays {
			return time.Duration(n) * 24 * time.Hour, nil
		}
		return 0, invalid(field, "must be a whole number of days from 0d to 36500d")
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, invalid(field, `must be a duration like "15m", "24h" or "90d"`)
	}
	return d, nil
}

const maxDays = 36500

// FormatDuration writes d as Go does without zero units at the end ("15m", "2160h"), which
// ParseDuration reads back.
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
