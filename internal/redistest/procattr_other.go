//go:build !linux

package redistest

import "syscall"

// procAttr has no parent-death signal outside Linux; Main and test
// cleanups stop the servers there.
func procAttr() *syscall.SysProcAttr { return nil }
