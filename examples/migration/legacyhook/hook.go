// Package legacyhook is an example of the old system's side of jeton's lazy migration: an
// HTTP handler that checks jeton's Standard Webhooks signature and then asks the old
// system's own password check. Mount it in the old application:
//
//	http.Handle("/jeton/legacy-login", legacyhook.Handler(os.Getenv("JETON_LEGACY_SECRET"), check))
//
// and point the tenant's legacy_login url at it (docs/MIGRATION.md).
package legacyhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// User is what the old system tells jeton about a user whose password it accepted; every
// field may be empty.
type User struct {
	ID         string `json:"id,omitempty"`          // a UUID jeton keeps as the user's id
	Scope      string `json:"scope,omitempty"`       // space-separated scopes the user may have
	ExternalID string `json:"external_id,omitempty"` // the old system's own id
}

// Check reports whether the old system knows username with password pw. An error means
// the old system cannot tell now (its database is down): jeton then answers 503, never a
// false "wrong password".
type Check func(username, pw string) (User, bool, error)

// Handler answers jeton's calls: 400 for a call not signed with secret ("whsec_...") or
// older than five minutes, 200 {"ok":true,...} for a password check accepts, 401 for one
// it refuses, 503 when it fails.
func Handler(secret string, check Check) http.Handler { return HandlerAt(secret, check, time.Now) }

// HandlerAt is Handler judging timestamps by now.
func HandlerAt(secret string, check Check, now func() time.Time) http.Handler {
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil || !signed(key, r.Header, body, now()) {
			http.Error(w, "bad signature", http.StatusBadRequest)
			return
		}
		var req struct{ Username, Password string }
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		u, ok, err := check(req.Username, req.Password)
		switch {
		case err != nil:
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
		case !ok:
			w.WriteHeader(http.StatusUnauthorized)
		default:
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(struct {
				OK bool `json:"ok"`
				User
			}{true, u})
		}
	})
}

// signed checks the webhook-signature header: "v1," and the base64 HMAC-SHA256 of
// "id.timestamp.body", the timestamp within five minutes of now.
func signed(key []byte, h http.Header, body []byte, now time.Time) bool {
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || id == "" || len(key) == 0 {
		return false
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return false
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return true
		}
	}
	return false
}
