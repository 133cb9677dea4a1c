package bolt

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/authengine/authengine/engine/store"
)

// smallTmpfs mounts a tmpfs of size bytes on a fresh directory and
// unmounts it when t ends. It skips t, saying why, where mounting is not
// allowed (not root, or no CAP_SYS_ADMIN): a full disk cannot be made
// there without filling a real one.
func smallTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		t.Skipf("cannot mount a %s tmpfs to fill (%v): this test needs root with CAP_SYS_ADMIN", size, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fill writes a file in dir until the filesystem is full.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill %s: %v", dir, err)
			}
			return path
		}
	}
}

// TestHealthFailsWhileTheDiskIsFull: health used to probe the bbolt file
// with a read, and said healthy while every write failed on a full disk.
// On a small tmpfs filled to the last byte, Ping (what /v1/health calls)
// reports the store unavailable, as writes are, and healthy again once
// there is room.
func TestHealthFailsWhileTheDiskIsFull(t *testing.T) {
	dir := smallTmpfs(t, "4m")
	s := mustOpen(t, filepath.Join(dir, "authengine.db"), Options{})
	t.Cleanup(func() { _ = s.Close() }) // before the unmount (cleanups run last first)
	ctx := t.Context()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping on an empty 4 MiB filesystem: %v", err)
	}

	filler := fill(t, dir)
	err := s.Ping(ctx)
	if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "bytes free") {
		t.Fatalf("Ping with the disk full = %v, want ErrUnavailable naming the free space", err)
	}
	big := store.Flow{ID: "big", StateHash: store.HashState("big"), Status: store.FlowPending,
		Sealed: make([]byte, 256<<10), ExpiresAt: time.Now().Add(time.Hour)}
	if err := s.CreateFlow(ctx, big); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("a 256 kB write with the disk full = %v, want ErrUnavailable (the failure health now reports)", err)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping once there is room again: %v", err)
	}
	if err := s.CreateFlow(ctx, big); err != nil {
		t.Fatalf("the same write once there is room again: %v", err)
	}

}
