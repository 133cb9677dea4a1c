package bolt

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/storetest"
)

// openTemp opens a store on a fresh file in t.TempDir, closed at cleanup.
func openTemp(t testing.TB, now func() time.Time) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "data", "authengine.db"), Options{Now: now})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func newStore(t *testing.T, now func() time.Time) store.Store { return openTemp(t, now) }

func TestConformance(t *testing.T) { storetest.Run(t, newStore) }

func TestConcurrency(t *testing.T) { storetest.RunConcurrency(t, newStore) }
