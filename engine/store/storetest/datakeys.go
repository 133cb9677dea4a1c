package storetest

import (
	"bytes"
	"sync"
	"testing"

	"github.com/authengine/authengine/engine/store"
)

// runDataKeys covers DataKeyStore.
func runDataKeys(t *testing.T, newStore NewStore) {
	newKey := func(clock *Clock) store.DataKey {
		return store.DataKey{ID: uid("dk"), RootKeyID: "root-1", Wrapped: randomBytes(60), CreatedAt: clock.Now()}
	}
	assertKey := func(t *testing.T, got, want store.DataKey) {
		t.Helper()
		if got.ID != want.ID || got.RootKeyID != want.RootKeyID || !bytes.Equal(got.Wrapped, want.Wrapped) || !got.CreatedAt.Equal(want.CreatedAt) {
			t.Errorf("data key = %+v, want %+v", got, want)
		}
	}
	t.Run("create, get and list round-trip; a second create conflicts", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		a, b := newKey(clock), newKey(clock)
		for _, k := range []store.DataKey{a, b} {
			if err := s.CreateDataKey(t.Context(), k); err != nil {
				t.Fatalf("CreateDataKey: %v", err)
			}
		}
		assertErrIs(t, "CreateDataKey again", s.CreateDataKey(t.Context(), a), store.ErrConflict)
		got, err := s.GetDataKey(t.Context(), a.ID)
		if err != nil {
			t.Fatalf("GetDataKey: %v", err)
		}
		assertKey(t, got, a)
		list, err := s.ListDataKeys(t.Context())
		if err != nil || len(list) != 2 {
			t.Fatalf("ListDataKeys = %d keys, %v; want 2", len(list), err)
		}
		if list[0].ID > list[1].ID {
			t.Errorf("ListDataKeys is not ordered by ID: %s, %s", list[0].ID, list[1].ID)
		}
		_, err = s.GetDataKey(t.Context(), uid("dk"))
		assertErrIs(t, "GetDataKey of a missing key", err, store.ErrNotFound)
	})
	t.Run("rewrap replaces the wrapping only from the expected one", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		k := newKey(clock)
		if err := s.CreateDataKey(t.Context(), k); err != nil {
			t.Fatal(err)
		}
		next := store.DataKey{ID: k.ID, RootKeyID: "root-2", Wrapped: randomBytes(60)}
		assertErrIs(t, "RewrapDataKey from a stale wrapping", s.RewrapDataKey(t.Context(), next, randomBytes(60)), store.ErrConflict)
		if err := s.RewrapDataKey(t.Context(), next, k.Wrapped); err != nil {
			t.Fatalf("RewrapDataKey: %v", err)
		}
		got, err := s.GetDataKey(t.Context(), k.ID)
		if err != nil {
			t.Fatal(err)
		}
		assertKey(t, got, store.DataKey{ID: k.ID, RootKeyID: "root-2", Wrapped: next.Wrapped, CreatedAt: k.CreatedAt})
		missing := store.DataKey{ID: uid("dk"), RootKeyID: "root-2", Wrapped: randomBytes(60)}
		assertErrIs(t, "RewrapDataKey of a missing key", s.RewrapDataKey(t.Context(), missing, nil), store.ErrNotFound)
	})
	t.Run("of concurrent rewraps from one wrapping exactly one wins", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		k := newKey(clock)
		if err := s.CreateDataKey(t.Context(), k); err != nil {
			t.Fatal(err)
		}
		const n = 8
		var wg sync.WaitGroup
		wins := make(chan store.DataKey, n)
		for range n {
			wg.Go(func() {
				next := store.DataKey{ID: k.ID, RootKeyID: "root-2", Wrapped: randomBytes(60)}
				if err := s.RewrapDataKey(t.Context(), next, k.Wrapped); err == nil {
					wins <- next
				}
			})
		}
		wg.Wait()
		close(wins)
		var won []store.DataKey
		for w := range wins {
			won = append(won, w)
		}
		if len(won) != 1 {
			t.Fatalf("%d rewraps won, want exactly 1", len(won))
		}
		got, _ := s.GetDataKey(t.Context(), k.ID)
		if !bytes.Equal(got.Wrapped, won[0].Wrapped) {
			t.Error("the stored wrapping is not the winner's")
		}
	})
}
