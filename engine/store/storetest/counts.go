package storetest

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/authengine/authengine/engine/store"
)

// counterOf returns s as a store.ConnectionCounter, skipping the test when
// the backend does not keep counts (or not in this deployment).
func counterOf(t *testing.T, s store.Store) store.ConnectionCounter {
	t.Helper()
	c, ok := s.(store.ConnectionCounter)
	if !ok {
		t.Skip("the backend keeps no connection counts (store.ConnectionCounter)")
	}
	if _, err := c.ConnectionCounts(t.Context()); errors.Is(err, store.ErrUnsupported) {
		t.Skipf("the backend keeps no connection counts here: %v", err)
	}
	return c
}

// recount counts the stored connections from a full listing.
func recount(t *testing.T, s store.Store) store.ConnectionCounts {
	t.Helper()
	list, _, err := s.ListConnections(t.Context(), store.ConnectionFilter{}, 0, 0)
	if err != nil {
		t.Fatalf("ListConnections: %v", err)
	}
	out := store.ConnectionCounts{}
	for _, c := range list {
		out.Add(store.CountKeyOf(c), 1)
	}
	return out
}

// assertCounts checks the kept counts against want, and against a count of
// a full listing.
func assertCounts(t *testing.T, s store.Store, c store.ConnectionCounter, want store.ConnectionCounts) {
	t.Helper()
	got, err := c.ConnectionCounts(t.Context())
	if err != nil {
		t.Fatalf("ConnectionCounts: %v", err)
	}
	if !maps.Equal(got, want) {
		t.Errorf("ConnectionCounts = %v, want %v", got, want)
	}
	if listed := recount(t, s); !maps.Equal(got, listed) {
		t.Errorf("ConnectionCounts = %v, but the listing counts %v", got, listed)
	}
}

// setStatus rewrites a connection's status.
func setStatus(t *testing.T, s store.Store, id string, status store.ConnectionStatus) {
	t.Helper()
	_, err := s.UpdateConnection(t.Context(), id, func(c store.Connection, exists bool) (store.Connection, error) {
		if !exists {
			return c, fmt.Errorf("connection %s is missing", id)
		}
		c.Status = status
		return c, nil
	})
	if err != nil {
		t.Fatalf("UpdateConnection(%s, %s): %v", id, status, err)
	}
}

