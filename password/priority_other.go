//go:build !linux

package password

// background leaves the priority alone outside Linux.
func background() {}
