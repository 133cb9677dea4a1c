package storetest

import (
	"testing"
	"time"

	"github.com/authengine/authengine/engine/store"
)

// mustLock takes a lock or fails the test.
func mustLock(t *testing.T, s store.Store, name string, ttl time.Duration) string {
	t.Helper()
	token, err := s.Lock(t.Context(), name, ttl)
	if err != nil {
		t.Fatalf("Lock(%s): %v", name, err)
	}
	if token == "" {
		t.Fatalf("Lock(%s) returned an empty token", name)
	}
	return token
}

func runLocks(t *testing.T, newStore NewStore) {
	t.Run("a held lock refuses a second owner", func(t *testing.T) {
		s, _ := fresh(t, newStore)
		name := uid("lock")
		mustLock(t, s, name, time.Minute)
		_, err := s.Lock(t.Context(), name, time.Minute)
		assertErrIs(t, "second Lock", err, store.ErrLockHeld)
	})

	t.Run("unlocking with a wrong token keeps the lock held", func(t *testing.T) {
		s, _ := fresh(t, newStore)
		name := uid("lock")
		mustLock(t, s, name, time.Minute)
		if err := s.Unlock(t.Context(), name, "not-the-owner"); err != nil {
			t.Fatalf("Unlock with a wrong token must be a no-op, got %v", err)
		}
		_, err := s.Lock(t.Context(), name, time.Minute)
		assertErrIs(t, "Lock after a wrong Unlock", err, store.ErrLockHeld)
	})

	t.Run("unlocking with the owner's token frees the lock", func(t *testing.T) {
		s, _ := fresh(t, newStore)
		name := uid("lock")
		token := mustLock(t, s, name, time.Minute)
		if err := s.Unlock(t.Context(), name, token); err != nil {
			t.Fatalf("Unlock: %v", err)
		}
		next := mustLock(t, s, name, time.Minute)
		if next == token {
			t.Error("a new lease reused the previous owner's token")
		}
	})

	t.Run("unlocking a lock nobody holds is a no-op", func(t *testing.T) {
		s, _ := fresh(t, newStore)
		if err := s.Unlock(t.Context(), uid("lock"), "any-token"); err != nil {
			t.Fatalf("Unlock: %v", err)
		}
	})

	t.Run("locks with different names are independent", func(t *testing.T) {
		s, _ := fresh(t, newStore)
		a, b := uid("lock"), uid("lock")
		ta := mustLock(t, s, a, time.Minute)
		tb := mustLock(t, s, b, time.Minute)
		if err := s.Unlock(t.Context(), b, ta); err != nil {
			t.Fatalf("Unlock: %v", err)
		}
		_, err := s.Lock(t.Context(), b, time.Minute)
		assertErrIs(t, "Lock(b) after Unlock(b) with a's token", err, store.ErrLockHeld)
		if err := s.Unlock(t.Context(), b, tb); err != nil {
			t.Fatalf("Unlock: %v", err)
		}
		mustLock(t, s, b, time.Minute)
	})

	t.Run("an expired lease can be taken and the old owner cannot release it", func(t *testing.T) {
		// Backends may end leases by the injected clock or by a real TTL,
		// so the suite moves both past the lease.
		s, clock := fresh(t, newStore)
		name := uid("lock")
		const ttl = 300 * time.Millisecond
		old := mustLock(t, s, name, ttl)
		clock.Advance(ttl + time.Second)
		time.Sleep(ttl + 100*time.Millisecond)
		next := mustLock(t, s, name, time.Minute)
		if next == old {
			t.Fatal("the new lease has the expired owner's token")
		}
		if err := s.Unlock(t.Context(), name, old); err != nil {
			t.Fatalf("Unlock of an expired lease must be a no-op, got %v", err)
		}
		_, err := s.Lock(t.Context(), name, time.Minute)
		assertErrIs(t, "Lock after the expired owner's Unlock", err, store.ErrLockHeld)
	})

	t.Run("the owner renews its lease; nobody else can, and an expired lease is lost", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		name := uid("lock")
		const ttl = 300 * time.Millisecond
		token := mustLock(t, s, name, ttl)
		assertErrIs(t, "Renew with a wrong token", s.Renew(t.Context(), name, "not-the-owner", time.Minute), store.ErrLockLost)
		if err := s.Renew(t.Context(), name, token, time.Minute); err != nil {
			t.Fatalf("Renew by the owner: %v", err)
		}
		clock.Advance(ttl + time.Second)
		time.Sleep(ttl + 100*time.Millisecond)
		_, err := s.Lock(t.Context(), name, time.Minute)
		assertErrIs(t, "Lock after the owner renewed past the first ttl", err, store.ErrLockHeld)

		other := uid("lock")
		old := mustLock(t, s, other, ttl)
		clock.Advance(ttl + time.Second)
		time.Sleep(ttl + 100*time.Millisecond)
		assertErrIs(t, "Renew of an expired lease", s.Renew(t.Context(), other, old, time.Minute), store.ErrLockLost)
		mustLock(t, s, other, time.Minute)
		assertErrIs(t, "Renew by the expired owner after another took the lock", s.Renew(t.Context(), other, old, time.Minute), store.ErrLockLost)
	})

	t.Run("renewing a lock nobody holds is ErrLockLost", func(t *testing.T) {
		s, _ := fresh(t, newStore)
		assertErrIs(t, "Renew", s.Renew(t.Context(), uid("lock"), "any-token", time.Minute), store.ErrLockLost)
	})
}