func runCounts(t *testing.T, newStore NewStore) {
	t.Run("counts follow creates, status changes, rewrites and deletes", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		c := counterOf(t, s)
		assertCounts(t, s, c, store.ConnectionCounts{})

		a := putConnection(t, s, connectionFor(clock, "p1", uid("user")))
		b := putConnection(t, s, connectionFor(clock, "p1", uid("user")))
		svc := putConnection(t, s, connectionFor(clock, "p1", "")) // a service token counts too
		r := connectionFor(clock, "p2", uid("user"))
		r.Status = store.ConnectionNeedsReauth
		r = putConnection(t, s, r)
		assertCounts(t, s, c, store.ConnectionCounts{
			{ProviderID: "p1", Status: store.ConnectionConnected}:                2,
			{ProviderID: "p1", Status: store.ConnectionConnected, Service: true}: 1,
			{ProviderID: "p2", Status: store.ConnectionNeedsReauth}:              1,
		})

		setStatus(t, s, a.ID, store.ConnectionExpired)
		setStatus(t, s, r.ID, store.ConnectionConnected)
		setStatus(t, s, b.ID, store.ConnectionConnected) // no change of status: no change of count
		assertCounts(t, s, c, store.ConnectionCounts{
			{ProviderID: "p1", Status: store.ConnectionConnected}:                1,
			{ProviderID: "p1", Status: store.ConnectionExpired}:                  1,
			{ProviderID: "p1", Status: store.ConnectionConnected, Service: true}: 1,
			{ProviderID: "p2", Status: store.ConnectionConnected}:                1,
		})

		// A write fn refuses changes nothing.
		_, err := s.UpdateConnection(t.Context(), b.ID, func(c store.Connection, _ bool) (store.Connection, error) {
			return c, errors.New("refused")
		})
		if err == nil {
			t.Fatal("UpdateConnection: fn's error was not returned")
		}
		if err := s.DeleteConnection(t.Context(), svc.ID); err != nil {
			t.Fatalf("DeleteConnection: %v", err)
		}
		if err := s.DeleteConnection(t.Context(), svc.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second DeleteConnection = %v, want ErrNotFound", err)
		}
		ev := store.Event{ID: store.NewEventID(clock.Now()), Key: r.ID, Type: "connection.deleted", Payload: []byte(`{}`), Status: store.EventPending, NextAttemptAt: clock.Now()}
		if err := s.DeleteConnectionEvents(t.Context(), r.ID, []store.Event{ev}); err != nil {
			t.Fatalf("DeleteConnectionEvents: %v", err)
		}
		assertCounts(t, s, c, store.ConnectionCounts{
			{ProviderID: "p1", Status: store.ConnectionConnected}: 1,
			{ProviderID: "p1", Status: store.ConnectionExpired}:   1,
		})
	})

	t.Run("deleting every connection of a provider leaves no count for it", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		c := counterOf(t, s)
		var ids []string
		for i := range 12 {
			conn := connectionFor(clock, "doomed", uid("user"))
			conn.Status = store.ConnectionStatuses[i%len(store.ConnectionStatuses)]
			ids = append(ids, putConnection(t, s, conn).ID)
		}
		keep := putConnection(t, s, connectionFor(clock, "kept", uid("user")))
		for _, id := range ids {
			ev := store.Event{ID: store.NewEventID(clock.Now()), Key: id, Type: "connection.deleted", Payload: []byte(`{}`), Status: store.EventPending, NextAttemptAt: clock.Now()}
			if err := s.DeleteConnectionEvents(t.Context(), id, []store.Event{ev}); err != nil {
				t.Fatalf("DeleteConnectionEvents(%s): %v", id, err)
			}
		}
		assertCounts(t, s, c, store.ConnectionCounts{{ProviderID: "kept", Status: store.ConnectionConnected}: 1})
		list, total, err := s.ListConnections(t.Context(), store.ConnectionFilter{ProviderID: "doomed"}, 0, 0)
		if err != nil || total != 0 || len(list) != 0 {
			t.Errorf("ListConnections(doomed) = %d records, total %d, %v; want none", len(list), total, err)
		}
		if list, _, _ := s.ListConnections(t.Context(), store.ConnectionFilter{ProviderID: "kept"}, 0, 0); len(list) != 1 || list[0].ID != keep.ID {
			t.Errorf("ListConnections(kept) = %v, want only %s", list, keep.ID)
		}
	})

	t.Run("filtered listings page by provider and status in id order", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		providers := []string{"pa", "pb", "pc"}
		var all []store.Connection
		for i := range 60 {
			conn := connectionFor(clock, providers[i%3], fmt.Sprintf("user-%02d", i%20))
			conn.Status = store.ConnectionStatuses[(i/3)%len(store.ConnectionStatuses)]
			if i%7 == 0 {
				conn.Account = "work"
				conn.ID = store.IDOf(conn)
			}
			all = append(all, putConnection(t, s, conn))
		}
		// Move some, so the indexes must follow status changes.
		for i := 0; i < len(all); i += 5 {
			all[i].Status = store.ConnectionRevoked
			setStatus(t, s, all[i].ID, store.ConnectionRevoked)
		}
		slices.SortFunc(all, func(a, b store.Connection) int { return strings.Compare(a.ID, b.ID) })
		filters := []store.ConnectionFilter{
			{ProviderID: "pa"},
			{Status: store.ConnectionRevoked},
			{ProviderID: "pb", Status: store.ConnectionNeedsReauth},
			{ProviderID: "pc", UserID: "user-02"},
			{Status: store.ConnectionConnected, Account: "work"},
			{ProviderID: "nobody"},
			{},
		}
		for _, f := range filters {
			var want []string
			for _, c := range all {
				if f.Match(c) {
					want = append(want, c.ID)
				}
			}
			for _, page := range [][2]int{{0, 0}, {0, 3}, {2, 4}, {len(want) - 1, 5}, {len(want) + 3, 2}} {
				off, lim := max(page[0], 0), page[1]
				list, total, err := s.ListConnections(t.Context(), f, off, lim)
				if err != nil {
					t.Fatalf("ListConnections(%+v, %d, %d): %v", f, off, lim, err)
				}
				end := len(want)
				if lim > 0 {
					end = min(off+lim, len(want))
				}
				var wantPage []string
				if off < len(want) {
					wantPage = want[off:end]
				}
				var got []string
				for _, c := range list {
					got = append(got, c.ID)
					if !f.Match(c) {
						t.Errorf("ListConnections(%+v): %s does not match the filter", f, c.ID)
					}
				}
				if total != len(want) || !slices.Equal(got, wantPage) {
					t.Errorf("ListConnections(%+v, %d, %d) = %v total %d, want %v total %d", f, off, lim, got, total, wantPage, len(want))
				}
			}
		}
	})
}

