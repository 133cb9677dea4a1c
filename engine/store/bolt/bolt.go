// Package bolt is the embedded store.Store backend: one bbolt file on local
// disk, the engine's default when no Redis is configured.
//
// bbolt takes an exclusive file lock, so exactly one engine process uses a
// file; that is what lets locks and notifications live in memory here (a
// lease table and an in-process fan-out) while flows, connections and
// providers live in the file. Run several engines against one store with
// the Redis backend instead.
//
// Records are encoded by engine/store/codec (shared with the Redis
// backend, and reading the JSON records of earlier releases); no bbolt
// type or error leaves the package. Secrets arrive already sealed
// (engine/seal) and are written only inside their record's Sealed field.
//
// Expiry is logical: a flow past its ExpiresAt (by the injected clock)
// reads as store.ErrNotFound, and a background sweep deletes such flows
// every Options.SweepInterval until Close.
package bolt

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/codec"
)

var _ store.Store = (*Store)(nil)

// Bucket names. The state bucket maps a flow's StateHash to its ID.
var (
	bucketFlows       = []byte("flows")
	bucketStates      = []byte("flow_states")
	bucketConnections = []byte("connections")
	bucketProviders   = []byte("providers")
	bucketDataKeys    = []byte("data_keys")
)

// Defaults for Options.
const (
	// DefaultSweepInterval is how often expired flows are deleted.
	DefaultSweepInterval = time.Minute
	// lockTimeout is how long Open waits for the file lock before deciding
	// that another engine holds the file.
	lockTimeout = time.Second
)

// Options are the run-time settings of a Store. The zero value is usable.
type Options struct {
	// Now is the clock that decides expiry of flows and lock leases;
	// time.Now when nil.
	Now func() time.Time
	// Logger receives sweep failures; discarded when nil.
	Logger *slog.Logger
	// SweepInterval is the period of the expired-flow sweep;
	// DefaultSweepInterval when zero or negative.
	SweepInterval time.Duration
}

// Store is a store.Store on a bbolt file. It is safe for concurrent use by
// the goroutines of one process.
type Store struct {
	db    *bbolt.DB
	path  string
	now   func() time.Time
	log   *slog.Logger
	locks leases
	subs  fanout
	// feed announces connection writes (feed.go).
	feed store.FeedWatchers

	// corrupt counts flow records the sweep skipped because they could
	// not be decoded (each sweep counts them again).
	corrupt atomic.Uint64

	// probeWaiters wait for the write probe in flight; probed and
	// probeErr are when the last one ended and its result (see probe).
	probeMu      sync.Mutex
	probeWaiters []chan error
	probed       time.Time
	probeErr     error

	stop      chan struct{}
	swept     chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating when missing) the store file at path, creating its
// directory with mode 0700 and the file with mode 0600, and starts the
// expiry sweep. A file already opened by another engine is an error that
// says so, after a short wait for its lock.
func Open(path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("bolt: open: empty path")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.SweepInterval <= 0 {
		opts.SweepInterval = DefaultSweepInterval
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("bolt: create directory for %s: %w%s", path, err, unwritable(err))
	}
	// NoStatistics: bbolt otherwise takes one more process-wide mutex at
	// the start and the end of every read transaction to keep counters
	// nothing here reads; under many concurrent reads (the connected
	// authorize path) that mutex is where they queue (docs/benchmarks.md).
	db, err := openDB(path, &bbolt.Options{Timeout: lockTimeout, NoStatistics: true})
	if errors.Is(err, ErrDamaged) {
		return nil, err
	}
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("bolt: open %s: the file is locked: another authengine engine is using it", path)
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w%s", path, err, unwritable(err))
	}
	if err := checkAtStart(db, path); err != nil {
		_ = db.Close()
		return nil, err
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketFlows, bucketStates, bucketConnections, bucketProviders, bucketDataKeys, bucketDiscovery} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		return buildConnectionCounts(tx)
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("bolt: open %s: %w%s", path, err, unwritable(err))
	}
	s := &Store{
		db:    db,
		path:  path,
		now:   opts.Now,
		log:   opts.Logger,
		locks: leases{held: map[string]lease{}},
		subs:  fanout{subs: map[string]map[*subscriber]struct{}{}},
		stop:  make(chan struct{}),
		swept: make(chan struct{}),
	}
	s.feed.SetUp(true)
	go s.sweepLoop(opts.SweepInterval)
	return s, nil
}

