package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"
)

// TestUnavailable: every way the database can be away or out of time is a 503 with
// Retry-After (temporarily_unavailable, or the admin API's unavailable problem), never a
// 500; an error of the query itself stays a 500.
func TestUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"request deadline", context.DeadlineExceeded, true},
		{"pool closed at shutdown", puddle.ErrClosedPool, true},
		{"connection closed under a query", pgconn.ErrConnClosed, true},
		{"server went away mid-message", io.ErrUnexpectedEOF, true},
		{"server closed the connection", io.EOF, true},
		{"network", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, true},
		{"pg_terminate_backend or shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"another backend crashed", &pgconn.PgError{Code: "57P02"}, true},
		{"starting up or shutting down", &pgconn.PgError{Code: "57P03"}, true},
		{"idle session timeout", &pgconn.PgError{Code: "57P05"}, true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"disk full", &pgconn.PgError{Code: "53100"}, true},
		{"statement timeout", &pgconn.PgError{Code: "57014"}, true},
		{"lock timeout", &pgconn.PgError{Code: "55P03"}, true},
		{"a standby, mid-failover", &pgconn.PgError{Code: "25006"}, true},
		{"deadlock", &pgconn.PgError{Code: "40P01"}, true},
		{"serialization failure", &pgconn.PgError{Code: "40001"}, true},
		{"commit outcome unknown", &pgconn.PgError{Code: "40003"}, false},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"syntax error", &pgconn.PgError{Code: "42601"}, false},
		{"database dropped", &pgconn.PgError{Code: "57P04"}, false},
		{"anything else", errors.New("boom"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := fmt.Errorf("issue token: %w", tc.err)
			if got := unavailable(err); got != tc.want {
				t.Fatalf("unavailable(%v) = %v, want %v", err, got, tc.want)
			}
			oe, _ := oauthErrorOf(err)
			p, _ := toProblem(err)
			wantStatus := http.StatusInternalServerError
			if tc.want {
				wantStatus = http.StatusServiceUnavailable
			}
			if oe.Status != wantStatus || p.Status != wantStatus {
				t.Errorf("OAuth %d %s, admin %d %s; want %d", oe.Status, oe.Code, p.Status, p.Type, wantStatus)
			}
		})
	}
}
