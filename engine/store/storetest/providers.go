package storetest

import (
	"bytes"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/authengine/authengine/engine/store"
)

// newProvider returns a provider record with a fresh id.
func newProvider(clock *Clock) store.ProviderRecord {
	now := clock.Now()
	return store.ProviderRecord{ID: uid("prov"), Sealed: randomBytes(128), CreatedAt: now, UpdatedAt: now}
}

// assertProvider fails the test unless got equals want.
func assertProvider(t *testing.T, got, want store.ProviderRecord) {
	t.Helper()
	if got.ID != want.ID {
		t.Errorf("ID = %q, want %q", got.ID, want.ID)
	}
	if !bytes.Equal(got.Sealed, want.Sealed) {
		t.Errorf("Sealed differs: got %d bytes, want %d bytes", len(got.Sealed), len(want.Sealed))
	}
	assertTime(t, "CreatedAt", got.CreatedAt, want.CreatedAt)
	assertTime(t, "UpdatedAt", got.UpdatedAt, want.UpdatedAt)
}

func runProviders(t *testing.T, newStore NewStore) {
	t.Run("a created provider reads back intact", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		p := newProvider(clock)
		if err := s.CreateProvider(t.Context(), p); err != nil {
			t.Fatalf("CreateProvider: %v", err)
		}
		got, err := s.GetProvider(t.Context(), p.ID)
		if err != nil {
			t.Fatalf("GetProvider: %v", err)
		}
		assertProvider(t, got, p)
	})

	t.Run("creating a provider with a taken id is ErrConflict and keeps the first", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		p := newProvider(clock)
		if err := s.CreateProvider(t.Context(), p); err != nil {
			t.Fatalf("CreateProvider: %v", err)
		}
		dup := p
		dup.Sealed = randomBytes(16)
		assertErrIs(t, "CreateProvider(duplicate)", s.CreateProvider(t.Context(), dup), store.ErrConflict)
		got, err := s.GetProvider(t.Context(), p.ID)
		if err != nil {
			t.Fatalf("GetProvider: %v", err)
		}
		assertProvider(t, got, p)
	})

	t.Run("putting a provider replaces it", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		p := newProvider(clock)
		if err := s.CreateProvider(t.Context(), p); err != nil {
			t.Fatalf("CreateProvider: %v", err)
		}
		clock.Advance(time.Minute)
		p.Sealed, p.UpdatedAt = randomBytes(200), clock.Now()
		if err := s.PutProvider(t.Context(), p); err != nil {
			t.Fatalf("PutProvider: %v", err)
		}
		got, err := s.GetProvider(t.Context(), p.ID)
		if err != nil {
			t.Fatalf("GetProvider: %v", err)
		}
		assertProvider(t, got, p)
	})

	t.Run("putting a missing provider is ErrNotFound and creates nothing", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		p := newProvider(clock)
		assertErrIs(t, "PutProvider", s.PutProvider(t.Context(), p), store.ErrNotFound)
		_, err := s.GetProvider(t.Context(), p.ID)
		assertErrIs(t, "GetProvider", err, store.ErrNotFound)
	})

	t.Run("update is a compare-and-swap on the sealed record", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		p := newProvider(clock)
		if err := s.CreateProvider(t.Context(), p); err != nil {
			t.Fatalf("CreateProvider: %v", err)
		}
		stale := p.Sealed
		clock.Advance(time.Minute)
		next := p
		next.Sealed, next.UpdatedAt = randomBytes(200), clock.Now()
		next.CreatedAt = clock.Now() // ignored: CreatedAt is kept
		if err := s.UpdateProvider(t.Context(), next, stale); err != nil {
			t.Fatalf("UpdateProvider: %v", err)
		}
		got, err := s.GetProvider(t.Context(), p.ID)
		if err != nil {
			t.Fatalf("GetProvider: %v", err)
		}
		want := next
		want.CreatedAt = p.CreatedAt
		assertProvider(t, got, want)

		lost := p
		lost.Sealed = randomBytes(200)
		assertErrIs(t, "UpdateProvider from a stale record", s.UpdateProvider(t.Context(), lost, stale), store.ErrConflict)
		if got, _ := s.GetProvider(t.Context(), p.ID); !bytes.Equal(got.Sealed, next.Sealed) {
			t.Fatal("a losing UpdateProvider changed the record")
		}
		missing := newProvider(clock)
		assertErrIs(t, "UpdateProvider of a missing provider", s.UpdateProvider(t.Context(), missing, missing.Sealed), store.ErrNotFound)
		_, err = s.GetProvider(t.Context(), missing.ID)
		assertErrIs(t, "GetProvider after UpdateProvider of a missing one", err, store.ErrNotFound)
	})

	t.Run("of concurrent updates from one record exactly one wins", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		p := newProvider(clock)
		if err := s.CreateProvider(t.Context(), p); err != nil {
			t.Fatalf("CreateProvider: %v", err)
		}
		exactlyOneWins(t, "UpdateProvider", 8, store.ErrConflict, func() error {
			next := p
			next.Sealed = randomBytes(200)
			return s.UpdateProvider(t.Context(), next, p.Sealed)
		})
	})

	t.Run("getting a missing provider is ErrNotFound", func(t *testing.T) {
		s, _ := fresh(t, newStore)
		_, err := s.GetProvider(t.Context(), uid("missing"))
		assertErrIs(t, "GetProvider", err, store.ErrNotFound)
	})

	t.Run("a deleted provider is gone and deleting it again is ErrNotFound", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		p := newProvider(clock)
		if err := s.CreateProvider(t.Context(), p); err != nil {
			t.Fatalf("CreateProvider: %v", err)
		}
		if err := s.DeleteProvider(t.Context(), p.ID); err != nil {
			t.Fatalf("DeleteProvider: %v", err)
		}
		_, err := s.GetProvider(t.Context(), p.ID)
		assertErrIs(t, "GetProvider after delete", err, store.ErrNotFound)
		assertErrIs(t, "second DeleteProvider", s.DeleteProvider(t.Context(), p.ID), store.ErrNotFound)
		if err := s.CreateProvider(t.Context(), p); err != nil {
			t.Fatalf("CreateProvider after delete: %v", err)
		}
	})

	t.Run("listing providers returns every record ordered by id", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		list, err := s.ListProviders(t.Context())
		if err != nil || len(list) != 0 {
			t.Fatalf("ListProviders on an empty store = %d records, %v; want none", len(list), err)
		}
		want := map[string]store.ProviderRecord{}
		var ids []string
		for range 5 {
			p := newProvider(clock)
			if err := s.CreateProvider(t.Context(), p); err != nil {
				t.Fatalf("CreateProvider: %v", err)
			}
			want[p.ID] = p
			ids = append(ids, p.ID)
		}
		sort.Strings(ids)
		list, err = s.ListProviders(t.Context())
		if err != nil {
			t.Fatalf("ListProviders: %v", err)
		}
		var got []string
		for _, p := range list {
			got = append(got, p.ID)
			assertProvider(t, p, want[p.ID])
		}
		if !slices.Equal(got, ids) {
			t.Errorf("ids = %q, want %q", got, ids)
		}
	})
}
