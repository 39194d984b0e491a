package api_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jeton-auth/jeton/api"
	"github.com/jeton-auth/jeton/internal/testkit"
)

// families are one hash of each family jeton imports, with its password (package legacy's
// test vectors).
var families = []struct{ name, pw, hash string }{
	{"bcrypt", "U*U", `"$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"`},
	{"sha512-crypt", "Hello world!", `"$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"`},
	{"sha256-crypt", "Hello world!", `"$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"`},
	{"md5-crypt", "password", `"$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/"`},
	{"django", "password", `"pbkdf2_sha256$1000$seasalt$YIWkt6M1JFXrHg5s0jZjBSc7C2Cz6QvchSJ0h8Y+i7c="`},
	{"passlib", "password", `"$pbkdf2-sha512$1000$c2FsdHNhbHRzYWx0$qEWuBHP82uzPrybCUpp9FMGVDoszagDwOgBhAY44y2gPun4RFBM9zjAnhQjJRk.l/dEEhatLCI65Yj/OYq4dcQ"`},
	{"scrypt", "password", `"$scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0$PTOqBx7kez1QCW5+WP5c+ZGOujjGpyGOlh0Lrc56Tes"`},
	{"argon2i", "password", `"$argon2i$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG"`},
	{"argon2id", "password", `"$argon2id$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo"`},
	{"ldap", "password", `"{SSHA}yI6cZwQadOA1e+/f+T+H3eCQQhRzYWx0"`},
	{"firebase", "user1password", `{"algorithm":"firebase-scrypt","hash":"lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==","salt":"42xEC+ixf3L2lw==","signer_key":"jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==","salt_separator":"Bw==","rounds":8,"mem_cost":14}`},
	{"salted-md5", "bc", `{"algorithm":"md5","hash":"900150983cd24fb0d6963f7d28e17f72","salt":"61","salt_encoding":"hex","position":"prefix","encoding":"hex"}`},
	{"hmac", "what do ya want for nothing?", `{"algorithm":"hmac-sha256","hash":"5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843","encoding":"hex","key":"SmVmZQ=="}`},
}

func line(username, hash string, extra ...string) string {
	l := fmt.Sprintf(`{"username":%q`, username)
	if hash != "" {
		l += `,"password_hash":` + hash
	}
	for _, x := range extra {
		l += "," + x
	}
	return l + "}\n"
}

// importNDJSON posts body to the tenant's import with the query and decodes the answer.
func (e *env) importNDJSON(key, slug, query, body string) (response, map[string]any) {
	e.t.Helper()
	r := e.adminRaw(key, "POST", tenantPath(slug, "users", "import")+query, "application/x-ndjson", body)
	var m map[string]any
	_ = json.Unmarshal(r.Body, &m)
	return r, m
}

func wantCounts(t *testing.T, m map[string]any, imported, updated, skipped, failed int) {
	t.Helper()
	want := map[string]float64{"imported": float64(imported), "updated": float64(updated), "skipped": float64(skipped),
		"failed": float64(failed)}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v (summary %v)", k, m[k], v, m)
		}
	}
}

// 10,000 users with the hashes of every family jeton imports: one answer with the counts,
// one users_imported event, and each family's user logs in with its old password.
func TestImportTenThousandMixedFamilies(t *testing.T) {
	w := newWorld(t)
	key := w.mustAdminKey("")
	var body strings.Builder
	for i := range 10_000 {
		f := families[i%len(families)]
		body.WriteString(line(fmt.Sprintf("user%05d-%s", i, f.name), f.hash, `"scope":"read"`))
	}
	r, m := w.importNDJSON(key, "a", "", body.String())
	if r.Status != http.StatusOK {
		t.Fatalf("import: %d %s", r.Status, r.Body)
	}
	wantCounts(t, m, 10_000, 0, 0, 0)
	for i, f := range families {
		w.login(w.app, fmt.Sprintf("user%05d-%s", i, f.name), f.pw)
		if res := w.post("/token", &w.app, url.Values{"grant_type": {"password"},
			"username": {fmt.Sprintf("user%05d-%s", i+len(families), f.name)}, "password": {f.pw + "!"}}); res.Status != http.StatusBadRequest {
			t.Errorf("%s: a wrong password: %d %s", f.name, res.Status, res.Body)
		}
	}
	evs := w.allEvents(key, tenantPath("a", "events"), url.Values{"kind": {"users_imported"}})
	if len(evs) != 1 {
		t.Fatalf("%d users_imported events, want 1", len(evs))
	}
	if d, _ := evs[0]["detail"].(map[string]any); d["imported"] != float64(10_000) || d["failed"] != float64(0) {
		t.Errorf("event detail %v", evs[0]["detail"])
	}
	if n := len(w.allEvents(key, tenantPath("a", "events"), url.Values{"kind": {"user_created"}})); n != 1 {
		t.Errorf("%d user_created events, want only alice's", n)
	}
}

