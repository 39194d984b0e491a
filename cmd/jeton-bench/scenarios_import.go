package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// importUsers is how many users the user-import scenario imports.
const importUsers = 1_000_000

// importBcrypt is a bcrypt hash (cost 10) of importPassword, as an old system stored it.
const (
	importBcrypt   = "$2b$10$yTkjpxgnCEjGGfVwyY6l/OSeLxSyxIM6KKq8lvG8Rosnp2CKRvr32"
	importPassword = "imported bench password"
)

// bcryptLines generates the import: n users with importBcrypt, held nowhere.
type bcryptLines struct {
	n, i int
	buf  []byte
	sent int64
}

func (r *bcryptLines) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.i == r.n {
			return 0, io.EOF
		}
		r.buf = fmt.Appendf(r.buf[:0], `{"username":"imported%08d","password_hash":%q}`+"\n", r.i, importBcrypt)
		r.i++
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	r.sent += int64(n)
	return n, nil
}

// userImport imports a million users with bcrypt hashes into a tenant of their own through
// the admin API, in one streamed request, with jeton's peak RSS over the import; then it
// compares the first login of an imported user (bcrypt, then the rehash to argon2id) with
// a login of a user jeton hashed.
func (b *bench) userImport(ctx context.Context) error {
	name := fmt.Sprintf("import of %s users with bcrypt hashes", thousands(importUsers))
	key, err := b.adminKey(ctx)
	if err != nil {
		b.addTarget(name, "not available: "+err.Error(), "≥ 20,000 users/s, flat memory", "not available")
		return nil
	}
	admin := func(method, path, ct string, body io.Reader, out any) (int, error) {
		req, _ := http.NewRequestWithContext(ctx, method, b.main.base+"/admin/v1"+path, body)
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", ct)
		status, raw, err := do(&http.Client{Timeout: 30 * time.Minute}, req, nil)
		if err == nil && out != nil && status/100 == 2 {
			err = json.Unmarshal(raw, out)
		}
		if err == nil && status/100 != 2 && status != http.StatusNotFound {
			err = fmt.Errorf("%s %s: %d %s", method, path, status, raw)
		}
		return status, err
	}
	const slug = "import-bench"
	if _, err := admin("POST", "/tenants", "application/json", bytes.NewReader([]byte(`{"slug":"`+slug+`"}`)), nil); err != nil {
		return err
	}
	b.main.resetPeak()
	rss0, _, _, _ := b.main.memory()
	body := &bcryptLines{n: importUsers}
	var sum struct{ Imported, Failed int }
	t0 := time.Now()
	status, err := admin("POST", "/tenants/"+slug+"/users/import", "application/x-ndjson", body, &sum)
	took := time.Since(t0)
	if status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
		b.addTarget(name, "not available: no import endpoint", "≥ 20,000 users/s, flat memory", "not available")
		return nil
	}
	if err != nil {
		return err
	}
	if sum.Imported != importUsers {
		return fmt.Errorf("user import: %d imported, %d failed", sum.Imported, sum.Failed)
	}
	_, hwm, _, _ := b.main.memory()
	rate := float64(importUsers) / took.Seconds()
	b.addTarget(name, fmt.Sprintf("%s users/s (%v for %d MiB); jeton's peak RSS %d MiB over %d MiB before",
		thousands(int64(rate)), took.Round(time.Second), body.sent>>20, (hwm-rss0)>>10, rss0>>10),
		"≥ 20,000 users/s, flat memory", metStr(rate >= 20_000 && (hwm-rss0)>>10 < 256))
	return b.firstLogins(ctx, admin, slug)
}

// firstLogins times the first logins of 20 imported users against 20 logins of a user
// jeton hashed, one at a time.
func (b *bench) firstLogins(ctx context.Context, admin func(string, string, string, io.Reader, any) (int, error), slug string) error {
	var client struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if _, err := admin("POST", "/tenants/"+slug+"/clients", "application/json",
		bytes.NewReader([]byte(`{"name":"bench","grant_types":["password"]}`)), &client); err != nil {
		return err
	}
	if _, err := admin("POST", "/tenants/"+slug+"/users", "application/json",
		bytes.NewReader([]byte(`{"username":"native","password":"`+importPassword+`"}`)), nil); err != nil {
		return err
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(client.ClientID)+":"+url.QueryEscape(client.ClientSecret)))
	unavailable := 0 // 503s: the hashing workers, at the lowest priority, starved of CPU
	login := func(user string, into *[]time.Duration) error {
		form := url.Values{"grant_type": {"password"}, "username": {user}, "password": {importPassword}}
		t0 := time.Now()
		status, raw, err := do(&http.Client{Timeout: time.Minute}, formPost(b.main.base+"/token", basic, form.Encode()).WithContext(ctx), nil)
		switch {
		case err != nil:
			return err
		case status == http.StatusServiceUnavailable:
			unavailable++
		case status != http.StatusOK:
			return fmt.Errorf("login of %s: %d %s", user, status, raw)
		default:
			*into = append(*into, time.Since(t0))
		}
		return nil
	}
	var imported, native []time.Duration
	for i := range 20 {
		if err := login(fmt.Sprintf("imported%08d", i*49_999), &imported); err != nil {
			return err
		}
		if err := login("native", &native); err != nil {
			return err
		}
	}
	b.addTarget("first login of an imported bcrypt user (cost 10, then rehashed to argon2id) vs a native argon2id user",
		fmt.Sprintf("median %s ms (%d logins) vs %s ms (%d); %d answered 503", ms(median(imported)), len(imported),
			ms(median(native)), len(native), unavailable), "report only", "report only")
	return nil
}
