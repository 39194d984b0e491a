package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jeton-auth/jeton/db"
	"github.com/jeton-auth/jeton/internal/testkit"
	"github.com/jeton-auth/jeton/service"
)

// clientAuthOutcomes is what each path that authenticates a client answered, as
// outcomeOf summarises it.
type clientAuthOutcomes struct {
	Password          string // POST /token, grant_type=password, alice of the subject's tenant
	ClientCredentials string // POST /token, grant_type=client_credentials
	Introspect        string // POST /introspect of alice's token (one statement reads caller and token)
	IntrospectNoToken string // POST /introspect of a malformed token (the caller alone is read)
	Feed              string // GET /revocations
	Revoke            string // POST /revoke of alice's token
}

// One rule says whether a request authenticates as a client (RFC 6749 §2.3): the client
// and its tenant neither disabled nor deleted, no secret for a public client, and for a
// confidential one a secret valid now (a rotated-out one until its overlap ends). It is
// decided in Go (db.ClientAuth.Authenticates: /token, /revoke, opening the feed) and in
// SQL (db's clientAuthenticated: /introspect, and the issuing statement of a client
// already seen by client_credentials); every case runs through every path. The subject
// is a confidential client with the password and client_credentials grants and the
// introspect permission (or a public client with the password grant), in a tenant of its
// own with alice; before the case's change it logged alice in (the token introspect and
// revoke present) and got a client_credentials token (so the issuing statement alone
// authenticates its next one). An open stream rechecks its client with Authenticates too
// (TestFeedDisableClosesStreams, TestFeedEndsWhenAccessIsLost).
func TestClientAuthenticatedEverywhere(t *testing.T) {
	e := newEnv(t, withFeed(service.FeedConfig{}))
	ctx := context.Background()
	// The secret's overlap after a rotation; alice's token (15 minutes) outlives it.
	const overlap = 10 * time.Minute

	ok := clientAuthOutcomes{Password: "200 token", ClientCredentials: "200 token", Introspect: "200 active",
		IntrospectNoToken: "200 inactive", Feed: "200 stream", Revoke: "200"}
	refused := clientAuthOutcomes{Password: "401 invalid_client", ClientCredentials: "401 invalid_client",
		Introspect: "401 invalid_client", IntrospectNoToken: "401 invalid_client", Feed: "401 invalid_client",
		Revoke: "401 invalid_client"}

	type subject struct {
		slug   string
		client client
		token  string // alice's access token, issued to client
	}
	tests := []struct {
		name   string
		public bool
		// change runs after the subject's first grants and returns the credentials the
		// paths present.
		change func(t *testing.T, s subject) client
		want   clientAuthOutcomes
		// after, when set, checks the state the paths left.
		after func(t *testing.T, s subject)
	}{
		{name: "live confidential client", change: func(t *testing.T, s subject) client { return s.client }, want: ok},
		{name: "disabled client", change: func(t *testing.T, s subject) client {
			if _, err := e.svc.UpdateClient(ctx, e.cli, s.slug, s.client.ID, func(c *db.Client) { c.Disabled = true }); err != nil {
				t.Fatal(err)
			}
			return s.client
		}, want: refused},
		{name: "disabled tenant", change: func(t *testing.T, s subject) client {
			if _, err := e.svc.UpdateTenant(ctx, e.cli, s.slug, func(tn *db.Tenant) { tn.Disabled = true }); err != nil {
				t.Fatal(err)
			}
			return s.client
		}, want: refused},
		{name: "deleted tenant", change: func(t *testing.T, s subject) client {
			if err := e.svc.DeleteTenant(ctx, e.cli, s.slug); err != nil {
				t.Fatal(err)
			}
			return s.client
		}, want: refused},
		{name: "rotated-out secret past its overlap", change: func(t *testing.T, s subject) client {
			e.mustRotate(s.slug, s.client.ID, overlap)
			mustIssue(e, s.client, "") // the old secret, still valid: now the one cached
			e.clock.Advance(overlap)   // valid until, not at, the end of the overlap
			return s.client
		}, want: refused},
		{name: "rotated-out secret within its overlap", change: func(t *testing.T, s subject) client {
			e.mustRotate(s.slug, s.client.ID, overlap)
			mustIssue(e, s.client, "")
			e.clock.Advance(overlap - time.Second)
			return s.client
		}, want: ok},
		{name: "new secret after a rotation", change: func(t *testing.T, s subject) client {
			return client{ID: s.client.ID, Secret: e.mustRotate(s.slug, s.client.ID, 0)}
		}, want: ok},
		{name: "another client's secret", change: func(t *testing.T, s subject) client {
			other := e.mustClient(s.slug, service.ClientSpec{Name: "other"})
			return client{ID: s.client.ID, Secret: other.Secret}
		}, want: refused},
		{name: "confidential client without its secret", change: func(t *testing.T, s subject) client {
			return client{ID: s.client.ID}
		}, want: refused},
		{name: "public client", public: true, change: func(t *testing.T, s subject) client { return s.client },
			// Authenticated, but without the grant or the permission.
			want: clientAuthOutcomes{Password: "200 token", ClientCredentials: "400 unauthorized_client",
				Introspect: "403 unauthorized_client", IntrospectNoToken: "403 unauthorized_client",
				Feed: "403 unauthorized_client", Revoke: "200"}},
		{name: "public client sending a secret", public: true, change: func(t *testing.T, s subject) client {
			// A well-formed secret, a confidential client's: a public client has none.
			other := e.mustClient(s.slug, service.ClientSpec{Name: "other"})
			return client{ID: s.client.ID, Secret: other.Secret}
		}, want: refused},
		{name: "client of another tenant", change: func(t *testing.T, s subject) client {
			slug := s.slug + "-other"
			e.mustTenant(slug)
			other := e.mustClient(slug, subjectSpec(false))
			mustIssue(e, other, "")
			return other
		},
			// Authenticated in its own tenant, where alice and her token do not exist.
			want: clientAuthOutcomes{Password: "400 invalid_grant", ClientCredentials: "200 token",
				Introspect: "200 inactive", IntrospectNoToken: "200 inactive", Feed: "200 stream", Revoke: "200"},
			after: func(t *testing.T, s subject) {
				if in := e.introspect(s.client, s.token); in["active"] != true {
					t.Errorf("alice's token after another tenant's client revoked it: %v", in)
				}
			}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := subject{slug: fmt.Sprintf("auth-%d", i)}
			e.mustTenant(s.slug)
			e.mustUser(s.slug, "alice", testkit.AlicePassword)
			s.client = e.mustClient(s.slug, subjectSpec(tt.public))
			s.token = wantToken(t, e.post("/token", &s.client, passwordForm()), "read")
			if !tt.public {
				mustIssue(e, s.client, "")
			}
			cred := tt.change(t, s)

			var got clientAuthOutcomes
			got.Password = outcomeOf(t, e.post("/token", &cred, passwordForm()))
			got.ClientCredentials = outcomeOf(t, issue(e, cred, ""))
			got.Introspect = outcomeOf(t, e.post("/introspect", &cred, url.Values{"token": {s.token}}))
			got.IntrospectNoToken = outcomeOf(t, e.post("/introspect", &cred, url.Values{"token": {"not-a-token"}}))
			got.Feed = feedOutcome(t, e, cred)
			got.Revoke = outcomeOf(t, e.post("/revoke", &cred, url.Values{"token": {s.token}}))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
			if tt.after != nil {
				tt.after(t, s)
			}
		})
	}
}

