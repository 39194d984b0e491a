package password

import (
	"errors"
	"testing"
)

// Imported hashes of other systems verify through the same Hasher call as jeton's own, in
// this process and in a worker child (the protocol's verify call carries the stored string
// whatever its family), with the password as typed.
func TestVerifyStoredLegacy(t *testing.T) {
	hs, err := ProcessWorkers(1)
	if err != nil {
		t.Fatal(err)
	}
	p := hs[0].(*Process)
	t.Cleanup(func() { _ = p.Close() })
	const bcryptHash = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
	const ldap = "{SSHA}yI6cZwQadOA1e+/f+T+H3eCQQhRzYWx0"
	tests := []struct {
		name, pw, hash string
		want           bool
	}{
		{"bcrypt", "U*U", bcryptHash, true},
		{"bcrypt wrong", "U*U*", bcryptHash, false},
		{"ldap", "password", ldap, true},
		{"ldap wrong", "Password", ldap, false},
	}
	for _, tt := range tests {
		for name, h := range map[string]Hasher{"local": Local{}, "process": p} {
			if ok, err := h.Verify(tt.pw, tt.hash); ok != tt.want || err != nil {
				t.Errorf("%s %s: %v, %v; want %v", name, tt.name, ok, err, tt.want)
			}
		}
	}
	var we *WorkerError
	for name, h := range map[string]Hasher{"local": Local{}, "process": p} {
		if _, err := h.Verify("x", "plaintext"); err == nil || errors.As(err, &we) {
			t.Errorf("%s: an unknown format: %v, want the verification's error", name, err)
		}
		// Past the ceilings: refused, not computed.
		if _, err := h.Verify("x", "$2b$16$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"); err == nil || errors.As(err, &we) {
			t.Errorf("%s: bcrypt cost 16: %v, want the verification's error", name, err)
		}
	}
	if c := CostClass(bcryptHash); c != "bcrypt 5" {
		t.Errorf("CostClass = %q", c)
	}
	if c := CostClass("plaintext"); c != "" {
		t.Errorf("CostClass of an unknown format = %q, want empty", c)
	}
}
