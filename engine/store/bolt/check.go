package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"runtime/debug"
	"time"

	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/codec"
)

// ErrDamaged is wrapped by Open and Check when the file is not a sound
// bbolt file: truncated, overwritten, or failing bbolt's consistency check.
var ErrDamaged = errors.New("bolt: store file is damaged")

// The layout of a bbolt meta page (go.etcd.io/bbolt/internal/common): a
// 16-byte page header, then magic, version, page size, flags (4 bytes
// each), the root bucket (root page id and sequence), the freelist page
// id, the high-water page id, the transaction id and an FNV-64a checksum of
// everything before it (8 bytes each).
const (
	pageHeaderSize = 16
	metaSize       = 64
	metaMagic      = 0xED0CDAED
	metaVersion    = 2
)

// damaged is the one-line refusal for a file that fails a check: it names
// the file, what is wrong, and what to do.
func damaged(path, what string) error {
	return fmt.Errorf("%w: %s: %s; the engine will not use it: stop every engine, restore the file from a backup (or move it aside to start with an empty store, losing its connections), and run `authengine store check` for details", ErrDamaged, path, what)
}

// precheck reads the file's two meta pages, without mapping the file, and
// refuses a file shorter than the pages its newest valid meta page says it
// holds. bbolt maps the whole file and reads those pages without checking
// the file's length first: on a truncated file that ends in SIGBUS or a
// panic deep in bbolt rather than an error. A missing or empty file is
// fine: bbolt creates it.
func precheck(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("bolt: open %s: %w", path, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("bolt: stat %s: %w", path, err)
	}
	size := info.Size()
	if size == 0 {
		return nil
	}
	first := make([]byte, pageHeaderSize+metaSize)
	if _, err := io.ReadFull(f, first); err != nil {
		return damaged(path, fmt.Sprintf("the file is %d bytes, too short for a store file's header", size))
	}
	m0, ok0 := parseMeta(first[pageHeaderSize:])
	pageSize := int64(os.Getpagesize())
	if ok0 {
		pageSize = int64(m0.pageSize)
	}
	second := make([]byte, pageHeaderSize+metaSize)
	_, err = f.ReadAt(second, pageSize)
	m1, ok1 := parseMeta(second[pageHeaderSize:])
	if err != nil {
		ok1 = false
	}
	var m meta
	switch {
	case ok0 && ok1:
		m = m0
		if m1.txid > m0.txid {
			m = m1
		}
	case ok0:
		m = m0
	case ok1:
		m = m1
	default:
		return damaged(path, "neither of its two header pages is valid (not a store file, or overwritten)")
	}
	if need := int64(m.pgid) * int64(m.pageSize); size < need {
		return damaged(path, fmt.Sprintf("the file is %d bytes but its header says it holds %d (truncated)", size, need))
	}
	return nil
}

// meta is what precheck needs of a bbolt meta page.
type meta struct {
	pageSize uint32
	pgid     uint64
	txid     uint64
}

// parseMeta decodes a meta page's body and reports whether its magic,
// version and checksum are right.
func parseMeta(b []byte) (meta, bool) {
	le := binary.LittleEndian
	if len(b) < metaSize || le.Uint32(b[0:]) != metaMagic || le.Uint32(b[4:]) != metaVersion {
		return meta{}, false
	}
	h := fnv.New64a()
	h.Write(b[:56])
	if h.Sum64() != le.Uint64(b[56:]) {
		return meta{}, false
	}
	m := meta{pageSize: le.Uint32(b[8:]), pgid: le.Uint64(b[40:]), txid: le.Uint64(b[48:])}
	if m.pageSize < 512 || m.pageSize&(m.pageSize-1) != 0 || m.pgid < 4 {
		return meta{}, false
	}
	return m, true
}

// openDB runs bbolt.Open after precheck. A panic or a memory fault inside
// bbolt while it reads a damaged file becomes ErrDamaged instead of killing
// the process.
func openDB(path string, opts *bbolt.Options) (db *bbolt.DB, err error) {
	if err := precheck(path); err != nil {
		return nil, err
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, damaged(path, fmt.Sprintf("reading it failed (%v)", r))
		}
	}()
	db, err = bbolt.Open(path, 0o600, opts)
	switch {
	case err == nil:
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrVersionMismatch), errors.Is(err, bolterrors.ErrChecksum):
		return nil, damaged(path, err.Error())
	}
	return db, err
}

// startCheckLimit is the largest file Open runs bbolt's consistency check
// on before using it (a walk of every page in use: BenchmarkStartCheck).
// Larger files are checked with `authengine store check`.
const startCheckLimit = 64 << 20

// checkAtStart runs bbolt's consistency check on a freshly opened file of
// at most startCheckLimit bytes, so that a file damaged inside is refused
// at start rather than failing (or panicking in the sweep) later.
func checkAtStart(db *bbolt.DB, path string) error {
	info, err := os.Stat(path)
	if err != nil || info.Size() > startCheckLimit {
		return nil
	}
	return consistent(db, path)
}

// consistent runs bbolt's consistency check; a problem, or a panic or
// memory fault while reading, is ErrDamaged.
func consistent(db *bbolt.DB, path string) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = damaged(path, fmt.Sprintf("reading it failed (%v)", r))
		}
	}()
	var problems []error
	_ = db.View(func(tx *bbolt.Tx) error {
		for cerr := range tx.Check() {
			problems = append(problems, cerr)
		}
		return nil
	})
	if len(problems) > 0 {
		return damaged(path, fmt.Sprintf("%d problems in bbolt's consistency check, the first: %v", len(problems), problems[0]))
	}
	return nil
}

