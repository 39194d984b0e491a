package api

import (
	"encoding/json"
	"testing"

	"github.com/jeton-auth/jeton/service"
)

// FuzzAppendIntrospection: the hand-written encoder of live answers writes exactly what
// encoding/json (Gin's c.JSON) would, for any strings. Its seeds run with the tests.
func FuzzAppendIntrospection(f *testing.F) {
	for _, s := range []string{"", "read write", "alice", "Zoë", "a\"b\\c", "<script>&amp;</script>",
		"\x00\x01\b\f\n\r\t\x1f\x7f", "\u2028\u2029", "\xff\xfe", "caf\xc3", "😀 \U0010ffff", "\ufffd"} {
		f.Add(s, s, int64(1767323045))
	}
	f.Fuzz(func(t *testing.T, username, scope string, exp int64) {
		for _, in := range []service.Introspection{
			{Active: true, Scope: scope, ClientID: "jc_app", Username: username, Sub: "5f0c", TokenType: "Bearer",
				Exp: exp, Iat: exp - 900, Iss: "https://id.example/" + scope, Jti: "j", Tenant: "a", Sid: "s"},
			{Active: true, Scope: scope, ClientID: username, Sub: username, TokenType: "Bearer", Exp: -exp,
				Iss: username, Jti: scope, Tenant: username},
		} {
			want, err := json.Marshal(in)
			if err != nil {
				t.Fatal(err)
			}
			if got := appendIntrospection(nil, &in); string(got) != string(want) {
				t.Errorf("appendIntrospection(%+v)\n got %s\nwant %s", in, got, want)
			}
		}
	})
}
