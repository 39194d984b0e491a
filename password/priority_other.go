//go:build !linux

package password

import "syscall"

// workerAttr leaves a worker in the server's session outside Linux.
func workerAttr() *syscall.SysProcAttr { return nil }

// background leaves the priority alone outside Linux.
func background() {}
