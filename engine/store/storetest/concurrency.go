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
		exactlyOneWins(t, "ConsumeState", consumers, store.ErrNotFound, func() error {
			got, err := s.ConsumeState(t.Context(), f.StateHash)
			if err == nil && got.ID != f.ID {
				t.Errorf("ConsumeState: the winner received flow %q, want %q", got.ID, f.ID)
			}
			return err
		})
	})

	t.Run("of many concurrent creates of one flow id exactly one succeeds", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		id := uid("flow")
		exactlyOneWins(t, "CreateFlow", writers, store.ErrConflict, func() error {
			f := newFlow(clock)
			f.ID = id
			return s.CreateFlow(t.Context(), f)
		})
	})

	t.Run("concurrent flow updates all land", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		f := newFlow(clock)
		f.Scopes = nil
		mustCreateFlow(t, s, f)
		allLand(t, "UpdateFlow", func(i int) error {
			_, err := s.UpdateFlow(t.Context(), f.ID, func(cur store.Flow) (store.Flow, error) {
				cur.Scopes = append(cur.Scopes, scopeOf(i))
				return cur, nil
			})
			return err
		})
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
		allLand(t, "UpdateConnection", func(i int) error {
			_, err := s.UpdateConnection(t.Context(), c.ID, func(cur store.Connection, exists bool) (store.Connection, error) {
				if !exists {
					cur = c
				}
				cur.Scopes = append(cur.Scopes, scopeOf(i))
				return cur, nil
			})
			return err
		})
		got := mustGetConnection(t, s, c.ID)
		assertAllScopes(t, got.Scopes)
		if got.Version != writers {
			t.Errorf("Version = %d after %d writes, want %d", got.Version, writers, writers)
		}
	})

	t.Run("concurrent connection writers keep counts exact and filtered pages whole", func(t *testing.T) {
		runCountsConcurrency(t, newStore)
	})

	t.Run("of many concurrent lockers exactly one owns the lock", func(t *testing.T) {
		s, _ := fresh(t, newStore)
		name := uid("lock")
		exactlyOneWins(t, "Lock", writers, store.ErrLockHeld, func() error {
			_, err := s.Lock(t.Context(), name, time.Minute)
			return err
		})
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

// exactlyOneWins runs attempt on n goroutines released together and fails
// t unless exactly one call returns nil and every other returns an error
// that is lose. Any other error is reported as it is.
func exactlyOneWins(t *testing.T, op string, n int, lose error, attempt func() error) {
	t.Helper()
	var wins, losses atomic.Int32
	parallel(n, func(int) {
		switch err := attempt(); {
		case err == nil:
			wins.Add(1)
		case errors.Is(err, lose):
			losses.Add(1)
		default:
			t.Errorf("%s: %v", op, err)
		}
	})
	if wins.Load() != 1 || losses.Load() != int32(n-1) {
		t.Errorf("%s: %d of %d calls succeeded and %d got %v; want 1 and %d", op, wins.Load(), n, losses.Load(), lose, n-1)
	}
}

// allLand runs write(0..writers-1) on writers goroutines released
// together, each retried on ErrConflict (see retryConflict), and fails t
// for every write that still errs.
func allLand(t *testing.T, op string, write func(i int) error) {
	t.Helper()
	parallel(writers, func(i int) {
		if err := retryConflict(func() error { return write(i) }); err != nil {
			t.Errorf("%s: %v", op, err)
		}
	})
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
