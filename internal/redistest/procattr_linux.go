package redistest

import "syscall"

// ProcAttr makes the kernel kill a process a test starts (redis-server,
// an engine) when the test binary dies, even if it never reaches Main or a
// cleanup.
func ProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
