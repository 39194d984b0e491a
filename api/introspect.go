package api

import (
	"errors"
	"net/http"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/jeton-auth/jeton/service"
)

// inactive is the whole answer for every token that is not live for the caller
// (RFC 7662 §2.2): nothing says why. It is encoded once.
var inactive = []byte(`{"active":false}`)

// jsonType is the Content-Type of every JSON answer, as Gin's c.JSON writes it, shared by
// the answers of /introspect (a header value is never appended to in place).
var jsonType = []string{"application/json; charset=utf-8"}

// introspect serves POST /introspect (RFC 7662 §2.1) to resource servers of the token's
// tenant. A client without the introspect permission gets 403 and learns nothing.
func (s *Server) introspect(c *gin.Context) {
	f, err := parseForm(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	cred, err := credentials(c, f)
	if err != nil {
		s.fail(c, err)
		return
	}
	origin := c.GetHeader("Origin")
	tok := f.get("token")
	caller, in, ok, err := s.svc.IntrospectAs(c, cred, tok, origin)
	if caller.Tenant != "" {
		c.Set("tenant", caller.Tenant)
		if caller.OriginAllowed {
			c.Header("Access-Control-Allow-Origin", origin)
		}
	}
	if errors.Is(err, service.ErrUnauthorizedClient) {
		err = errForbidden
	}
	if err == nil && tok == "" {
		err = badRequest("token is required")
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	if !ok {
		writeJSON(c, inactive)
		return
	}
	in.Iss = s.cfg.Issuer
	buf := jsonBuffers.Get().(*[]byte)
	*buf = appendIntrospection((*buf)[:0], &in)
	writeJSON(c, *buf)
	jsonBuffers.Put(buf)
}

// writeJSON answers 200 with body, JSON already encoded.
func writeJSON(c *gin.Context, body []byte) {
	c.Writer.Header()["Content-Type"] = jsonType
	c.Status(http.StatusOK)
	_, _ = c.Writer.Write(body)
}

// jsonBuffers hold encoded answers until they are written; the write copies them into the
// connection's buffer.
var jsonBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// appendIntrospection appends in as encoding/json would marshal it (members in field
// order, omitempty, HTML-safe escapes), without reflection: it is every live answer.
func appendIntrospection(b []byte, in *service.Introspection) []byte {
	b = append(b, `{"active":`...)
	b = strconv.AppendBool(b, in.Active)
	b = appendMember(b, "scope", in.Scope)
	b = appendMember(b, "client_id", in.ClientID)
	if in.Username != "" {
		b = appendMember(b, "username", in.Username)
	}
	b = appendMember(b, "sub", in.Sub)
	b = appendMember(b, "token_type", in.TokenType)
	b = append(b, `,"exp":`...)
	b = strconv.AppendInt(b, in.Exp, 10)
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, in.Iat, 10)
	b = appendMember(b, "iss", in.Iss)
	b = appendMember(b, "jti", in.Jti)
	b = appendMember(b, "tenant", in.Tenant)
	if in.Sid != "" {
		b = appendMember(b, "sid", in.Sid)
	}
	if len(in.AMR) > 0 {
		b = append(b, `,"amr":[`...)
		for i, m := range in.AMR {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, m)
		}
		b = append(b, ']')
	}
	if in.ACR != "" {
		b = appendMember(b, "acr", in.ACR)
	}
	if in.AuthTime != 0 {
		b = append(b, `,"auth_time":`...)
		b = strconv.AppendInt(b, in.AuthTime, 10)
	}
	return append(b, '}')
}

// appendMember appends ,"name":"value"; name needs no escaping.
func appendMember(b []byte, name, value string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendJSONString(b, value)
}

// appendJSONString appends s as a JSON string the way encoding/json does by default:
// invalid UTF-8 becomes U+FFFD; quotes, backslashes, control characters, <, >, & and
// U+2028/U+2029 are escaped.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
