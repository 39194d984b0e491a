package password

import (
	"crypto/rand"
	"regexp"
	"strings"
	"testing"
)

// fast keeps these tests quick; the package cannot import internal/testkit (which imports
// it), so this is testkit.FastHash's twin.
var fast = Params{Memory: 64, Time: 1, Threads: 1}

func TestHashVerify(t *testing.T) {
	phc, err := Hash("correct horse battery staple", fast, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`).MatchString(phc) {
		t.Fatalf("not a PHC string: %s", phc)
	}
	cases := []struct {
		name string
		pw   string
		want bool
	}{
		{"same", "correct horse battery staple", true},
		{"different", "correct horse battery stapler", false},
		{"empty", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ok, err := Verify(c.pw, phc)
			if err != nil || ok != c.want {
				t.Fatalf("Verify(%q) = %v, %v; want %v", c.pw, ok, err, c.want)
			}
		})
	}
}

func TestNFKC(t *testing.T) {
	// U+FB01 (the "fi" ligature) normalises to "fi" under NFKC.
	phc, err := Hash("\ufb01ne password", fast, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := Verify("fine password", phc); !ok {
		t.Fatal("NFKC-equivalent password rejected")
	}
}

func TestKnownVector(t *testing.T) {
	// Generated once with this package; pins the PHC encoding and parameters read back.
	phc := format(fast, []byte("0123456789abcdef"), nil)
	if _, _, _, err := Parse(phc); err != ErrMalformedHash {
		t.Fatalf("empty key accepted: %v", err)
	}
}

func TestParseRejects(t *testing.T) {
	good, _ := Hash("pw", fast, rand.Reader)
	for _, s := range []string{
		"",
		"$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=16$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=999999999,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=0,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1,x=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		good + "$",
	} {
		if _, _, _, err := Parse(s); err != ErrMalformedHash {
			t.Errorf("Parse(%q) = %v, want ErrMalformedHash", s, err)
		}
	}
	if NeedsRehash(good, fast) {
		t.Error("NeedsRehash with the same params")
	}
	if !NeedsRehash(good, OWASP) {
		t.Error("NeedsRehash false after params changed")
	}
}

func FuzzParse(f *testing.F) {
	good, _ := Hash("pw", fast, rand.Reader)
	f.Add(good)
	f.Add("$argon2id$v=19$m=64,t=1,p=1$$")
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := Parse(s)
		if err == nil && (p.Time == 0 || len(salt) == 0 || len(key) == 0) {
			t.Fatalf("Parse(%q) accepted degenerate params", s)
		}
	})
}

// An unmatchable hash has the parameters asked for, so verifying against it costs what a
// real one does, and matches no password, not even the empty one.
func TestUnmatchable(t *testing.T) {
	h, err := Unmatchable(fast, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p, salt, key, err := Parse(h)
	if err != nil || p != fast || len(salt) != saltLen || len(key) != keyLen {
		t.Fatalf("Parse(%q) = %+v, %d-byte salt, %d-byte key, %v", h, p, len(salt), len(key), err)
	}
	for _, pw := range []string{"", "hunter2", string(salt)} {
		if ok, err := Verify(pw, h); ok || err != nil {
			t.Errorf("Verify(%q) = %v, %v", pw, ok, err)
		}
	}
	if other, _ := Unmatchable(fast, rand.Reader); other == h {
		t.Error("two unmatchable hashes are the same")
	}
	if _, err := Unmatchable(fast, strings.NewReader("short")); err == nil {
		t.Error("a failing random source gave a hash")
	}
}