// unwritable says what to do about an error that means the store file
// cannot be written: a read-only or unwritable directory, or a full disk.
// It is "" for other errors.
func unwritable(err error) string {
	switch {
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		return " (the engine must be able to create and write this file: make its directory writable by the engine's user, or point store.embedded.path elsewhere)"
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT), errors.Is(err, syscall.EFBIG):
		return " (the disk or the file size limit is full: free space; nothing was written)"
	}
	return ""
}

// Close stops the sweep and closes the file. Later calls return the first
// call's result; operations after Close fail with store.ErrUnavailable.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.feed.SetUp(false)
		close(s.stop)
		<-s.swept
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("bolt: close %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

// view runs fn in a read-only transaction. Errors fn returns come back
// unchanged; bbolt's own failures become store.ErrUnavailable.
func (s *Store) view(ctx context.Context, op string, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bolt: %s: %w", op, err)
	}
	var own error
	err := s.db.View(func(tx *bbolt.Tx) error {
		own = fn(tx)
		return own
	})
	return s.mapErr(op, err, own)
}

// update runs fn in a read-write transaction, committed only when fn
// returns nil. Errors fn returns come back unchanged; bbolt's own failures
// (closed file, failed commit) become store.ErrUnavailable: nothing was
// written.
func (s *Store) update(ctx context.Context, op string, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bolt: %s: %w", op, err)
	}
	var own error
	err := s.db.Update(func(tx *bbolt.Tx) error {
		own = fn(tx)
		return own
	})
	return s.mapErr(op, err, own)
}

// mapErr tells fn's own error (returned as is) from a bbolt failure.
func (s *Store) mapErr(op string, err, own error) error {
	switch {
	case err == nil:
		return nil
	case own != nil:
		return own
	case errors.Is(err, bolterrors.ErrDatabaseNotOpen):
		return fmt.Errorf("bolt: %s: %w: the store is closed", op, store.ErrUnavailable)
	default:
		return fmt.Errorf("bolt: %s: %w: %w%s", op, store.ErrUnavailable, err, unwritable(err))
	}
}

// expired reports whether a record with the given expiry is past it; a
// zero expiry never passes.
func (s *Store) expired(expiresAt time.Time) bool {
	return !expiresAt.IsZero() && !s.now().Before(expiresAt)
}

// randomToken returns 128 random bits, hex encoded.
func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// lease is one held lock.
type lease struct {
	token     string
	expiresAt time.Time
}

// leases is the in-memory lock table. It is correct only because the file
// lock makes this process the store's sole user.
type leases struct {
	mu   sync.Mutex
	held map[string]lease
}

// Lock takes the named lock for ttl, or returns store.ErrLockHeld while
// another unexpired lease holds it.
func (s *Store) Lock(ctx context.Context, name string, ttl time.Duration) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("bolt: lock %q: %w", name, err)
	}
	if ttl <= 0 {
		return "", fmt.Errorf("bolt: lock %q: ttl must be positive, got %v", name, ttl)
	}
	now := s.now()
	s.locks.mu.Lock()
	defer s.locks.mu.Unlock()
	if l, ok := s.locks.held[name]; ok && now.Before(l.expiresAt) {
		return "", fmt.Errorf("bolt: lock %q: %w", name, store.ErrLockHeld)
	}
	token := randomToken()
	s.locks.held[name] = lease{token: token, expiresAt: now.Add(ttl)}
	return token, nil
}

// Unlock releases the named lock if token still owns it; otherwise (lost,
// expired or never held) it does nothing.
func (s *Store) Unlock(ctx context.Context, name, token string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bolt: unlock %q: %w", name, err)
	}
	s.locks.mu.Lock()
	defer s.locks.mu.Unlock()
	if l, ok := s.locks.held[name]; ok && subtle.ConstantTimeCompare([]byte(l.token), []byte(token)) == 1 {
		delete(s.locks.held, name)
	}
	return nil
}

// Renew extends the named lock to ttl from now if token still owns an
// unexpired lease; store.ErrLockLost otherwise.
func (s *Store) Renew(ctx context.Context, name, token string, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bolt: renew lock %q: %w", name, err)
	}
	if ttl <= 0 {
		return fmt.Errorf("bolt: renew lock %q: ttl must be positive, got %v", name, ttl)
	}
	now := s.now()
	s.locks.mu.Lock()
	defer s.locks.mu.Unlock()
	l, ok := s.locks.held[name]
	if !ok || !now.Before(l.expiresAt) || subtle.ConstantTimeCompare([]byte(l.token), []byte(token)) != 1 {
		return fmt.Errorf("bolt: renew lock %q: %w", name, store.ErrLockLost)
	}
	s.locks.held[name] = lease{token: token, expiresAt: now.Add(ttl)}
	return nil
}

