package api

import (
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/jeton-auth/jeton/service"
)

// MaxBodyBytes bounds every request body; a larger one is 413 before parsing.
const MaxBodyBytes = 64 << 10

// formType is the one content type of OAuth requests (RFC 6749 §3.2).
const formType = "application/x-www-form-urlencoded"

// form is a parsed application/x-www-form-urlencoded body. Parameters are read only from
// the body, never the query string (RFC 6749 §2.3.1, RFC 6750 §2.3).
type form url.Values

// get returns the parameter's value; an empty value is treated as omitted (RFC 6749 §3.2).
func (f form) get(name string) string {
	if v := f[name]; len(v) == 1 {
		return v[0]
	}
	return ""
}

// parseForm reads and checks the body: form content type, size, no repeated parameter
// (RFC 6749 §3.2), valid UTF-8 without NUL, a username without control characters. The
// scope is left to service.ParseScope, whose syntax (RFC 6749 §3.3) refuses all of those
// as invalid_scope. The token of /introspect and /revoke may hold NUL: such a token is
// malformed like any other, which RFC 7662 §2.2 answers inactive and RFC 7009 §2.2 with
// 200, and only a well-formed token (its hash) ever reaches the database.
func parseForm(c *gin.Context) (form, error) {
	if ct := c.GetHeader("Content-Type"); !strings.EqualFold(ct, formType) {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != formType {
			return nil, badRequest("content type must be application/x-www-form-urlencoded")
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, errTooLarge
	}
	if err != nil {
		return nil, badRequest("unreadable body")
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, badRequest("malformed form body")
	}
	for k, v := range vals {
		if len(v) > 1 {
			return nil, badRequest("parameter " + k + " is repeated")
		}
		if k == "scope" {
			continue
		}
		if !utf8.ValidString(k) || !utf8.ValidString(v[0]) || (k != "token" && strings.ContainsRune(v[0], 0)) {
			return nil, badRequest("parameters must be UTF-8 text")
		}
	}
	if strings.ContainsFunc(vals.Get("username"), isControl) {
		return nil, badRequest("username contains control characters")
	}
	return form(vals), nil
}

// isControl reports the C0 and C1 control characters and DEL.
func isControl(r rune) bool { return unicode.IsControl(r) }

// credentials extracts the client's credentials from HTTP Basic (whose parts are
// form-urlencoded, RFC 6749 §2.3.1) or from the client_id/client_secret parameters. Using
// both is invalid_request (RFC 6749 §2.3); a malformed Authorization header is
// invalid_client.
func credentials(c *gin.Context, f form) (service.Credentials, error) {
	auth := c.GetHeader("Authorization")
	inForm := f.get("client_id") != "" || f.get("client_secret") != ""
	if auth == "" {
		return service.Credentials{ClientID: f.get("client_id"), Secret: f.get("client_secret")}, nil
	}
	if inForm {
		return service.Credentials{}, badRequest("more than one client authentication method")
	}
	cred, ok := parseBasic(auth)
	if !ok {
		return service.Credentials{}, service.ErrInvalidClient
	}
	return cred, nil
}

// parseBasic decodes "Basic base64(urlencode(id):urlencode(secret))".
func parseBasic(header string) (service.Credentials, bool) {
	scheme, rest, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return service.Credentials{}, false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
	if err != nil {
		return service.Credentials{}, false
	}
	id, secret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return service.Credentials{}, false
	}
	id, err1 := url.QueryUnescape(id)
	secret, err2 := url.QueryUnescape(secret)
	if err1 != nil || err2 != nil || id == "" {
		return service.Credentials{}, false
	}
	return service.Credentials{ClientID: id, Secret: secret}, true
}
