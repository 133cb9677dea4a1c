package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/authengine/authengine/engine/store"
)

// feedRecorder collects what a store.ConnectionFeed tells one watcher.
type feedRecorder struct {
	ids chan string
	ups chan bool
}

// watchFeed registers a recorder with s's connection feed; the suite fails
// a store that has none. The watch is cancelled when the test ends unless
// the caller cancels it first.
func watchFeed(t *testing.T, s store.Store) (*feedRecorder, func()) {
	t.Helper()
	feed, ok := s.(store.ConnectionFeed)
	if !ok {
		t.Fatalf("%T does not implement store.ConnectionFeed", s)
	}
	r := &feedRecorder{ids: make(chan string, 4096), ups: make(chan bool, 64)}
	cancel := feed.WatchConnections(func(id string) {
		select {
		case r.ids <- id:
		default:
			t.Errorf("feed recorder: more than %d announcements unread", cap(r.ids))
		}
	}, func(up bool) {
		select {
		case r.ups <- up:
		default:
			t.Errorf("feed recorder: more than %d state changes unread", cap(r.ups))
		}
	})
	t.Cleanup(cancel)
	return r, cancel
}

// waitUp waits until the feed reports itself up.
func (r *feedRecorder) waitUp(t *testing.T) {
	t.Helper()
	deadline := time.After(deliverWithin)
	for {
		select {
		case up := <-r.ups:
			if up {
				return
			}
		case <-deadline:
			t.Fatalf("the connection feed was not up within %v", deliverWithin)
		}
	}
}

// expectID waits for the announcement of id (others are skipped).
func (r *feedRecorder) expectID(t *testing.T, what, id string) {
	t.Helper()
	deadline := time.After(deliverWithin)
	for {
		select {
		case got := <-r.ids:
			if got == id {
				return
			}
		case <-deadline:
			t.Fatalf("%s: connection %s was not announced within %v", what, id, deliverWithin)
		}
	}
}

// expectNone fails if id is announced within quietFor.
func (r *feedRecorder) expectNone(t *testing.T, what, id string) {
	t.Helper()
	deadline := time.After(quietFor)
	for {
		select {
		case got := <-r.ids:
			if got == id {
				t.Fatalf("%s: connection %s was announced, want no announcement", what, id)
			}
		case <-deadline:
			return
		}
	}
}

func runFeed(t *testing.T, newStore NewStore) {
	t.Run("the feed's state is reported before the watch returns, then up", func(t *testing.T) {
		s, _ := fresh(t, newStore)
		r, _ := watchFeed(t, s)
		if len(r.ups) == 0 {
			t.Fatal("WatchConnections returned without reporting the feed's state")
		}
		r.waitUp(t)
	})

	t.Run("every kind of connection write is announced once it is readable", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		r, _ := watchFeed(t, s)
		r.waitUp(t)
		c := connectionFor(clock, uid("prov"), uid("user"))
		ctx := t.Context()

		// readable checks what GetConnection returns once the write was
		// announced: the version written, or nothing after a delete.
		readable := func(what string, version uint64) {
			t.Helper()
			r.expectID(t, what, c.ID)
			got, err := s.GetConnection(ctx, c.ID)
			if version == 0 {
				if !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("%s: GetConnection after the announcement = %v, %v; want ErrNotFound", what, got.Version, err)
				}
				return
			}
			if err != nil || got.Version < version {
				t.Fatalf("%s: GetConnection after the announcement = version %d, %v; want version %d", what, got.Version, err, version)
			}
		}

		v := putConnection(t, s, c).Version
		readable("create", v)
		up, err := s.UpdateConnectionEvents(ctx, c.ID, []store.Event{newEvent(clock, c.ID, "connection.refreshed")}, func(cur store.Connection, _ bool) (store.Connection, error) {
			cur.Sealed = randomBytes(64)
			return cur, nil
		})
		if err != nil {
			t.Fatalf("UpdateConnectionEvents: %v", err)
		}
		readable("update with events", up.Version)
		up, err = s.UpdateConnection(ctx, c.ID, func(cur store.Connection, _ bool) (store.Connection, error) {
			cur.Status = store.ConnectionNeedsReauth
			cur.Sealed = nil
			return cur, nil
		})
		if err != nil {
			t.Fatalf("UpdateConnection (status): %v", err)
		}
		readable("status change", up.Version)
		if err := s.DeleteConnectionEvents(ctx, c.ID, []store.Event{newEvent(clock, c.ID, "connection.deleted")}); err != nil {
			t.Fatalf("DeleteConnectionEvents: %v", err)
		}
		readable("delete with events", 0)
		v = putConnection(t, s, c).Version
		readable("create again", v)
		if err := s.DeleteConnection(ctx, c.ID); err != nil {
			t.Fatalf("DeleteConnection: %v", err)
		}
		readable("delete", 0)
	})

	t.Run("every watcher hears every write, until it cancels", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		a, cancelA := watchFeed(t, s)
		b, _ := watchFeed(t, s)
		a.waitUp(t)
		b.waitUp(t)
		c := putConnection(t, s, connectionFor(clock, uid("prov"), uid("user")))
		a.expectID(t, "first watcher", c.ID)
		b.expectID(t, "second watcher", c.ID)
		cancelA()
		putConnection(t, s, c)
		b.expectID(t, "second watcher after the first cancelled", c.ID)
		a.expectNone(t, "cancelled watcher", c.ID)
	})
}
