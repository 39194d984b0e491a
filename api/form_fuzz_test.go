package api

// Internal fuzz targets for the parsers every OAuth request goes through first. Their
// seeds run with the tests (make test); `go test -fuzz FuzzParseForm ./api` explores.

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
)

// FuzzParseForm: parseForm never panics; what it accepts has every parameter once, valid
// UTF-8 without NUL (the scope aside: ParseScope judges it; the token may hold NUL, which
// makes it malformed) and a username without control characters; what it refuses is a 400
// or a 413 invalid_request.
func FuzzParseForm(f *testing.F) {
	seeds := []struct{ ctype, body string }{
		{"application/x-www-form-urlencoded", "grant_type=password&username=alice&password=x"},
		{"application/x-www-form-urlencoded; charset=UTF-8", "grant_type=refresh_token&refresh_token=jrt_x&scope=read+write"},
		{"application/x-www-form-urlencoded", "a=1&a=2"},
		{"application/x-www-form-urlencoded", "username=al%00ice"},
		{"application/x-www-form-urlencoded", "username=%C3%28"},
		{"application/x-www-form-urlencoded", "scope=%00%ff"},
		{"application/x-www-form-urlencoded", "%zz=1"},
		{"application/x-www-form-urlencoded", "&&&=&"},
		{"application/x-www-form-urlencoded", "a=1;b=2"},
		{"application/x-www-form-urlencoded", "username=a%0D%0Ab&password=%C2%85"},
		{"application/x-www-form-urlencoded", "token=jat_x%00%0A&token_type_hint=%00"},
		{"application/json", `{"grant_type":"password"}`},
		{"multipart/form-data; boundary=x", "--x--"},
		{"", "grant_type=password"},
		{"application/x-www-form-urlencoded", strings.Repeat("a", MaxBodyBytes+1)},
	}
	for _, s := range seeds {
		f.Add(s.ctype, s.body)
	}
	gin.SetMode(gin.ReleaseMode)
	f.Fuzz(func(t *testing.T, ctype, body string) {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(body))
		c.Request.Header.Set("Content-Type", ctype)
		got, err := parseForm(c)
		if err != nil {
			var oe *oauthError
			if !errors.As(err, &oe) || oe.Code != "invalid_request" ||
				(oe.Status != http.StatusBadRequest && oe.Status != http.StatusRequestEntityTooLarge) {
				t.Fatalf("parseForm(%q, %q) error %v", ctype, body, err)
			}
			return
		}
		for k, v := range got {
			if len(v) != 1 {
				t.Fatalf("parameter %q given %d times", k, len(v))
			}
			if k == "scope" {
				continue
			}
			if !utf8.ValidString(k) || !utf8.ValidString(v[0]) || (k != "token" && strings.ContainsRune(v[0], 0)) {
				t.Fatalf("parameter %q = %q accepted", k, v[0])
			}
		}
		if strings.ContainsFunc(got.get("username"), isControl) {
			t.Fatalf("username %q accepted", got.get("username"))
		}
	})
}

// FuzzParseBasic: parseBasic never panics, accepts no empty client_id, and what it accepts
// comes back unchanged through the encoding of RFC 6749 §2.3.1.
func FuzzParseBasic(f *testing.F) {
	b64 := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, s := range []string{
		b64("jc_abc:jcs_secret"), b64("jc_a%3Ab:s%25"), b64(":"), b64("jc_x"), b64("jc_%zz:x"), b64("jc_\x00:\xff"),
		"Basic", "Basic ", "basic " + base64.StdEncoding.EncodeToString([]byte("a:b")), "Bearer x", "Basic !!!", "Basic  " + b64("a:b")[6:],
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		cred, ok := parseBasic(header)
		if !ok {
			return
		}
		if cred.ClientID == "" {
			t.Fatalf("parseBasic(%q) accepted an empty client_id", header)
		}
		again, ok := parseBasic(b64(url.QueryEscape(cred.ClientID) + ":" + url.QueryEscape(cred.Secret)))
		if !ok || again != cred {
			t.Fatalf("parseBasic(%q) = %+v does not round-trip: %+v, %v", header, cred, again, ok)
		}
	})
}
