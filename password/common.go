package password

import (
	_ "embed"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// commonList is zxcvbn 4.4.2's "passwords" frequency list, 30,000 of the most common
// passwords, most common first, lower case ASCII, one a line. Its source and MIT licence
// are in common-passwords.LICENSE.
//
//go:embed common-passwords.txt
var commonList string

// CommonCount is how many passwords the blocklist holds.
const CommonCount = 30000

// commonSorted is the blocklist's entries of at least 8 characters, sorted: no policy
// accepts a shorter password, so the rest need no memory. It is built on first use, so a
// server that never sets a password never holds it.
var commonSorted = sync.OnceValue(func() []string {
	var out []string
	for line := range strings.Lines(commonList) {
		if line = strings.TrimSuffix(line, "\n"); utf8.RuneCountInString(line) >= 8 {
			out = append(out, line)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
})

// IsCommon reports whether pw, after NFKC and case folding, is one of the blocklist's
// common passwords (NIST SP 800-63B-4 §3.1.1.2). Passwords shorter than 8 characters are
// never reported: the length rule refuses them first.
func IsCommon(pw string) bool {
	key := strings.ToLower(Normalize(pw))
	_, found := slices.BinarySearch(commonSorted(), key)
	return found
}