// runCountsConcurrency: writers create, move and delete connections while
// a reader pages through a filtered listing; the counts end exact and
// every page holds exactly the connections that never changed.
func runCountsConcurrency(t *testing.T, newStore NewStore) {
	s, clock := fresh(t, newStore)
	c := counterOf(t, s)

	// The stable set: needs_reauth at "hot", never written again.
	var stable []string
	for range 15 {
		conn := connectionFor(clock, "hot", uid("user"))
		conn.Status = store.ConnectionNeedsReauth
		stable = append(stable, putConnection(t, s, conn).ID)
	}
	slices.Sort(stable)

	// Writers churn other connections of "hot" and "cold" between the
	// other statuses, creating and deleting as they go.
	others := []store.ConnectionStatus{store.ConnectionConnected, store.ConnectionExpired, store.ConnectionRevoked}
	var pool []store.Connection
	for i := range 30 {
		pool = append(pool, connectionFor(clock, []string{"hot", "cold"}[i%2], uid("user")))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for range 60 {
				conn := pool[rng.IntN(len(pool))]
				var err error
				if rng.IntN(4) == 0 {
					err = s.DeleteConnection(t.Context(), conn.ID)
					if errors.Is(err, store.ErrNotFound) {
						err = nil
					}
				} else {
					status := others[rng.IntN(len(others))]
					for range casAttempts {
						_, err = s.UpdateConnection(t.Context(), conn.ID, func(cur store.Connection, exists bool) (store.Connection, error) {
							if !exists {
								cur = conn
							}
							cur.Status = status
							return cur, nil
						})
						if !errors.Is(err, store.ErrConflict) {
							break
						}
					}
				}
				if err != nil {
					t.Errorf("writer: %v", err)
					return
				}
			}
		}()
	}
	var reads sync.WaitGroup
	reads.Add(1)
	go func() {
		defer reads.Done()
		f := store.ConnectionFilter{ProviderID: "hot", Status: store.ConnectionNeedsReauth}
		for {
			select {
			case <-stop:
				return
			default:
			}
			var got []string
			for off := 0; off < len(stable)+4; off += 4 {
				list, total, err := s.ListConnections(t.Context(), f, off, 4)
				if err != nil {
					t.Errorf("ListConnections: %v", err)
					return
				}
				if total != len(stable) {
					t.Errorf("ListConnections(%+v) total = %d, want %d", f, total, len(stable))
				}
				for _, c := range list {
					got = append(got, c.ID)
				}
			}
			if !slices.Equal(got, stable) {
				t.Errorf("paging ListConnections(%+v) gave %v, want %v", f, got, stable)
				return
			}
			list, _, err := s.ListConnections(t.Context(), store.ConnectionFilter{ProviderID: "hot"}, 0, 0)
			if err != nil {
				t.Errorf("ListConnections(hot): %v", err)
				return
			}
			for _, c := range list {
				if c.ProviderID != "hot" {
					t.Errorf("ListConnections(hot) returned %s of %s", c.ID, c.ProviderID)
				}
			}
		}
	}()
	wg.Wait()
	close(stop)
	reads.Wait()
	got, err := c.ConnectionCounts(t.Context())
	if err != nil {
		t.Fatalf("ConnectionCounts: %v", err)
	}
	if listed := recount(t, s); !maps.Equal(got, listed) {
		t.Errorf("after concurrent writes ConnectionCounts = %v, but the listing counts %v", got, listed)
	}
}