// subjectSpec is TestClientAuthenticatedEverywhere's subject: confidential with every
// permission, or public with the password grant.
func subjectSpec(public bool) service.ClientSpec {
	if public {
		return service.ClientSpec{Name: "spa", Public: true, GrantTypes: []string{"password"}, Scopes: []string{"read"}}
	}
	return service.ClientSpec{Name: "subject", GrantTypes: []string{"password", "client_credentials"},
		Scopes: []string{"read"}, Introspect: true}
}

// mustRotate rotates the client's secret, the previous ones valid for overlap, and returns
// the new one.
func (e *env) mustRotate(slug, clientID string, overlap time.Duration) string {
	e.t.Helper()
	secret, err := e.svc.RotateSecret(context.Background(), e.cli, slug, clientID, overlap)
	if err != nil {
		e.t.Fatal(err)
	}
	return secret
}

var accessToken = regexp.MustCompile(`^jat_[0-9A-Za-z]{49}$`)

// outcomeOf summarises an answer of /token, /introspect or /revoke: "200 token",
// "200 active", "200 inactive" (exactly RFC 7662's body), "200" (an empty body), or the
// status and the RFC 6749 §5.2 error code. Anything else about the answer that is wrong
// (a 401 without its Basic challenge, a challenge on another status, members an error
// body must not have) is appended, so that it shows in the diff.
func outcomeOf(t *testing.T, r response) string {
	t.Helper()
	if r.Status == http.StatusOK {
		var m map[string]any
		switch {
		case len(r.Body) == 0:
			return "200"
		case string(r.Body) == inactive:
			return "200 inactive"
		case json.Unmarshal(r.Body, &m) != nil:
		case m["active"] == true:
			return "200 active"
		case accessToken.MatchString(fmt.Sprint(m["access_token"])):
			return "200 token"
		}
		return fmt.Sprintf("200 %s", r.Body)
	}
	var body map[string]any
	if err := json.Unmarshal(r.Body, &body); err != nil {
		return fmt.Sprintf("%d %q", r.Status, r.Body)
	}
	out := fmt.Sprintf("%d %v", r.Status, body["error"])
	for k := range body {
		if k != "error" && k != "error_description" {
			out += " with " + k
		}
	}
	challenge := r.Header.Get("WWW-Authenticate")
	if r.Status == http.StatusUnauthorized && challenge != `Basic realm="jeton"` {
		out += fmt.Sprintf(" with WWW-Authenticate %q", challenge)
	}
	if r.Status != http.StatusUnauthorized && challenge != "" {
		out += fmt.Sprintf(" with WWW-Authenticate %q", challenge)
	}
	return out
}

// feedOutcome opens GET /revocations as c and summarises the answer as outcomeOf does;
// "200 stream" is a text/event-stream, closed at once.
func feedOutcome(t *testing.T, e *env, c client) string {
	t.Helper()
	resp, cancel := e.feedRequest(c, "")
	defer cancel()
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK && resp.Header.Get("Content-Type") == "text/event-stream" {
		return "200 stream"
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return outcomeOf(t, response{Status: resp.StatusCode, Header: resp.Header, Body: body})
}
