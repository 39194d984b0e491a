package service

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// MaxAllowedOrigins bounds a client's CORS origins.
const MaxAllowedOrigins = 50

// hostnameRE is a lowercase ASCII host name as a browser serialises it (IDNs in punycode).
var hostnameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)

// ValidOrigin checks that origin is written exactly as a browser sends it in the Origin
// header (RFC 6454 §6.2): "http" or "https", "://", a lowercase host, and a port only when
// it is not the scheme's default; no path, not even "/". Browsers compare origins as
// strings, and so does jeton, so anything else could never match. It returns a
// ValidationError naming field.
func ValidOrigin(field, origin string) error {
	reason := func(why string) error {
		return invalid(field, fmt.Sprintf("%q is not an origin as browsers send it (%s)", origin, why))
	}
	if len(origin) > 255 {
		return reason("longer than 255 bytes")
	}
	for i := 0; i < len(origin); i++ {
		if origin[i] <= 0x20 || origin[i] >= 0x7f {
			return reason("printable ASCII only; browsers send international hosts as punycode")
		}
	}
	u, err := url.Parse(origin)
	if err != nil || u.Opaque != "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(origin, "#") {
		return reason(`want scheme://host[:port]`)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return reason("the scheme must be http or https")
	}
	if u.Path != "" {
		return reason("no path, not even a trailing /")
	}
	host, port := u.Hostname(), u.Port()
	switch {
	case strings.HasPrefix(u.Host, "["):
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() || a.Zone() != "" || a.String() != host {
			return reason("an IPv6 address in its shortest lowercase form")
		}
	case !hostnameRE.MatchString(host):
		return reason("a lowercase ASCII host name or IPv4 address")
	case strings.Trim(host[strings.LastIndex(host, ".")+1:], "0123456789") == "":
		// A numeric last label makes the host an IPv4 address, which browsers write in
		// dotted decimal.
		if a, err := netip.ParseAddr(host); err != nil || !a.Is4() || a.String() != host {
			return reason("an IPv4 address in dotted decimal")
		}
	}
	if port != "" || strings.HasSuffix(u.Host, ":") {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
			return reason("a port from 1 to 65535")
		}
		if (u.Scheme == "http" && n == 80) || (u.Scheme == "https" && n == 443) {
			return reason("browsers omit the scheme's default port")
		}
	}
	if u.Scheme+"://"+u.Host != origin {
		return reason(`want scheme://host[:port] in lowercase`)
	}
	return nil
}

// validOrigins checks a client's CORS origins: each valid, none twice, at most
// MaxAllowedOrigins.
func validOrigins(field string, origins []string) error {
	if len(origins) > MaxAllowedOrigins {
		return invalid(field, fmt.Sprintf("at most %d origins", MaxAllowedOrigins))
	}
	for i, o := range origins {
		if err := ValidOrigin(field, o); err != nil {
			return err
		}
		if slices.Contains(origins[:i], o) {
			return invalid(field, fmt.Sprintf("%q is listed twice", o))
		}
	}
	return nil
}

// OriginAllowed reports whether some enabled client of an enabled tenant lists origin
// among its CORS origins: all a preflight, which carries no credentials, may be told. A
// malformed origin is not allowed, without a database read.
func (s *Service) OriginAllowed(ctx context.Context, origin string) (bool, error) {
	if ValidOrigin("origin", origin) != nil {
		return false, nil
	}
	return s.store.OriginAllowed(ctx, origin)
}
