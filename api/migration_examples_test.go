package api_test

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jeton-auth/jeton/api"
	"github.com/jeton-auth/jeton/examples/migration/legacyhook"
	"github.com/jeton-auth/jeton/service"
)

// The example files of docs/MIGRATION.md import, and their users log in with the
// passwords the guide names.
func TestMigrationExamples(t *testing.T) {
	e := newEnv(t, withConfig(func(c *service.Config) { c.AllowInsecureHooks = true }),
		withAPI(api.Config{RequestTimeout: 10 * time.Second}))
	key := e.mustAdminKey("")
	tests := []struct {
		file, tenant string
		imported     int
		logins       map[string]string // username: password
		refused      []string
	}{
		{"django.ndjson", "django", 5, map[string]string{"ada": "correct horse battery staple",
			"grace": "Tr0ub4dor&3 but longer", "linus": "django password"}, []string{"ken", "dennis"}},
		{"auth0.ndjson", "auth0", 2, map[string]string{"margaret@example.com": "auth0 user one password",
			"barbara@example.com": "auth0 user two password"}, nil},
		{"firebase.ndjson", "firebase", 2, map[string]string{"user1@example.com": "user1password",
			"user2@example.com": "firebase user two pw"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body, err := os.ReadFile("../examples/migration/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			e.mustTenant(tt.tenant)
			app := e.mustClient(tt.tenant, appSpec("app"))
			r, m := e.importNDJSON(key, tt.tenant, "", string(body))
			if r.Status != http.StatusOK {
				t.Fatalf("import: %d %s", r.Status, r.Body)
			}
			wantCounts(t, m, tt.imported, 0, 0, 0)
			for u, pw := range tt.logins {
				e.login(app, u, pw)
			}
			for _, u := range tt.refused {
				if r := (world{env: e, app: app}).tryLogin(u, "django password"); r.Status != http.StatusBadRequest {
					t.Errorf("%s: %d %s", u, r.Status, r.Body)
				}
			}
		})
	}

	t.Run("legacyhook", func(t *testing.T) {
		secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("an example secret of 32 bytes..."))
		var down atomic.Bool
		old := httptest.NewServer(legacyhook.HandlerAt(secret, func(u, pw string) (legacyhook.User, bool, error) {
			if down.Load() {
				return legacyhook.User{}, false, errors.New("the old database is down")
			}
			return legacyhook.User{ExternalID: "old-7", Scope: "read"}, u == "olduser" && pw == "the old system's password", nil
		}, e.clock.Now))
		t.Cleanup(old.Close)
		e.mustTenant("legacy")
		w := world{env: e, app: e.mustClient("legacy", appSpec("app"))}
		e.adminOK(http.StatusOK, key, "PATCH", tenantPath("legacy"), map[string]any{"legacy_login": map[string]any{"url": old.URL, "secret": secret}})
		if r := w.tryLogin("olduser", "a wrong password"); r.Status != http.StatusBadRequest {
			t.Errorf("wrong password: %d %s", r.Status, r.Body)
		}
		down.Store(true)
		if r := w.tryLogin("olduser", "the old system's password"); r.Status != http.StatusServiceUnavailable {
			t.Errorf("the old system down: %d %s", r.Status, r.Body)
		}
		down.Store(false)
		w.login(w.app, "olduser", "the old system's password", "scope", "read")
		old.Close() // migrated: the old system is not needed any more
		w.login(w.app, "olduser", "the old system's password")
	})
}
