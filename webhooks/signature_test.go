package webhooks_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/jeton-auth/jeton/webhooks"
	"github.com/jeton-auth/jeton/webhooks/webhookstest"
)

var verify = webhookstest.Verify

// The Standard Webhooks specification's test vector (its libraries' shared test data).
func TestSignSpecificationVector(t *testing.T) {
	key, err := webhooks.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := webhooks.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`), key)
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
}

func TestSignTwoSecrets(t *testing.T) {
	oldSecret, oldKey, err := webhooks.NewSecret(bytes.NewReader(bytes.Repeat([]byte{1}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	newSecret, newKey, err := webhooks.NewSecret(bytes.NewReader(bytes.Repeat([]byte{2}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"type":"login_success"}`)
	header := webhooks.Sign("42", 1700000000, body, newKey, oldKey)
	if n := len(strings.Fields(header)); n != 2 {
		t.Fatalf("header %q has %d signatures, want 2", header, n)
	}
	for _, s := range []string{oldSecret, newSecret} {
		if !verify(s, "42", "1700000000", body, header) {
			t.Errorf("secret %s… does not verify %q", s[:10], header)
		}
	}
	other, _, _ := webhooks.NewSecret(bytes.NewReader(bytes.Repeat([]byte{3}, 32)))
	tests := []struct {
		name, secret, id, ts string
		body                 []byte
	}{
		{"other secret", other, "42", "1700000000", body},
		{"other id", newSecret, "43", "1700000000", body},
		{"other timestamp", newSecret, "42", "1700000001", body},
		{"other body", newSecret, "42", "1700000000", []byte(`{"type":"login_failure"}`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if verify(tc.secret, tc.id, tc.ts, tc.body, header) {
				t.Fatal("verified")
			}
		})
	}
}

func TestSecretFormat(t *testing.T) {
	s, key, err := webhooks.NewSecret(bytes.NewReader(bytes.Repeat([]byte{0xff}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s, "whsec_") || len(key) != 32 {
		t.Fatalf("NewSecret = %q, %d bytes", s, len(key))
	}
	back, err := webhooks.ParseSecret(s)
	if err != nil || !bytes.Equal(back, key) {
		t.Fatalf("ParseSecret(%q) = %x, %v", s, back, err)
	}
	for _, bad := range []string{"", "whsec_", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_!!!", "whsec_AAAA"} {
		if _, err := webhooks.ParseSecret(bad); err == nil {
			t.Errorf("ParseSecret(%q) accepted", bad)
		}
	}
	if _, _, err := webhooks.NewSecret(bytes.NewReader(nil)); err == nil {
		t.Error("NewSecret from an empty reader succeeded")
	}
}
