// Package storetest is the conformance suite every store.Store backend
// runs: Run covers the behaviour of each operation in engine/store, and
// RunConcurrency covers the atomicity promises (single-use state,
// compare-and-swap without lost updates, exclusive locks) under contention.
//
// The suite owns time. Each case builds its own fake Clock and passes
// clock.Now to newStore, so expiry is tested by advancing the clock rather
// than by sleeping; backends must compare ExpiresAt with that injected
// clock (store.go: "expiry is logical"). The one exception is lock lease
// expiry, where the suite advances the fake clock AND sleeps past the real
// ttl, so a backend may end leases by either mechanism.
//
// Every case calls newStore for a fresh store and uses fresh random ids, so
// a backend that shares one server between cases (Redis) only needs a
// distinct key prefix per newStore call. newStore must return an empty
// store and arrange its own Close with t.Cleanup; the suite never closes it.
//
// It is imported only by backends' _test.go files.
package storetest

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/authengine/authengine/engine/store"
)

// NewStore returns an empty, isolated store whose logical clock is now.
// It must register the store's Close with t.Cleanup.
type NewStore = func(t *testing.T, now func() time.Time) store.Store

// Clock is a fake clock that moves only when told to. It is safe for
// concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock set to the current wall time, truncated to the
// millisecond so that every backend encoding round-trips it exactly. Real
// time (not a fixed date) keeps backend garbage-collection TTLs derived from
// ExpiresAt sensible.
func NewClock() *Clock {
	return &Clock{now: time.Now().UTC().Truncate(time.Millisecond)}
}

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Run runs the conformance suite: every operation of store.Store, one
// subtest per behaviour, each against a fresh store from newStore.
func Run(t *testing.T, newStore NewStore) {
	t.Helper()
	t.Run("flows", func(t *testing.T) { runFlows(t, newStore) })
	t.Run("connections", func(t *testing.T) { runConnections(t, newStore) })
	t.Run("connection counts and indexes", func(t *testing.T) { runCounts(t, newStore) })
	t.Run("providers", func(t *testing.T) { runProviders(t, newStore) })
	t.Run("locks", func(t *testing.T) { runLocks(t, newStore) })
	t.Run("notifier", func(t *testing.T) { runNotifier(t, newStore) })
	t.Run("connection feed", func(t *testing.T) { runFeed(t, newStore) })
	t.Run("scan", func(t *testing.T) { runScan(t, newStore) })
	t.Run("data keys", func(t *testing.T) { runDataKeys(t, newStore) })
	t.Run("outbox", func(t *testing.T) { runOutbox(t, newStore) })
	t.Run("audit log", func(t *testing.T) { runAudit(t, newStore) })
	t.Run("sessions", func(t *testing.T) { runSessions(t, newStore) })
	t.Run("discovery", func(t *testing.T) { runDiscovery(t, newStore) })
	t.Run("lifecycle", func(t *testing.T) { runLifecycle(t, newStore) })
	t.Run("ping answers nil on a healthy store", func(t *testing.T) {
		s, _ := fresh(t, newStore)
		if err := s.Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})
}

// fresh returns a new store and the fake clock that drives it.
func fresh(t *testing.T, newStore NewStore) (store.Store, *Clock) {
	t.Helper()
	clock := NewClock()
	s := newStore(t, clock.Now)
	if s == nil {
		t.Fatal("newStore returned nil")
	}
	return s, clock
}

// uid returns a fresh, unique id with a readable prefix.
func uid(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return prefix + "-" + hex.EncodeToString(b)
}

// randomBytes returns n random bytes with zero bytes planted at both ends
// and in the middle, so that encodings which mishandle NULs are caught.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	if n > 0 {
		b[0], b[n/2], b[n-1] = 0, 0, 0
	}
	return b
}
