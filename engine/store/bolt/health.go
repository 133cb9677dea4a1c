package bolt

import (
	"context"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/authengine/authengine/engine/store"
)

// bucketHealth holds the one key Ping's write probe overwrites.
var (
	bucketHealth = []byte("health")
	probeKey     = []byte("probe")
)

// MinFreeBytes is the free space below which Ping reports the store
// unavailable: bbolt allocates the file's pages as it writes them, so a
// write may fail with "no space left on device" on a filesystem this full
// although a small write transaction (the probe's) still succeeds.
const MinFreeBytes = 1 << 20

// Ping reports whether the file takes writes; store.ErrUnavailable
// otherwise. It runs a write transaction that overwrites one fixed key (so
// it never grows the file), waiting for it no longer than ctx allows, and
// checks that the file's filesystem has at least MinFreeBytes free for
// this process. A read-only or failing filesystem fails the probe; a full
// one fails the space check.
func (s *Store) Ping(ctx context.Context) error {
	if free, ok := freeBytes(s.path); ok && free < MinFreeBytes {
		return fmt.Errorf("bolt: ping: %w: the filesystem of %s has %d bytes free (less than %d): writes may fail", store.ErrUnavailable, s.path, free, MinFreeBytes)
	}
	select {
	case err := <-s.probe():
		return err
	case <-ctx.Done():
		return fmt.Errorf("bolt: ping: %w: the write probe did not finish in time: %w", store.ErrUnavailable, ctx.Err())
	}
}

// probeReuse is how long a probe's result answers later health checks: a
// probe is a committed (fsynced) write, and /v1/health is unauthenticated.
const probeReuse = time.Second

// probe starts the write probe, or joins the one in flight, so callers
// that give up waiting never pile up transactions behind a stuck writer; a
// result less than probeReuse old is answered at once. The returned
// channel receives the probe's result.
func (s *Store) probe() <-chan error {
	s.probeMu.Lock()
	defer s.probeMu.Unlock()
	done := make(chan error, 1)
	if len(s.probeWaiters) == 0 && !s.probed.IsZero() && time.Since(s.probed) < probeReuse {
		done <- s.probeErr
		return done
	}
	s.probeWaiters = append(s.probeWaiters, done)
	if len(s.probeWaiters) > 1 {
		return done
	}
	go func() {
		err := s.update(context.Background(), "write probe", func(tx *bbolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(bucketHealth)
			if err != nil {
				return fmt.Errorf("bolt: write probe: %w: %w", store.ErrUnavailable, err)
			}
			if err := b.Put(probeKey, []byte("ok")); err != nil {
				return fmt.Errorf("bolt: write probe: %w: %w", store.ErrUnavailable, err)
			}
			return nil
		})
		s.probeMu.Lock()
		waiters := s.probeWaiters
		s.probeWaiters, s.probed, s.probeErr = nil, time.Now(), err
		s.probeMu.Unlock()
		for _, w := range waiters {
			w <- err
		}
	}()
	return done
}
