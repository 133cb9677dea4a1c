package bolt

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authengine/authengine/engine/store"
)

// TestAttack_StoreFileNeverShrinks: a burst of large records (200
// authorizations with 500 kB ids made a 123 MB file) leaves a bbolt file
// at its largest size for good, even once the records are gone. Compact
// gives the space back and keeps every record that remains.
func TestAttack_StoreFileNeverShrinks(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "authengine.db")
	now := time.Now().UTC().Truncate(time.Millisecond)
	s := mustOpen(t, path, Options{Now: func() time.Time { return now }})
	blob := bytes.Repeat([]byte("s"), 32<<10)
	const total, kept = 300, 5
	id := func(i int) string { return store.ConnectionID("hooli", fmt.Sprintf("user-%03d", i)) }
	for i := range total {
		_, err := s.UpdateConnection(ctx, id(i), func(store.Connection, bool) (store.Connection, error) {
			return store.Connection{ID: id(i), UserID: fmt.Sprintf("user-%03d", i), ProviderID: "hooli", Status: store.ConnectionConnected, Sealed: blob, CreatedAt: now, UpdatedAt: now}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := kept; i < total; i++ {
		if err := s.DeleteConnection(ctx, id(i)); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("a file in use is refused, named, and left as it was", func(t *testing.T) {
		before, _ := os.ReadFile(path)
		_, err := Compact(ctx, path)
		if err == nil || !strings.Contains(err.Error(), "stop it first") {
			t.Fatalf("Compact of a file in use = %v, want an error saying to stop the engine", err)
		}
		after, _ := os.ReadFile(path)
		if !bytes.Equal(before, after) {
			t.Fatal("the file changed")
		}
		if _, err := os.Stat(path + ".compact"); !os.IsNotExist(err) {
			t.Fatalf("a copy was left behind: %v", err)
		}
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	res, err := Compact(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if res.After != info.Size() || res.Before <= res.After {
		t.Fatalf("sizes %+v, file now %d bytes", res, info.Size())
	}
	if res.After*10 > res.Before {
		t.Fatalf("compacted %d → %d bytes, want under a tenth (%d of %d records remain)", res.Before, res.After, kept, total)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("compacted file has mode %v, want 0600", info.Mode().Perm())
	}
	if _, err := os.Stat(path + ".compact"); !os.IsNotExist(err) {
		t.Fatalf("the copy was left behind: %v", err)
	}
	if problems, err := Check(ctx, path); err != nil || len(problems) > 0 {
		t.Fatalf("check after compact: %v %v", problems, err)
	}
	s = mustOpen(t, path, Options{Now: func() time.Time { return now }})
	defer s.Close()
	conns, n, err := s.ListConnections(ctx, store.ConnectionFilter{}, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if n != kept {
		t.Fatalf("%d connections after compact, want %d", n, kept)
	}
	for _, c := range conns {
		if !bytes.Equal(c.Sealed, blob) || c.Version != 1 || !c.CreatedAt.Equal(now) {
			t.Fatalf("connection %s changed: version %d, created %v, %d sealed bytes", c.ID, c.Version, c.CreatedAt, len(c.Sealed))
		}
	}
	// Writes after compact work as before.
	_, err = s.UpdateConnection(ctx, id(0), func(c store.Connection, exists bool) (store.Connection, error) {
		if !exists {
			t.Fatal("the first connection is gone")
		}
		c.Status = store.ConnectionNeedsReauth
		return c, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCompactOfAMissingFileIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.db")
	if _, err := Compact(t.Context(), path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Compact of a missing file = %v, want an error naming it", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("Compact created the file")
	}
}
