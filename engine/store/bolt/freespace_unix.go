//go:build linux || darwin || freebsd

package bolt

import (
	"os"
	"path/filepath"
	"syscall"
)

// freeBytes reports the free space of the filesystem holding path that
// this process may use (root may also use the blocks reserved for it).
func freeBytes(path string) (uint64, bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(path), &st); err != nil {
		return 0, false
	}
	blocks := uint64(st.Bavail)
	if os.Geteuid() == 0 {
		blocks = uint64(st.Bfree)
	}
	return blocks * uint64(st.Bsize), true
}
