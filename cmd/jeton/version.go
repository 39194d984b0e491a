package main

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jeton-auth/jeton/db"
)

// version is jeton's release, set at build time:
//
//	go build -ldflags "-X main.version=1.4.0" ./cmd/jeton
//
// The default, "dev", is a build from source: it counts as newer than every release.
var version = "dev"

// checkSchemaVersion refuses to serve a database whose schema no longer supports this
// binary: one migrated by a newer release that contracted something this one uses. It
// names both versions. A schema that records no minimum, and a dev build, always pass.
func checkSchemaVersion(ctx context.Context, store *db.Store, binary string) error {
	min, err := store.MinBinaryVersion(ctx)
	if err != nil {
		return fmt.Errorf("schema version: %w", err)
	}
	if min == "" {
		return nil
	}
	older, err := olderThan(binary, min)
	if err != nil {
		return err
	}
	if older {
		return fmt.Errorf("jeton %s is older than %s, the oldest release this database's schema supports: "+
			"run jeton %s or newer (docs/OPERATIONS.md, Upgrades)", binary, min, min)
	}
	return nil
}

// olderThan reports whether release a is older than release b, both semantic versions
// (MAJOR.MINOR.PATCH, an optional leading "v", pre-release and build suffixes) or "dev",
// which is newer than any release. It returns an error naming a version it cannot read.
func olderThan(a, b string) (bool, error) {
	if a == "dev" {
		return false, nil
	}
	if b == "dev" {
		return true, nil
	}
	va, err := parseVersion(a)
	if err != nil {
		return false, err
	}
	vb, err := parseVersion(b)
	if err != nil {
		return false, err
	}
	return va.compare(vb) < 0, nil
}

// semver is a parsed semantic version; build metadata is dropped, as it carries no order.
type semver struct {
	core [3]int
	pre  []string // dot-separated pre-release identifiers; none for a release
}

func parseVersion(s string) (semver, error) {
	bad := fmt.Errorf("version %q is not MAJOR.MINOR.PATCH (or dev)", s)
	v := strings.TrimPrefix(s, "v")
	v, _, _ = strings.Cut(v, "+")
	v, pre, hasPre := strings.Cut(v, "-")
	parts := strings.Split(v, ".")
	if len(parts) != 3 || hasPre && pre == "" {
		return semver{}, bad
	}
	var out semver
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || p != strconv.Itoa(n) {
			return semver{}, bad
		}
		out.core[i] = n
	}
	if hasPre {
		out.pre = strings.Split(pre, ".")
	}
	return out, nil
}

// compare orders versions as semver.org §11 does: by the numbers, then a pre-release
// before its release, then pre-release identifiers one by one (numbers numerically and
// before words).
func (a semver) compare(b semver) int {
	for i := range a.core {
		if a.core[i] != b.core[i] {
			return cmp.Compare(a.core[i], b.core[i])
		}
	}
	switch {
	case len(a.pre) == 0 && len(b.pre) == 0:
		return 0
	case len(a.pre) == 0:
		return 1
	case len(b.pre) == 0:
		return -1
	}
	for i := 0; i < len(a.pre) && i < len(b.pre); i++ {
		x, y := a.pre[i], b.pre[i]
		nx, ex := strconv.Atoi(x)
		ny, ey := strconv.Atoi(y)
		switch {
		case ex == nil && ey == nil && nx != ny:
			return cmp.Compare(nx, ny)
		case ex == nil && ey != nil:
			return -1
		case ex != nil && ey == nil:
			return 1
		case x != y:
			return strings.Compare(x, y)
		}
	}
	return cmp.Compare(len(a.pre), len(b.pre))
}