// on_conflict: fail stops at the first existing username (the lines before it stay),
// skip counts them (the same file twice imports nothing the second time), update replaces
// the hash and fields.
func TestImportOnConflict(t *testing.T) {
	w := newWorld(t)
	key := w.mustAdminKey("a") // a tenant key may import into its tenant
	bcrypt, md5 := families[0], families[3]
	first := line("bob", bcrypt.hash) + line("carol", bcrypt.hash)
	if r, m := w.importNDJSON(key, "a", "", first); r.Status != http.StatusOK {
		t.Fatalf("first import: %d %s", r.Status, r.Body)
	} else {
		wantCounts(t, m, 2, 0, 0, 0)
	}
	t.Run("skip twice", func(t *testing.T) {
		r, m := w.importNDJSON(key, "a", "?on_conflict=skip", first)
		if r.Status != http.StatusOK {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		wantCounts(t, m, 0, 0, 2, 0)
	})
	t.Run("fail", func(t *testing.T) {
		body := line("dave", bcrypt.hash) + line("bob", md5.hash) + line("erin", bcrypt.hash)
		r, m := w.importNDJSON(key, "a", "?on_conflict=fail", body)
		p := wantProblem(t, r, http.StatusConflict, "conflict", "")
		wantCounts(t, m, 1, 0, 0, 0)
		if !strings.Contains(p["detail"].(string), "line 2") {
			t.Errorf("detail %q does not name line 2", p["detail"])
		}
		w.login(w.app, "dave", bcrypt.pw)
		w.login(w.app, "bob", bcrypt.pw) // unchanged
		if res := w.post("/token", &w.app, url.Values{"grant_type": {"password"}, "username": {"erin"}, "password": {bcrypt.pw}}); res.Status != http.StatusBadRequest {
			t.Errorf("erin, after the stop, exists: %d", res.Status)
		}
	})
	t.Run("update", func(t *testing.T) {
		body := line("carol", md5.hash, `"scope":"write"`) + line("frank", md5.hash)
		r, m := w.importNDJSON(key, "a", "?on_conflict=update", body)
		if r.Status != http.StatusOK {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		wantCounts(t, m, 1, 1, 0, 0)
		w.login(w.app, "carol", md5.pw, "scope", "write")
		if res := w.post("/token", &w.app, url.Values{"grant_type": {"password"}, "username": {"carol"}, "password": {bcrypt.pw}}); res.Status != http.StatusBadRequest {
			t.Errorf("carol's old hash still logs in: %d", res.Status)
		}
	})
	t.Run("bad option", func(t *testing.T) {
		r, _ := w.importNDJSON(key, "a", "?on_conflict=replace", first)
		wantProblem(t, r, http.StatusBadRequest, "validation", "on_conflict")
		r, _ = w.importNDJSON(key, "a", "?dry_run=yes", first)
		wantProblem(t, r, http.StatusBadRequest, "validation", "dry_run")
		wantProblem(t, w.adminRaw(key, "POST", tenantPath("a", "users", "import"), "application/json", first),
			http.StatusUnsupportedMediaType, "unsupported-media-type", "")
		r, _ = w.importNDJSON(w.mustAdminKey(""), "nope", "", first)
		wantProblem(t, r, http.StatusNotFound, "not-found", "")
	})
}

// A dry run validates and counts, and writes nothing: no user, no event.
func TestImportDryRun(t *testing.T) {
	w := newWorld(t)
	key := w.mustAdminKey("")
	body := line("alice", families[0].hash) + line("bob", families[0].hash) + line("x\x00", families[0].hash)
	r, m := w.importNDJSON(key, "a", "?dry_run=true&on_conflict=skip", body)
	if r.Status != http.StatusOK {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	wantCounts(t, m, 1, 0, 1, 1)
	if res := w.post("/token", &w.app, url.Values{"grant_type": {"password"}, "username": {"bob"}, "password": {families[0].pw}}); res.Status != http.StatusBadRequest {
		t.Errorf("bob exists after a dry run: %d", res.Status)
	}
	if n := len(w.allEvents(key, tenantPath("a", "events"), url.Values{"kind": {"users_imported"}})); n != 0 {
		t.Errorf("%d users_imported events after a dry run", n)
	}
}

// Bad lines in the middle fail with their line numbers and change nothing; the others
// are imported; parameters past the ceilings are refused at import.
func TestImportBadLines(t *testing.T) {
	w := newWorld(t)
	key := w.mustAdminKey("")
	taken := uuid.New()
	w.importNDJSON(key, "a", "", line("owner", families[0].hash, fmt.Sprintf(`"id":%q`, taken)))
	lines := []string{
		line("u1", families[0].hash),
		"{not json\n",
		line("u3", `"$2b$15$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"`),
		line("u4", `"$scrypt$ln=20,r=8,p=1$c2FsdA$PTOqBx7kez1QCW5+WP5c+ZGOujjGpyGOlh0Lrc56Tes"`),
		line("u5", `"$pbkdf2-sha256$20000000$c2FsdHNhbHRzYWx0$sYIePhT5IXESDKvnouJXtE5pTJ6Znbmef4vViYmc9Uc"`),
		line("u6", `"$argon2id$v=19$m=1048576,t=2,p=4$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo"`),
		line("u7", `"plaintext"`),
		line("u8", families[0].hash, `"id":"`+taken.String()+`"`),
		line("u9", families[0].hash, `"colour":"blue"`),
		"\n",
		line("u11", families[0].hash, `"scope":"read write"`, `"disabled":true`, `"external_id":"legacy-11"`),
		line("u12", ""),
	}
	r, m := w.importNDJSON(key, "a", "", strings.Join(lines, ""))
	if r.Status != http.StatusOK {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	wantCounts(t, m, 3, 0, 0, 8)
	errs, _ := m["errors"].([]any)
	var got []float64
	for _, e := range errs {
		got = append(got, e.(map[string]any)["line"].(float64))
	}
	if fmt.Sprint(got) != "[2 3 4 5 6 7 8 9]" {
		t.Errorf("error lines %v, want 2 to 9; errors %v", got, errs)
	}
	for _, e := range errs[1:5] {
		if msg := e.(map[string]any)["error"].(string); !strings.Contains(msg, "exceed the limit") {
			t.Errorf("ceiling error %q", msg)
		}
	}
	w.login(w.app, "u1", families[0].pw)
	for _, name := range []string{"u3", "u8", "u11", "u12"} {
		if res := w.post("/token", &w.app, url.Values{"grant_type": {"password"}, "username": {name}, "password": {families[0].pw}}); res.Status != http.StatusBadRequest {
			t.Errorf("%s logs in: %d %s", name, res.Status, res.Body)
		}
	}
}

// The body has its own limit: past it the answer is 413 with the summary, and the lines
// before it stay imported.
func TestImportBodyLimit(t *testing.T) {
	e := newEnv(t, withAPI(api.Config{ImportMaxBytes: 20_000}))
	e.mustTenant("a")
	key := e.mustAdminKey("")
	var body strings.Builder
	for i := 0; body.Len() < 40_000; i++ {
		body.WriteString(line(fmt.Sprintf("user%05d", i), families[0].hash))
	}
	r, m := e.importNDJSON(key, "a", "?on_conflict=skip", body.String())
	wantProblem(t, r, http.StatusRequestEntityTooLarge, "body-too-large", "")
	n := m["imported"].(float64)
	if n < 150 || float64(m["failed"].(float64)) != 0 {
		t.Errorf("summary %v: want the lines within 20,000 bytes imported and no fragment failed", m)
	}
	users := e.allUsers(key, "a")
	if float64(len(users)) != n {
		t.Errorf("%d users, summary says %v", len(users), n)
	}
}

func (e *env) allUsers(key, slug string) []map[string]any {
	e.t.Helper()
	var out []map[string]any
	q := url.Values{"limit": {"1000"}}
	for {
		got := e.adminOK(http.StatusOK, key, "GET", tenantPath(slug, "users")+"?"+q.Encode(), nil)
		out = append(out, items(e.t, got)...)
		next, _ := got["next_cursor"].(string)
		if next == "" {
			return out
		}
		q.Set("cursor", next)
	}
}

// An export, imported into an empty tenant, gives users who log in with the same
// passwords: those upgraded to argon2id since and those still on their imported hash.
func TestExportImportRoundTrip(t *testing.T) {
	w := newWorld(t)
	key := w.mustAdminKey("")
	var body strings.Builder
	for _, f := range families {
		body.WriteString(line("old-"+f.name, f.hash, `"external_id":"x-`+f.name+`"`, `"scope":"read"`))
	}
	if r, _ := w.importNDJSON(key, "a", "", body.String()); r.Status != http.StatusOK {
		t.Fatalf("import: %d %s", r.Status, r.Body)
	}
	w.login(w.app, "old-bcrypt", families[0].pw) // upgraded to argon2id

	wantProblem(t, w.admin(w.mustAdminKey("a"), "GET", tenantPath("a", "users", "export"), nil), http.StatusForbidden, "forbidden", "")
	r := w.admin(key, "GET", tenantPath("a", "users", "export"), nil)
	if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("export: %d %q %s", r.Status, r.Header.Get("Content-Type"), r.Body)
	}
	sc := bufio.NewScanner(bytes.NewReader(r.Body))
	n := 0
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if l["username"] == "old-bcrypt" && !strings.HasPrefix(l["password_hash"].(string), "$argon2id$") {
			t.Errorf("the upgraded user's hash: %v", l["password_hash"])
		}
		if l["username"] == "old-firebase" && l["external_id"] != "x-firebase" {
			t.Errorf("firebase line %v", l)
		}
		n++
	}
	if n != len(families)+1 {
		t.Errorf("%d lines exported, want %d", n, len(families)+1)
	}
	if evs := w.allEvents(key, tenantPath("a", "events"), url.Values{"kind": {"users_exported"}}); len(evs) != 1 {
		t.Errorf("%d users_exported events", len(evs))
	}

	w.mustTenant("b")
	app := w.mustClient("b", appSpec("app b"))
	r2, m := w.importNDJSON(key, "b", "", string(r.Body))
	if r2.Status != http.StatusOK {
		t.Fatalf("import into b: %d %s", r2.Status, r2.Body)
	}
	wantCounts(t, m, 0, 0, 0, n) // the ids are tenant a's: taken
	r2, m = w.importNDJSON(key, "b", "", stripIDs(t, r.Body))
	if r2.Status != http.StatusOK {
		t.Fatalf("import into b: %d %s", r2.Status, r2.Body)
	}
	wantCounts(t, m, n, 0, 0, 0)
	w.login(app, "alice", testkit.AlicePassword)
	for _, f := range families {
		w.login(app, "old-"+f.name, f.pw, "scope", "read")
	}
}

// stripIDs drops the id of each line: tenant a's users keep theirs.
func stripIDs(t *testing.T, export []byte) string {
	var out strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(export))
	for sc.Scan() {
		var l map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		delete(l, "id")
		b, _ := json.Marshal(l)
		out.Write(append(b, '\n'))
	}
	return out.String()
}
