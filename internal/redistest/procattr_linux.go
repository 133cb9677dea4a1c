package redistest

import "syscall"

// procAttr makes the kernel kill redis-server when the test binary dies,
// even if it never reaches Main or a cleanup.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
