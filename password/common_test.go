package password

import (
	"strings"
	"testing"
)

// NIST SP 800-63B-4: at least 3,000 common passwords, from the named source.
func TestCommonList(t *testing.T) {
	n := strings.Count(commonList, "\n")
	if n != CommonCount || n < 3000 {
		t.Errorf("%d passwords, want CommonCount = %d and at least 3000", n, CommonCount)
	}
	if len(commonSorted()) < 3000 {
		t.Errorf("%d passwords of 8 characters or more, want at least 3000", len(commonSorted()))
	}
}

func TestIsCommon(t *testing.T) {
	tests := []struct {
		pw   string
		want bool
	}{
		{"password", true},
		{"PASSWORD", true},
		{"iloveyou", true},
		{"ｉｌｏｖｅｙｏｕ", true}, // full-width, folded by NFKC
		{"1qaz2wsx3edc4rfv", true},
		{"123456", false}, // listed, but shorter than any policy's minimum
		{"password ", false},
		{"correct horse battery staple", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := IsCommon(tt.pw); got != tt.want {
			t.Errorf("IsCommon(%q) = %v, want %v", tt.pw, got, tt.want)
		}
	}
}
