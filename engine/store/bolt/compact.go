package bolt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// compactTxSize is how many bytes Compact copies per write transaction, so
// a large file does not have to fit in one transaction's memory.
const compactTxSize = 64 << 20

// CompactResult is the size of the file before and after Compact.
type CompactResult struct {
	Before, After int64
}

// Compact rewrites the file at path without its free pages: a bbolt file
// never shrinks on its own, so a burst of flows leaves it at its largest
// size for good. The file must not be in use: Compact takes the file's
// lock (an engine holds it while it runs, and Compact then says to stop
// it) and keeps it while it copies every bucket, record and sequence into
// a new file beside it (<path>.compact), rebuilds the connection counts
// and index there from the records (counts.go), checks the copy with bbolt's
// consistency check, syncs it and renames it over path. On any failure
// the original file is left as it was and the copy is removed. The
// directory needs room for the copy.
func Compact(ctx context.Context, path string) (CompactResult, error) {
	var res CompactResult
	info, err := os.Stat(path)
	if err != nil {
		return res, fmt.Errorf("bolt: compact %s: %w", path, err)
	}
	res.Before = info.Size()
	src, err := openDB(path, &bbolt.Options{Timeout: lockTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return res, fmt.Errorf("bolt: compact %s: the file is locked: another authengine process (a running engine) uses it; stop it first", path)
	}
	if err != nil {
		return res, fmt.Errorf("bolt: compact %s: %w", path, err)
	}
	// Closed after the rename: the lock stays held until the new file is
	// in place, so no engine starts on the old one meanwhile.
	defer src.Close()

	tmp := path + ".compact"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return res, fmt.Errorf("bolt: compact %s: remove a leftover %s: %w", path, tmp, err)
	}
	done := false
	defer func() {
		if !done {
			os.Remove(tmp)
		}
	}()
	dst, err := bbolt.Open(tmp, info.Mode().Perm(), &bbolt.Options{Timeout: lockTimeout})
	if err != nil {
		return res, fmt.Errorf("bolt: compact %s: create %s: %w", path, tmp, err)
	}
	if err := ctx.Err(); err != nil {
		dst.Close()
		return res, err
	}
	if err := bbolt.Compact(dst, src, compactTxSize); err != nil {
		dst.Close()
		return res, fmt.Errorf("bolt: compact %s: copy into %s: %w", path, tmp, err)
	}
	if err := dst.Update(rebuildConnectionCounts); err != nil {
		dst.Close()
		return res, fmt.Errorf("bolt: compact %s: rebuild the connection counts in %s: %w", path, tmp, err)
	}
	var problems []string
	err = dst.View(func(tx *bbolt.Tx) error {
		for cerr := range tx.Check() {
			problems = append(problems, cerr.Error())
		}
		return nil
	})
	if err == nil && len(problems) > 0 {
		err = errors.New(strings.Join(problems, "; "))
	}
	if err != nil {
		dst.Close()
		return res, fmt.Errorf("bolt: compact %s: the copy fails the consistency check, the original is kept: %w", path, err)
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		return res, fmt.Errorf("bolt: compact %s: sync %s: %w", path, tmp, err)
	}
	if err := dst.Close(); err != nil {
		return res, fmt.Errorf("bolt: compact %s: close %s: %w", path, tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return res, fmt.Errorf("bolt: compact %s: replace it with %s: %w", path, tmp, err)
	}
	done = true
	if err := syncDir(filepath.Dir(path)); err != nil {
		return res, fmt.Errorf("bolt: compact %s: sync its directory: %w", path, err)
	}
	after, err := os.Stat(path)
	if err != nil {
		return res, fmt.Errorf("bolt: compact %s: %w", path, err)
	}
	res.After = after.Size()
	return res, nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