// Check runs bbolt's consistency check on the file at path (every page
// reachable once, no page both used and free), decodes every record and
// compares the connection counts and index with the connection records.
// The file must not be in use: stop the engine first (an engine holds the
// file's lock, and Check says so). Problems come back one per entry,
// naming the record kind and id, never content; a nil slice means the file
// is sound. Check never writes to the file.
func Check(ctx context.Context, path string) ([]string, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("bolt: check %s: %w", path, err)
	}
	db, err := openDB(path, &bbolt.Options{ReadOnly: true, Timeout: lockTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("bolt: check %s: the file is locked: stop the engine that uses it first", path)
	}
	if errors.Is(err, ErrDamaged) {
		return []string{err.Error()}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: check %s: %w", path, err)
	}
	defer db.Close()
	var problems []string
	err = func() (err error) {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer func() {
			if r := recover(); r != nil {
				err = damaged(path, fmt.Sprintf("reading it failed (%v)", r))
			}
		}()
		return db.View(func(tx *bbolt.Tx) error {
			for cerr := range tx.Check() {
				problems = append(problems, "consistency: "+cerr.Error())
			}
			if len(problems) > 0 {
				// Walking the records of an inconsistent file may read
				// pages that are not what they claim to be.
				return nil
			}
			err := scanTx(tx, nil, func(r store.SealedRecord) error {
				if r.Err != nil {
					problems = append(problems, r.Err.Error())
				}
				return ctx.Err()
			})
			if err != nil {
				return err
			}
			problems = append(problems, checkConnectionCounts(tx)...)
			keys := tx.Bucket(bucketDataKeys)
			if keys == nil {
				// Files written before envelope encryption have none yet.
				return nil
			}
			return keys.ForEach(func(k, v []byte) error {
				if _, err := decode(codec.DecodeDataKey, k, v); err != nil {
					problems = append(problems, err.Error())
				}
				return nil
			})
		})
	}()
	if errors.Is(err, ErrDamaged) {
		return append(problems, err.Error()), nil
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: check %s: %w", path, err)
	}
	return problems, nil
}

// Scan calls fn with every connection, runtime provider, discovery record
// and unexpired flow, in one read transaction.
func (s *Store) Scan(ctx context.Context, fn func(store.SealedRecord) error) error {
	return s.view(ctx, "scan", func(tx *bbolt.Tx) error {
		return scanTx(tx, s.expired, fn)
	})
}

// scanTx walks the record buckets; with expired set, flows it reports as
// expired are skipped. A bucket that is missing is a damaged file.
func scanTx(tx *bbolt.Tx, expired func(at time.Time) bool, fn func(store.SealedRecord) error) error {
	buckets := []struct {
		name []byte
		kind string
		open func(k, v []byte) (store.SealedRecord, error)
	}{
		{bucketFlows, store.KindFlow, func(k, v []byte) (store.SealedRecord, error) {
			w, err := decode(codec.DecodeFlow, k, v)
			if err == nil && expired != nil && expired(w.ExpiresAt) {
				return store.SealedRecord{}, errSkip
			}
			return store.SealedRecord{Sealed: w.Sealed}, err
		}},
		{bucketConnections, store.KindConnection, func(k, v []byte) (store.SealedRecord, error) {
			w, err := decode(codec.DecodeConnection, k, v)
			return store.SealedRecord{Sealed: w.Sealed}, err
		}},
		{bucketProviders, store.KindProvider, func(k, v []byte) (store.SealedRecord, error) {
			w, err := decode(codec.DecodeProvider, k, v)
			return store.SealedRecord{Sealed: w.Sealed}, err
		}},
		{bucketSessions, store.KindSession, func(k, v []byte) (store.SealedRecord, error) {
			w, err := decode(codec.DecodeSession, k, v)
			if err == nil && expired != nil && expired(w.ExpiresAt) {
				return store.SealedRecord{}, errSkip
			}
			return store.SealedRecord{Sealed: w.Sealed}, err
		}},
		{bucketDiscovery, store.KindDiscovery, func(k, v []byte) (store.SealedRecord, error) {
			w, err := decode(codec.DecodeDiscovery, k, v)
			return store.SealedRecord{Sealed: w.Sealed}, err
		}},
	}
	for _, b := range buckets {
		bucket := tx.Bucket(b.name)
		if bucket == nil && b.kind == store.KindSession {
			continue // created by the first session written: none yet
		}
		if bucket == nil && b.kind == store.KindDiscovery {
			continue // files written before discovery records have none
		}
		if bucket == nil {
			return fn(store.SealedRecord{Kind: b.kind, Err: fmt.Errorf("bolt: bucket %s is missing", b.name)})
		}
		err := bucket.ForEach(func(k, v []byte) error {
			rec, err := b.open(k, v)
			if errors.Is(err, errSkip) {
				return nil
			}
			rec.Kind, rec.ID = b.kind, string(k)
			if err != nil {
				rec.Sealed, rec.Err = nil, err
			}
			return fn(rec)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// errSkip tells scanTx to pass over a record.
var errSkip = errors.New("skip")
