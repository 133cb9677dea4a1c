//go:build !linux

package redistest

import "syscall"

// ProcAttr has no parent-death signal outside Linux; Main and test
// cleanups stop the processes there.
func ProcAttr() *syscall.SysProcAttr { return nil }
