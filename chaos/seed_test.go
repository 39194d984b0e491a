package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"sync"
)

// seed is what the suite created through the admin API.
type seed struct {
	adminKey string
	app      clientCreds // password and refresh_token grants: the load's client
	rs       clientCreds // introspect: the resource server
	rot      *rotating   // client_credentials, its secret rotated by the admin
	password string      // every load user's password
	workers  []string    // load usernames
	victims  []*victim   // users the admin disables, re-passwords and revokes
	// A second tenant, whose client and then the tenant itself are disabled and enabled
	// again through different instances.
	other, otherApp, otherRS clientCreds // other.id is its slug
}

type clientCreds struct{ id, secret string }

// rotating is a client whose secret the admin rotates: the current secret, acknowledged,
// and every earlier one, which must be refused.
type rotating struct {
	mu      sync.Mutex
	id      string
	secret  string
	retired []string
}

// victim is a user the admin acts on, and its expected state as acknowledged.
type victim struct {
	name     string
	id       string
	password string
	retired  []string // earlier passwords, refused since their change was acknowledged
	disabled bool
}

const tenant = "chaos"

// seedTenant creates a global admin key with the CLI, then the tenant, its clients and
// users through the admin API of the first instance.
func (e *env) seedTenant(ctx context.Context) {
	t := e.t
	cmd := exec.CommandContext(ctx, e.bin, "admin-key", "create", "--name", "chaos", "--json")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + e.dir, "JETON_DATABASE_URL=" + e.dbURL}
	out, err := cmd.Output()
	var key struct{ Key string }
	if err != nil || json.Unmarshal(out, &key) != nil || key.Key == "" {
		t.Fatalf("jeton admin-key create: %v %s", err, out)
	}
	e.seed.adminKey = key.Key
	a := e.admin(e.inst[0].base())
	must := func(status int, body map[string]any, err error) map[string]any {
		t.Helper()
		if err != nil || status/100 != 2 {
			t.Fatalf("seeding: %d %v %v", status, body, err)
		}
		return body
	}
	must(a.do(ctx, http.MethodPost, "/admin/v1/tenants", map[string]any{"slug": tenant}))
	client := func(spec map[string]any) clientCreds {
		b := must(a.do(ctx, http.MethodPost, "/admin/v1/tenants/"+tenant+"/clients", spec))
		return clientCreds{id: b["client_id"].(string), secret: b["client_secret"].(string)}
	}
	e.seed.app = client(map[string]any{"name": "app", "grant_types": []string{"password", "refresh_token"},
		"scopes": []string{"read", "write"}})
	e.seed.rs = client(map[string]any{"name": "rs", "introspect": true})
	rot := client(map[string]any{"name": "rot", "grant_types": []string{"client_credentials"}, "scopes": []string{"read"}})
	e.seed.rot = &rotating{id: rot.id, secret: rot.secret}
	e.seed.password = randomPassword()
	user := func(name, pw string) string {
		b := must(a.do(ctx, http.MethodPost, "/admin/v1/tenants/"+tenant+"/users",
			map[string]any{"username": name, "password": pw}))
		return b["id"].(string)
	}
	for i := range e.cfg.workers {
		name := fmt.Sprintf("w%d", i)
		user(name, e.seed.password)
		e.seed.workers = append(e.seed.workers, name)
	}
	for i := range 3 {
		v := &victim{name: fmt.Sprintf("v%d", i), password: randomPassword()}
		v.id = user(v.name, v.password)
		e.seed.victims = append(e.seed.victims, v)
	}
	for _, name := range []string{"reuse", "throttle"} {
		user(name, e.seed.password)
	}
	const other = "chaos-other"
	must(a.do(ctx, http.MethodPost, "/admin/v1/tenants", map[string]any{"slug": other}))
	e.seed.other = clientCreds{id: other}
	otherClient := func(spec map[string]any) clientCreds {
		b := must(a.do(ctx, http.MethodPost, "/admin/v1/tenants/"+other+"/clients", spec))
		return clientCreds{id: b["client_id"].(string), secret: b["client_secret"].(string)}
	}
	e.seed.otherApp = otherClient(map[string]any{"name": "app", "grant_types": []string{"password"}})
	e.seed.otherRS = otherClient(map[string]any{"name": "rs", "introspect": true})
	must(a.do(ctx, http.MethodPost, "/admin/v1/tenants/"+other+"/users",
		map[string]any{"username": "someone", "password": e.seed.password}))
}

// adminClient calls the admin API of one instance.
type adminClient struct {
	e    *env
	base string
}

func (e *env) admin(base string) adminClient { return adminClient{e: e, base: base} }

// do sends a JSON request and decodes a JSON answer.
func (a adminClient) do(ctx context.Context, method, path string, body any) (int, map[string]any, error) {
	r, err := a.raw(ctx, method, path, body)
	return r.status, r.body, err
}

type adminAnswer struct {
	status     int
	body       map[string]any
	retryAfter string
}

func (a adminClient) raw(ctx context.Context, method, path string, body any) (adminAnswer, error) {
	var r *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	} else {
		r = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, r)
	if err != nil {
		return adminAnswer{}, err
	}
	req.Header.Set("Authorization", "Bearer "+a.e.seed.adminKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.e.http.Do(req)
	if err != nil {
		return adminAnswer{}, err
	}
	defer resp.Body.Close()
	out := adminAnswer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	_ = json.NewDecoder(resp.Body).Decode(&out.body)
	return out, nil
}

// reuseEvents returns the token_hash of every refresh_reuse_detected event of the tenant.
func (e *env) reuseEvents(ctx context.Context) (map[string]bool, error) {
	out := map[string]bool{}
	a := e.admin(e.anyReady(ctx))
	cursor := ""
	for {
		path := "/admin/v1/tenants/" + tenant + "/events?kind=refresh_reuse_detected&limit=100"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		status, body, err := a.do(ctx, http.MethodGet, path, nil)
		if err != nil || status != http.StatusOK {
			return nil, fmt.Errorf("events: %d %v %v", status, body, err)
		}
		items, _ := body["items"].([]any)
		for _, it := range items {
			ev, _ := it.(map[string]any)
			d, _ := ev["detail"].(map[string]any)
			if h, ok := d["token_hash"].(string); ok {
				out[h] = true
			}
		}
		next, _ := body["next_cursor"].(string)
		if next == "" || len(items) == 0 {
			return out, nil
		}
		cursor = next
	}
}
