package password

import (
	"errors"
	"syscall"
	"testing"
	"time"
)

// The autogroup's nice value is written again while the kernel refuses it for another
// process's write in the last 100 ms (EAGAIN), and not after any other error.
func TestSetAutogroupNice(t *testing.T) {
	var wrote []string
	refusals := 2
	write := func(b []byte) error {
		wrote = append(wrote, string(b))
		if refusals > 0 {
			refusals--
			return syscall.EAGAIN
		}
		return nil
	}
	if err := setAutogroupNice(write, time.Millisecond, 5); err != nil || len(wrote) != 3 || wrote[2] != "19" {
		t.Errorf("after two refusals: %v, wrote %q; want nil after a third write of 19", err, wrote)
	}

	wrote, refusals = nil, 10
	if err := setAutogroupNice(write, time.Millisecond, 4); !errors.Is(err, syscall.EAGAIN) || len(wrote) != 4 {
		t.Errorf("always refused: %v after %d writes, want EAGAIN after 4", err, len(wrote))
	}

	wrote = nil
	missing := func(b []byte) error { wrote = append(wrote, string(b)); return syscall.ENOENT }
	if err := setAutogroupNice(missing, time.Millisecond, 5); !errors.Is(err, syscall.ENOENT) || len(wrote) != 1 {
		t.Errorf("no autogroup: %v after %d writes, want ENOENT after 1", err, len(wrote))
	}
}
