package api_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jeton-auth/jeton/service"
)

// fpWorld is an mfa world with first-party clients: fp (confidential) and spa (public),
// both allowed authorization_code and refresh_token.
type fpWorld struct {
	world
	fp, spa client
}

func newFPWorld(t *testing.T, policy string) fpWorld {
	t.Helper()
	w := fpWorld{world: newMFAWorld(t, policy)}
	grants := []string{"authorization_code", "refresh_token"}
	scopes := []string{"read", "write", "account"}
	w.fp = w.mustClient("a", service.ClientSpec{Name: "own app", FirstParty: true, GrantTypes: grants,
		Scopes: scopes, DefaultScopes: []string{"read"}})
	w.spa = w.mustClient("a", service.ClientSpec{Name: "own spa", Public: true, FirstParty: true, GrantTypes: grants,
		Scopes: scopes, DefaultScopes: []string{"read"}})
	return w
}

// as sends form to path as c: HTTP Basic for a confidential client, client_id for a
// public one.
func (w fpWorld) as(c client, path string, form url.Values) response {
	w.t.Helper()
	if c.Secret == "" {
		form.Set("client_id", c.ID)
		return w.post(path, nil, form)
	}
	return w.post(path, &c, form)
}

// challengeForm is an initial challenge request; kv adds parameters.
func challengeForm(username, pw string, kv ...string) url.Values {
	f := url.Values{"response_type": {"code"}, "username": {username}, "password": {pw}}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	return f
}

// newPKCE returns a fresh RFC 7636 verifier and its S256 challenge.
func newPKCE(t *testing.T) (verifier, challenge string) {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	verifier = base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// wantCode checks a 200 answer with an authorization code and returns it.
func wantCode(t *testing.T, r response) string {
	t.Helper()
	wantStatus(t, "challenge", r, http.StatusOK, "")
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
	}
	code, _ := r.JSON(t)["authorization_code"].(string)
	if !strings.HasPrefix(code, "jac_") || len(code) != 53 {
		t.Fatalf("authorization_code %q", code)
	}
	return code
}

// wantInsufficient checks an insufficient_authorization answer and returns its
// auth_session.
func wantInsufficient(t *testing.T, r response) string {
	t.Helper()
	wantStatus(t, "challenge", r, http.StatusBadRequest, "insufficient_authorization")
	m := r.JSON(t)
	as, _ := m["auth_session"].(string)
	if !strings.HasPrefix(as, "jas_") || m["otp_required"] != true {
		t.Fatalf("insufficient_authorization %s", r.Body)
	}
	return as
}

// redeem sends the authorization_code grant as c.
func (w fpWorld) redeem(c client, code, verifier string) response {
	w.t.Helper()
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}}
	if verifier != "" {
		f.Set("code_verifier", verifier)
	}
	return w.as(c, "/token", f)
}

// spaLogin runs the whole challenge flow for a user without a factor as the public client
// and returns the token response.
func (w fpWorld) spaLogin(username, pw string) map[string]any {
	w.t.Helper()
	v, ch := newPKCE(w.t)
	code := wantCode(w.t, w.as(w.spa, "/authorize-challenge", challengeForm(username, pw,
		"code_challenge", ch, "code_challenge_method", "S256")))
	r := w.redeem(w.spa, code, v)
	wantStatus(w.t, "redeem", r, http.StatusOK, "")
	return r.JSON(w.t)
}
