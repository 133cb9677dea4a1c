package bolt

import (
	"encoding/binary"
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/authengine/authengine/engine/store"
)

// A file written before the store kept counts (no counts or index
// buckets) is counted and indexed when it is opened, corrupt records left
// out, and deleting the corrupt record afterwards changes no count.
func TestCountsAreBuiltForAFileWrittenBeforeThem(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "authengine.db")
	s := mustOpen(t, path, Options{})
	for i := range 9 {
		c := store.Connection{UserID: fmt.Sprintf("u%d", i), ProviderID: []string{"a", "b", "c"}[i%3], Status: store.ConnectionStatuses[i%2], ExpiresAt: time.Now().Add(time.Hour)}
		c.ID = store.IDOf(c)
		if _, err := s.UpdateConnection(ctx, c.ID, func(store.Connection, bool) (store.Connection, error) { return c, nil }); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketConnCounts, bucketConnIndex} {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketConnections).Put([]byte("corrupt"), []byte("{not a record"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s = mustOpen(t, path, Options{})
	defer s.Close()
	want := store.ConnectionCounts{
		{ProviderID: "a", Status: store.ConnectionConnected}: 2, {ProviderID: "a", Status: store.ConnectionNeedsReauth}: 1,
		{ProviderID: "b", Status: store.ConnectionConnected}: 1, {ProviderID: "b", Status: store.ConnectionNeedsReauth}: 2,
		{ProviderID: "c", Status: store.ConnectionConnected}: 2, {ProviderID: "c", Status: store.ConnectionNeedsReauth}: 1,
	}
	got, err := s.ConnectionCounts(ctx)
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("ConnectionCounts after the build = %v, %v; want %v", got, err, want)
	}
	list, total, err := s.ListConnections(ctx, store.ConnectionFilter{ProviderID: "b", Status: store.ConnectionNeedsReauth}, 0, 0)
	if err != nil || total != 2 || len(list) != 2 {
		t.Fatalf("ListConnections(b, needs_reauth) = %d records, total %d, %v; want 2", len(list), total, err)
	}
	if err := s.DeleteConnection(ctx, "corrupt"); err != nil {
		t.Fatalf("DeleteConnection(corrupt): %v", err)
	}
	if got, _ := s.ConnectionCounts(ctx); !maps.Equal(got, want) {
		t.Fatalf("ConnectionCounts after deleting the corrupt record = %v, want %v", got, want)
	}
}

// Check finds kept counts and index entries that disagree with the
// records, and Compact rebuilds them from the records.
func TestCheckFindsWrongCountsAndCompactRebuildsThem(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "authengine.db")
	s := mustOpen(t, path, Options{})
	var ids []string
	for i := range 6 {
		c := store.Connection{UserID: fmt.Sprintf("u%d", i), ProviderID: "a", Status: store.ConnectionStatuses[i%2]}
		c.ID = store.IDOf(c)
		if _, err := s.UpdateConnection(ctx, c.ID, func(store.Connection, bool) (store.Connection, error) { return c, nil }); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	want, err := s.ConnectionCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if problems, err := Check(ctx, path); err != nil || len(problems) != 0 {
		t.Fatalf("Check of a sound file = %q, %v", problems, err)
	}
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		k := store.CountKey{ProviderID: "a", Status: store.ConnectionConnected}
		if err := tx.Bucket(bucketConnCounts).Put(countKey(&k), binary.BigEndian.AppendUint64(nil, 7)); err != nil {
			return err
		}
		return tx.Bucket(bucketConnIndex).Delete(indexKeys(&k, ids[0])[0])
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := Check(ctx, path)
	if err != nil || len(problems) != 3 ||
		!strings.Contains(problems[0], `provider "a", status "connected", service false: kept 7, records 3`) ||
		!strings.Contains(problems[1], "is missing") || !strings.Contains(problems[2], "store compact") {
		t.Fatalf("Check of wrong counts = %q, %v; want the count, the missing index entry and the repair", problems, err)
	}
	if _, err := Compact(ctx, path); err != nil {
		t.Fatal(err)
	}
	if problems, err := Check(ctx, path); err != nil || len(problems) != 0 {
		t.Fatalf("Check after Compact = %q, %v; want none", problems, err)
	}
	s = mustOpen(t, path, Options{})
	defer s.Close()
	if got, err := s.ConnectionCounts(ctx); err != nil || !maps.Equal(got, want) {
		t.Fatalf("ConnectionCounts after Compact = %v, %v; want %v", got, err, want)
	}
}
