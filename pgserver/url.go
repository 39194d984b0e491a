package pgserver

import (
	"errors"
	"fmt"
	neturl "net/url"
	"strings"
)

// WithDatabase returns connString with its database replaced by dbname. connString is a
// postgres:// (or postgresql://) URL or a keyword/value DSN such as "host=h dbname=d"; the
// rest of it is kept as is. It returns an error if dbname is empty or connString cannot be
// parsed.
func WithDatabase(connString, dbname string) (string, error) {
	if dbname == "" {
		return "", errors.New("with database: empty database name")
	}
	if strings.HasPrefix(connString, "postgres://") || strings.HasPrefix(connString, "postgresql://") {
		// pgconn parses URLs with net/url too, multi-host ones included, so this round-trips.
		u, err := neturl.Parse(connString)
		if err != nil {
			return "", fmt.Errorf("with database: parse URL: %w", err)
		}
		u.Path = "/" + dbname
		u.RawPath = ""
		return u.String(), nil
	}
	return withDSNDatabase(connString, dbname)
}

// withDSNDatabase replaces or appends dbname in a keyword/value DSN, following libpq's
// syntax: key = value pairs separated by spaces, values optionally single-quoted with
// backslash escapes.
func withDSNDatabase(dsn, dbname string) (string, error) {
	i := 0
	skipSpace := func() {
		for i < len(dsn) && isSpace(dsn[i]) {
			i++
		}
	}
	for {
		skipSpace()
		if i == len(dsn) {
			break
		}
		keyStart := i
		for i < len(dsn) && dsn[i] != '=' && !isSpace(dsn[i]) {
			i++
		}
		key := dsn[keyStart:i]
		skipSpace()
		if i == len(dsn) || dsn[i] != '=' || key == "" {
			return "", fmt.Errorf("with database: malformed DSN near %q", key)
		}
		i++ // '='
		skipSpace()
		valStart := i
		if i < len(dsn) && dsn[i] == '\'' {
			i++
			for i < len(dsn) && dsn[i] != '\'' {
				if dsn[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(dsn) {
				return "", fmt.Errorf("with database: unterminated quoted value for %q", key)
			}
			i++ // closing quote
		} else {
			for i < len(dsn) && !isSpace(dsn[i]) {
				if dsn[i] == '\\' {
					i++
				}
				i++
			}
			if i > len(dsn) {
				i = len(dsn)
			}
		}
		if key == "dbname" {
			return dsn[:valStart] + quoteDSNValue(dbname) + dsn[i:], nil
		}
	}
	if strings.TrimSpace(dsn) == "" {
		return "dbname=" + quoteDSNValue(dbname), nil
	}
	return dsn + " dbname=" + quoteDSNValue(dbname), nil
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func quoteDSNValue(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\n\r\f\v'\\=") {
		return v
	}
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(v) + "'"
}
