package pgserver

import (
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestWithDatabase(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		dbname string
		want   string
	}{
		{
			name:   "URL with a database",
			in:     "postgres://postgres@localhost:5432/postgres?sslmode=disable",
			dbname: "jeton_test_1_2_3",
			want:   "postgres://postgres@localhost:5432/jeton_test_1_2_3?sslmode=disable",
		},
		{
			name:   "URL without a path keeps its password",
			in:     "postgresql://u:p%40ss@db:6543?sslmode=require",
			dbname: "other",
			want:   "postgresql://u:p%40ss@db:6543/other?sslmode=require",
		},
		{
			name:   "multi-host URL",
			in:     "postgres://u@h1:5432,h2:5433/a",
			dbname: "b",
			want:   "postgres://u@h1:5432,h2:5433/b",
		},
		{
			name:   "DSN replaces dbname",
			in:     "host=localhost dbname=postgres user=postgres",
			dbname: "jeton",
			want:   "host=localhost dbname=jeton user=postgres",
		},
		{
			name:   "DSN with a quoted dbname and spaces around =",
			in:     "host=localhost dbname = 'my db' sslmode=disable",
			dbname: "jeton",
			want:   "host=localhost dbname = jeton sslmode=disable",
		},
		{
			name:   "DSN without dbname appends it",
			in:     "host=localhost password='a b\\'c'",
			dbname: "jeton",
			want:   "host=localhost password='a b\\'c' dbname=jeton",
		},
		{
			name:   "DSN value that needs quoting",
			in:     "host=localhost",
			dbname: "it's db",
			want:   "host=localhost dbname='it\\'s db'",
		},
		{
			name:   "empty DSN",
			in:     "",
			dbname: "jeton",
			want:   "dbname=jeton",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := WithDatabase(tt.in, tt.dbname)
			if err != nil {
				t.Fatalf("WithDatabase(%q) error: %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("WithDatabase(%q, %q) = %q, want %q", tt.in, tt.dbname, got, tt.want)
			}
			cfg, err := pgconn.ParseConfig(got)
			if err != nil {
				t.Fatalf("pgconn cannot parse %q: %v", got, err)
			}
			if cfg.Database != tt.dbname {
				t.Errorf("pgconn reads database %q from %q, want %q", cfg.Database, got, tt.dbname)
			}
		})
	}
}

func TestWithDatabaseErrors(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		dbname string
	}{
		{name: "empty name", in: "postgres://localhost/x", dbname: ""},
		{name: "bad URL", in: "postgres://[::1/x", dbname: "y"},
		{name: "DSN without =", in: "host localhost", dbname: "y"},
		{name: "DSN unterminated quote", in: "host='localhost", dbname: "y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := WithDatabase(tt.in, tt.dbname); err == nil {
				t.Errorf("WithDatabase(%q, %q) = %q, want an error", tt.in, tt.dbname, got)
			}
		})
	}
}