// pruneLeases forgets expired leases that were never unlocked.
func (s *Store) pruneLeases() {
	now := s.now()
	s.locks.mu.Lock()
	defer s.locks.mu.Unlock()
	for name, l := range s.locks.held {
		if !now.Before(l.expiresAt) {
			delete(s.locks.held, name)
		}
	}
}

// subscriber is one Subscribe call's signal function.
type subscriber struct{ signal func() }

// fanout delivers Notify signals to this process's subscribers, which are
// all the subscribers there are (one process per file).
type fanout struct {
	mu   sync.RWMutex
	subs map[string]map[*subscriber]struct{}
}

// Notify signals every subscriber of flowID. It never blocks: the
// subscribers' signal functions return at once.
func (s *Store) Notify(ctx context.Context, flowID string) error {
	s.subs.mu.RLock()
	defer s.subs.mu.RUnlock()
	for sub := range s.subs.subs[flowID] {
		sub.signal()
	}
	return nil
}

// Subscribe calls signal whenever flowID may have changed. cancel, safe to
// call more than once, ends the subscription. It never blocks, so ctx is
// not used.
func (s *Store) Subscribe(_ context.Context, flowID string, signal func()) func() {
	sub := &subscriber{signal: signal}
	s.subs.mu.Lock()
	set := s.subs.subs[flowID]
	if set == nil {
		set = map[*subscriber]struct{}{}
		s.subs.subs[flowID] = set
	}
	set[sub] = struct{}{}
	s.subs.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.subs.mu.Lock()
			defer s.subs.mu.Unlock()
			delete(s.subs.subs[flowID], sub)
			if len(s.subs.subs[flowID]) == 0 {
				delete(s.subs.subs, flowID)
			}
		})
	}
}

// sweepLoop deletes expired flows every interval until Close.
func (s *Store) sweepLoop(interval time.Duration) {
	defer close(s.swept)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-ticker.C:
			n, err := s.sweep()
			if err != nil {
				s.log.Warn("bolt: sweep expired flows", "path", s.path, "err", err)
				continue
			}
			if n > 0 {
				s.log.Debug("bolt: swept expired flows", "path", s.path, "flows", n)
			}
		}
	}
}

// sweep deletes every expired flow and its state index entry, and forgets
// expired leases. It returns how many flows it deleted. A flow record that
// cannot be decoded is skipped, logged and counted (CorruptRecordsSkipped).
func (s *Store) sweep() (int, error) {
	s.pruneLeases()
	n := 0
	err := s.update(context.Background(), "sweep expired flows", func(tx *bbolt.Tx) error {
		flows, states := tx.Bucket(bucketFlows), tx.Bucket(bucketStates)
		var dead []store.Flow
		err := flows.ForEach(func(k, v []byte) error {
			w, err := decode(codec.DecodeFlow, k, v)
			if err != nil {
				// One bad record must not stop the sweep of all the
				// others: report it and go on. It stays for
				// `authengine store check` and the operator.
				s.corrupt.Add(1)
				s.log.Error("bolt: sweep skipped a corrupt flow record", "path", s.path, "flow_id", string(k), "err", err)
				return nil
			}
			if s.expired(w.ExpiresAt) {
				w.ID = string(k)
				dead = append(dead, w)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, w := range dead {
			if err := flows.Delete([]byte(w.ID)); err != nil {
				return fmt.Errorf("delete flow %q: %w", w.ID, err)
			}
			if err := deleteStateOf(states, w.StateHash, w.ID); err != nil {
				return err
			}
		}
		n = len(dead)
		_, err = s.sweepSessions(tx)
		return err
	})
	return n, err
}

// CorruptRecordsSkipped is how many times the expiry sweep met a flow
// record it could not decode and skipped it (a record still there is
// counted again by every sweep). cmd exports it as a metric.
func (s *Store) CorruptRecordsSkipped() uint64 { return s.corrupt.Load() }

// deleteStateOf removes the state index entry for hash if it still points
// at flowID.
func deleteStateOf(states *bbolt.Bucket, hash, flowID string) error {
	if hash == "" || !bytes.Equal(states.Get([]byte(hash)), []byte(flowID)) {
		return nil
	}
	if err := states.Delete([]byte(hash)); err != nil {
		return fmt.Errorf("delete state index of flow %q: %w", flowID, err)
	}
	return nil
}
