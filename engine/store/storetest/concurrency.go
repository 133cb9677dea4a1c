package storetest

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authengine/authengine/engine/store"
)

// Contention used by the concurrency cases.
const (
	consumers = 50
	writers   = 20
	// casAttempts bounds how often a writer retries after ErrConflict (a
	// compare-and-swap that lost too many races in a row); the contract
	// allows that error under contention, but never a lost update.
	casAttempts = 50
)

// RunConcurrency runs the contention cases: single-use state under many
// consumers, compare-and-swap without lost updates, exclusive creates and
// locks. Run it with -race.
func RunConcurrency(t *testing.T, newStore NewStore) {
	t.Helper()

	t.Run("of many concurrent consumers of one state exactly one wins", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		f := newFlow(clock)
		mustCreateFlow(t, s, f)
		var wins, notFound atomic.Int32
		errs := make(chan error, consumers)
		parallel(consumers, func(int) {
			got, err := s.ConsumeState(t.Context(), f.StateHash)
			switch {
			case err == nil:
				wins.Add(1)
				if got.ID != f.ID {
					errs <- errors.New("the winner received another flow")
				}
			case errors.Is(err, store.ErrNotFound):
				notFound.Add(1)
			default:
				errs <- err
			}
		})
		close(errs)
		for err := range errs {
			t.Errorf("ConsumeState: %v", err)
		}
		if wins.Load() != 1 || notFound.Load() != consumers-1 {
			t.Errorf("%d consumers won and %d got ErrNotFound; want 1 and %d", wins.Load(), notFound.Load(), consumers-1)
		}
	})

	t.Run("of many concurrent creates of one flow id exactly one succeeds", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		id := uid("flow")
		var wins atomic.Int32
		errs := make(chan error, writers)
		parallel(writers, func(int) {
			f := newFlow(clock)
			f.ID = id
			err := s.CreateFlow(t.Context(), f)
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, store.ErrConflict):
				errs <- err
			}
		})
		close(errs)
		for err := range errs {
			t.Errorf("CreateFlow: %v", err)
		}
		if wins.Load() != 1 {
			t.Errorf("%d creates succeeded, want 1", wins.Load())
		}
	})

	t.Run("concurrent flow updates all land", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		f := newFlow(clock)
		f.Scopes = nil
		mustCreateFlow(t, s, f)
		errs := make(chan error, writers)
		parallel(writers, func(i int) {
			errs <- retryConflict(func() error {
				_, err := s.UpdateFlow(t.Context(), f.ID, func(cur store.Flow) (store.Flow, error) {
					cur.Scopes = append(cur.Scopes, scopeOf(i))
					return cur, nil
				})
				return err
			})
		})
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("UpdateFlow: %v", err)
			}
		}
		got, err := s.GetFlow(t.Context(), f.ID)
		if err != nil {
			t.Fatalf("GetFlow: %v", err)
		}
		assertAllScopes(t, got.Scopes)
	})

	t.Run("concurrent connection updates all land and count versions", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		c := connectionFor(clock, "github", uid("user"))
		c.Scopes = nil
		// No initial record: the writers also race to create it.
		errs := make(chan error, writers)
		parallel(writers, func(i int) {
			errs <- retryConflict(func() error {
				_, err := s.UpdateConnection(t.Context(), c.ID, func(cur store.Connection, exists bool) (store.Connection, error) {
					if !exists {
						cur = c
					}
					cur.Scopes = append(cur.Scopes, scopeOf(i))
					return cur, nil
				})
				return err
			})
		})
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("UpdateConnection: %v", err)
			}
		}
		got := mustGetConnection(t, s, c.ID)
		assertAllScopes(t, got.Scopes)
		if got.Version != writers {
			t.Errorf("Version = %d after %d writes, want %d", got.Version, writers, writers)
		}
	})

	t.Run("of many concurrent lockers exactly one owns the lock", func(t *testing.T) {
		s, _ := fresh(t, newStore)
		name := uid("lock")
		var owners atomic.Int32
		errs := make(chan error, writers)
		parallel(writers, func(int) {
			_, err := s.Lock(t.Context(), name, time.Minute)
			switch {
			case err == nil:
				owners.Add(1)
			case !errors.Is(err, store.ErrLockHeld):
				errs <- err
			}
		})
		close(errs)
		for err := range errs {
			t.Errorf("Lock: %v", err)
		}
		if owners.Load() != 1 {
			t.Errorf("%d lockers got the lock, want 1", owners.Load())
		}
	})

	t.Run("a lock passed between goroutines is never held twice", func(t *testing.T) {
		s, _ := fresh(t, newStore)
		name := uid("lock")
		var inside, overlaps, acquired atomic.Int32
		parallel(writers, func(int) {
			for range 5 {
				token, err := s.Lock(t.Context(), name, time.Minute)
				if err != nil {
					continue
				}
				acquired.Add(1)
				if inside.Add(1) != 1 {
					overlaps.Add(1)
				}
				time.Sleep(time.Millisecond)
				inside.Add(-1)
				if err := s.Unlock(t.Context(), name, token); err != nil {
					t.Errorf("Unlock: %v", err)
				}
			}
		})
		if overlaps.Load() != 0 {
			t.Errorf("the lock had two owners at once %d times", overlaps.Load())
		}
		if acquired.Load() == 0 {
			t.Error("nobody ever got the lock")
		}
	})
}

// parallel runs fn(0..n-1) on n goroutines released together and waits.
func parallel(n int, fn func(i int)) {
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			fn(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
}

// retryConflict runs op until it returns something other than ErrConflict.
func retryConflict(op func() error) error {
	var err error
	for range casAttempts {
		if err = op(); !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return err
}

// assertAllScopes fails the test unless every writer's scope is present
// exactly once.
func assertAllScopes(t *testing.T, scopes []string) {
	t.Helper()
	var want []string
	for i := range writers {
		want = append(want, scopeOf(i))
	}
	got := slices.Clone(scopes)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("scopes = %q, want one from each of %d writers (lost or repeated updates)", got, writers)
	}
}
