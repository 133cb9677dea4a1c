package redis_test

import (
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/redis"
)

// Connections written before the store kept counts are counted by the
// first ConnectionCounts, even while other writers keep writing: the
// build and the writes retry around each other, and the counts end equal
// to a count of the records.
func TestCountsAreBuiltForDataWrittenBeforeThemUnderConcurrentWrites(t *testing.T) {
	ctx := t.Context()
	old, client, prefix := newStore(t, time.Now)
	put := func(s *redis.Store, provider, user string, status store.ConnectionStatus) error {
		c := store.Connection{UserID: user, ProviderID: provider, Status: status, ExpiresAt: time.Now().Add(time.Hour)}
		c.ID = store.IDOf(c)
		var err error
		for range 20 {
			_, err = s.UpdateConnection(ctx, c.ID, func(store.Connection, bool) (store.Connection, error) { return c, nil })
			if !errors.Is(err, store.ErrConflict) {
				break
			}
		}
		return err
	}
	// Written with no count kept yet (nobody asked for one on this prefix).
	for i := range 300 {
		if err := put(old, fmt.Sprintf("p%d", i%7), fmt.Sprintf("u%d", i), store.ConnectionStatuses[i%4]); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := client.Exists(ctx, prefix+"conncounts:built").Result(); err != nil || n != 0 {
		t.Fatalf("the counts exist before anyone counted (%d, %v)", n, err)
	}

	fresh := redis.New(client, redis.Options{KeyPrefix: prefix})
	t.Cleanup(func() { _ = fresh.Close() })

	// A write that saw no counts, and commits after the build did, must
	// not go uncounted: it is held inside its transaction while the build
	// runs.
	moved := store.Connection{UserID: "u0", ProviderID: "p0"}
	moved.ID = store.IDOf(moved)
	inFn, built := make(chan struct{}), make(chan struct{})
	var once sync.Once
	held := make(chan error, 1)
	go func() {
		_, err := old.UpdateConnection(ctx, moved.ID, func(c store.Connection, _ bool) (store.Connection, error) {
			once.Do(func() { close(inFn); <-built })
			c.Status = store.ConnectionRevoked
			return c, nil
		})
		held <- err
	}()
	<-inFn
	if _, err := fresh.ConnectionCounts(ctx); err != nil {
		t.Fatalf("ConnectionCounts: %v", err)
	}
	close(built)
	if err := <-held; err != nil {
		t.Fatalf("the held write: %v", err)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				if err := put(old, fmt.Sprintf("p%d", i%7), fmt.Sprintf("u%d", i*4+w), store.ConnectionStatuses[(i+w)%4]); err != nil {
					t.Errorf("writer: %v", err)
					return
				}
				if i%5 == 0 {
					c := store.Connection{UserID: fmt.Sprintf("u%d", i*4+w+1), ProviderID: fmt.Sprintf("p%d", (i+1)%7)}
					if err := old.DeleteConnection(ctx, store.IDOf(c)); err != nil && !errors.Is(err, store.ErrNotFound) {
						t.Errorf("delete: %v", err)
						return
					}
				}
			}
		}()
	}
	if _, err := fresh.ConnectionCounts(ctx); err != nil {
		t.Fatalf("ConnectionCounts during the writes: %v", err)
	}
	wg.Wait()
	got, err := fresh.ConnectionCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	list, _, err := fresh.ListConnections(ctx, store.ConnectionFilter{}, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := store.ConnectionCounts{}
	for _, c := range list {
		want.Add(store.CountKeyOf(c), 1)
	}
	if !maps.Equal(got, want) {
		t.Fatalf("ConnectionCounts = %v, records count %v", got, want)
	}
	for _, f := range []store.ConnectionFilter{{ProviderID: "p3"}, {Status: store.ConnectionExpired}, {ProviderID: "p1", Status: store.ConnectionRevoked}} {
		n := 0
		for _, c := range list {
			if f.Match(c) {
				n++
			}
		}
		if page, total, err := fresh.ListConnections(ctx, f, 0, 0); err != nil || total != n || len(page) != n {
			t.Errorf("ListConnections(%+v) = %d records, total %d, %v; want %d", f, len(page), total, err, n)
		}
	}
}

// TestRebuildAfterTheMarkerIsDeletedDropsStaleIndexEntries: deleting the
// counts marker makes the next store build the counts and indexes again,
// from nothing: an index entry for a connection that is gone, or for a
// state it has left, does not survive the rebuild (before, a listing by
// that status failed on the entry naming a missing record).
func TestRebuildAfterTheMarkerIsDeletedDropsStaleIndexEntries(t *testing.T) {
	ctx := t.Context()
	s, client, prefix := newStore(t, time.Now)
	c := store.Connection{UserID: "ada", ProviderID: "hooli", Status: store.ConnectionConnected, ExpiresAt: time.Now().Add(time.Hour)}
	c.ID = store.IDOf(c)
	if _, err := s.UpdateConnection(ctx, c.ID, func(store.Connection, bool) (store.Connection, error) { return c, nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConnectionCounts(ctx); err != nil { // builds them
		t.Fatal(err)
	}
	// Damage: entries naming a connection that does not exist, and the
	// live connection in a status it is not in.
	for _, key := range []string{prefix + "conns:s:revoked", prefix + "conns:p:hooli", prefix + "conns:all"} {
		if err := client.ZAdd(ctx, key, goredis.Z{Member: "no-such-connection"}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := client.ZAdd(ctx, prefix+"conns:s:expired", goredis.Z{Member: c.ID}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := client.Del(ctx, prefix+"conncounts:built").Err(); err != nil {
		t.Fatal(err)
	}

	rebuilt := redis.New(client, redis.Options{KeyPrefix: prefix})
	t.Cleanup(func() { _ = rebuilt.Close() })
	counts, err := rebuilt.ConnectionCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.ConnectionCounts{store.CountKeyOf(c): 1}); !maps.Equal(counts, want) {
		t.Errorf("counts after the rebuild %v, want %v", counts, want)
	}
	for _, f := range []struct {
		filter store.ConnectionFilter
		want   int
	}{
		{store.ConnectionFilter{Status: store.ConnectionRevoked}, 0},
		{store.ConnectionFilter{Status: store.ConnectionExpired}, 0},
		{store.ConnectionFilter{ProviderID: "hooli"}, 1},
		{store.ConnectionFilter{}, 1},
	} {
		page, total, err := rebuilt.ListConnections(ctx, f.filter, 0, 0)
		if err != nil || total != f.want || len(page) != f.want {
			t.Errorf("ListConnections(%+v) after the rebuild: %d records, total %d, %v; want %d", f.filter, len(page), total, err, f.want)
		}
	}
}
