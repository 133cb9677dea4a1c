package storetest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/authengine/authengine/engine/store"
)

// runDiscovery checks the discovery records: put creates and replaces,
// get returns what was put, delete removes, missing ids are ErrNotFound.
func runDiscovery(t *testing.T, newStore NewStore) {
	t.Run("put then get returns the record and a second put replaces it", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		r := store.DiscoveryRecord{ID: uid("issuer:"), Sealed: randomBytes(40), UpdatedAt: clock.Now()}
		if err := s.PutDiscovery(t.Context(), r); err != nil {
			t.Fatalf("PutDiscovery: %v", err)
		}
		got, err := s.GetDiscovery(t.Context(), r.ID)
		if err != nil {
			t.Fatalf("GetDiscovery: %v", err)
		}
		if got.ID != r.ID || !bytes.Equal(got.Sealed, r.Sealed) || !got.UpdatedAt.Equal(r.UpdatedAt) {
			t.Fatalf("GetDiscovery = %+v, want %+v", got, r)
		}
		clock.Advance(time.Minute)
		r2 := store.DiscoveryRecord{ID: r.ID, Sealed: randomBytes(40), UpdatedAt: clock.Now()}
		if err := s.PutDiscovery(t.Context(), r2); err != nil {
			t.Fatalf("PutDiscovery (replace): %v", err)
		}
		got, err = s.GetDiscovery(t.Context(), r.ID)
		if err != nil || !bytes.Equal(got.Sealed, r2.Sealed) || !got.UpdatedAt.Equal(r2.UpdatedAt) {
			t.Fatalf("GetDiscovery after replace = %+v, %v; want the second record", got, err)
		}
	})
	t.Run("a missing record is not found for get and delete", func(t *testing.T) {
		s, _ := fresh(t, newStore)
		if _, err := s.GetDiscovery(t.Context(), uid("missing")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetDiscovery(missing) = %v, want ErrNotFound", err)
		}
		if err := s.DeleteDiscovery(t.Context(), uid("missing")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("DeleteDiscovery(missing) = %v, want ErrNotFound", err)
		}
	})
	t.Run("delete removes the record and Scan no longer yields it", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		r := store.DiscoveryRecord{ID: uid("mcp:"), Sealed: randomBytes(40), UpdatedAt: clock.Now()}
		if err := s.PutDiscovery(t.Context(), r); err != nil {
			t.Fatalf("PutDiscovery: %v", err)
		}
		if err := s.DeleteDiscovery(t.Context(), r.ID); err != nil {
			t.Fatalf("DeleteDiscovery: %v", err)
		}
		if _, err := s.GetDiscovery(t.Context(), r.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetDiscovery after delete = %v, want ErrNotFound", err)
		}
		err := s.Scan(t.Context(), func(rec store.SealedRecord) error {
			if rec.Kind == store.KindDiscovery {
				t.Errorf("Scan yielded deleted discovery record %q", rec.ID)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Scan: %v", err)
		}
	})
	t.Run("an empty id is refused", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		if err := s.PutDiscovery(t.Context(), store.DiscoveryRecord{Sealed: randomBytes(8), UpdatedAt: clock.Now()}); err == nil {
			t.Fatal("PutDiscovery with an empty id succeeded")
		}
	})
}
