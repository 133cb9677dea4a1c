package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/authengine/authengine/engine/store"
)

// connectionFor returns a connected record for (providerID, userID) whose
// access token expires in an hour.
func connectionFor(clock *Clock, providerID, userID string) store.Connection {
	c := store.Connection{
		UserID:     userID,
		ProviderID: providerID,
		Status:     store.ConnectionConnected,
		Scopes:     []string{"repo", "user:email"},
		ExpiresAt:  clock.Now().Add(time.Hour),
		Sealed:     randomBytes(256),
	}
	c.ID = store.IDOf(c) // a service token's (empty user) id follows its scopes
	return c
}

// listCase is one ListConnections call and the ids and total it must give.
type listCase struct {
	name          string
	filter        store.ConnectionFilter
	offset, limit int
	want          []string
	total         int
}

// putConnection creates or replaces c through UpdateConnection.
func putConnection(t *testing.T, s store.Store, c store.Connection) store.Connection {
	t.Helper()
	got, err := s.UpdateConnection(t.Context(), c.ID, func(store.Connection, bool) (store.Connection, error) {
		return c, nil
	})
	if err != nil {
		t.Fatalf("UpdateConnection(%s): %v", c.ID, err)
	}
	return got
}

// assertConnection compares the fields a caller sets (not Version or the
// store-set timestamps).
func assertConnection(t *testing.T, got, want store.Connection) {
	t.Helper()
	if got.ID != want.ID || got.UserID != want.UserID || got.ProviderID != want.ProviderID || got.Status != want.Status {
		t.Errorf("connection fields differ:\n got %+v\nwant %+v", got, want)
	}
	if !slices.Equal(got.Scopes, want.Scopes) {
		t.Errorf("Scopes = %q, want %q", got.Scopes, want.Scopes)
	}
	if !bytes.Equal(got.Sealed, want.Sealed) {
		t.Errorf("Sealed differs: got %d bytes, want %d bytes", len(got.Sealed), len(want.Sealed))
	}
	assertTime(t, "ExpiresAt", got.ExpiresAt, want.ExpiresAt)
}

func runConnections(t *testing.T, newStore NewStore) {
	t.Run("the first update creates the connection at version 1", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		want := connectionFor(clock, "github", uid("user"))
		var sawExists bool
		var seen store.Connection
		got, err := s.UpdateConnection(t.Context(), want.ID, func(c store.Connection, exists bool) (store.Connection, error) {
			seen, sawExists = c, exists
			return want, nil
		})
		if err != nil {
			t.Fatalf("UpdateConnection: %v", err)
		}
		if sawExists {
			t.Error("fn was told the connection exists before it was created")
		}
		if seen.ID != "" || seen.Version != 0 || len(seen.Sealed) != 0 {
			t.Errorf("fn received %+v for a missing connection, want the zero Connection", seen)
		}
		assertConnection(t, got, want)
		if got.Version != 1 {
			t.Errorf("Version = %d, want 1", got.Version)
		}
		assertTime(t, "CreatedAt", got.CreatedAt, clock.Now())
		assertTime(t, "UpdatedAt", got.UpdatedAt, clock.Now())
		read, err := s.GetConnection(t.Context(), want.ID)
		if err != nil {
			t.Fatalf("GetConnection: %v", err)
		}
		assertConnection(t, read, want)
		if read.Version != 1 {
			t.Errorf("read Version = %d, want 1", read.Version)
		}
		assertTime(t, "read CreatedAt", read.CreatedAt, clock.Now())
	})

	t.Run("a second update sees the record, bumps the version and keeps CreatedAt", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		first := putConnection(t, s, connectionFor(clock, "github", uid("user")))
		created := clock.Now()
		clock.Advance(time.Minute)
		var sawExists bool
		var seen store.Connection
		got, err := s.UpdateConnection(t.Context(), first.ID, func(c store.Connection, exists bool) (store.Connection, error) {
			seen, sawExists = c, exists
			c.Status = store.ConnectionNeedsReauth
			c.Sealed = nil
			c.ExpiresAt = time.Time{}
			c.CreatedAt = time.Time{} // the store keeps the original
			c.Version = 99            // the store sets the version
			return c, nil
		})
		if err != nil {
			t.Fatalf("UpdateConnection: %v", err)
		}
		if !sawExists {
			t.Error("fn was told an existing connection does not exist")
		}
		assertConnection(t, seen, first)
		if seen.Version != 1 {
			t.Errorf("fn saw Version %d, want 1", seen.Version)
		}
		for name, c := range map[string]store.Connection{"returned": got, "read": mustGetConnection(t, s, first.ID)} {
			if c.Version != 2 {
				t.Errorf("%s Version = %d, want 2", name, c.Version)
			}
			if c.Status != store.ConnectionNeedsReauth || len(c.Sealed) != 0 || !c.ExpiresAt.IsZero() {
				t.Errorf("%s connection = %+v, want needs_reauth with no tokens and no expiry", name, c)
			}
			assertTime(t, name+" CreatedAt", c.CreatedAt, created)
			assertTime(t, name+" UpdatedAt", c.UpdatedAt, clock.Now())
		}
	})

	t.Run("an error from the connection update fn is returned and nothing changes", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		before := putConnection(t, s, connectionFor(clock, "github", uid("user")))
		errAbort := errors.New("abort this update")
		_, err := s.UpdateConnection(t.Context(), before.ID, func(c store.Connection, _ bool) (store.Connection, error) {
			c.Status = store.ConnectionNeedsReauth
			return c, errAbort
		})
		assertErrIs(t, "UpdateConnection", err, errAbort)
		after := mustGetConnection(t, s, before.ID)
		assertConnection(t, after, before)
		if after.Version != before.Version {
			t.Errorf("Version moved from %d to %d on an aborted update", before.Version, after.Version)
		}
	})

	t.Run("an error from fn on a missing connection creates nothing", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		c := connectionFor(clock, "github", uid("user"))
		_, err := s.UpdateConnection(t.Context(), c.ID, func(_ store.Connection, exists bool) (store.Connection, error) {
			return c, store.ErrNotFound
		})
		assertErrIs(t, "UpdateConnection", err, store.ErrNotFound)
		_, err = s.GetConnection(t.Context(), c.ID)
		assertErrIs(t, "GetConnection", err, store.ErrNotFound)
	})

	t.Run("an update whose result has another id is refused", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		c := connectionFor(clock, "github", uid("user"))
		other := connectionFor(clock, "github", uid("user"))
		_, err := s.UpdateConnection(t.Context(), c.ID, func(store.Connection, bool) (store.Connection, error) {
			return other, nil
		})
		if err == nil {
			t.Fatal("UpdateConnection stored a record under an id other than the one asked for")
		}
		for _, id := range []string{c.ID, other.ID} {
			_, err := s.GetConnection(t.Context(), id)
			assertErrIs(t, "GetConnection", err, store.ErrNotFound)
		}
	})

	t.Run("getting a missing connection is ErrNotFound", func(t *testing.T) {
		s, _ := fresh(t, newStore)
		_, err := s.GetConnection(t.Context(), store.ConnectionID("github", uid("nobody")))
		assertErrIs(t, "GetConnection", err, store.ErrNotFound)
	})

	t.Run("a connection whose access token expired is still readable", func(t *testing.T) {
		// Connection.ExpiresAt is the token's expiry, not the record's: the
		// engine refreshes such a token, so the record must stay.
		s, clock := fresh(t, newStore)
		c := putConnection(t, s, connectionFor(clock, "github", uid("user")))
		clock.Advance(48 * time.Hour)
		got := mustGetConnection(t, s, c.ID)
		assertConnection(t, got, c)
	})

	t.Run("a service connection with an empty user id round-trips", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		c := connectionFor(clock, uid("service"), "")
		putConnection(t, s, c)
		assertConnection(t, mustGetConnection(t, s, c.ID), c)
	})

	t.Run("service tokens of one provider for different scope sets are different records", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		p := uid("service")
		a := connectionFor(clock, p, "")
		b := connectionFor(clock, p, "")
		b.Scopes = []string{"admin"}
		b.ID = store.IDOf(b)
		if a.ID == b.ID {
			t.Fatal("two scope sets share one service token id")
		}
		if a.ID != store.ServiceConnectionID(p, []string{"user:email", "repo", "repo"}) {
			t.Fatal("a service token's id depends on the order or repeats of its scopes")
		}
		putConnection(t, s, a)
		putConnection(t, s, b)
		assertConnection(t, mustGetConnection(t, s, a.ID), a)
		assertConnection(t, mustGetConnection(t, s, b.ID), b)
		wider := a
		wider.Scopes = append(wider.Scopes, "admin")
		_, err := s.UpdateConnection(t.Context(), a.ID, func(store.Connection, bool) (store.Connection, error) { return wider, nil })
		if err == nil {
			t.Fatal("a service token record was widened to scopes its id does not name")
		}
		legacy := connectionFor(clock, p, "")
		legacy.ID = store.ConnectionID(p, "") // one service token per provider, as stored before
		putConnection(t, s, legacy)
		assertConnection(t, mustGetConnection(t, s, legacy.ID), legacy)
	})

	t.Run("sealed bytes round-trip exactly", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		for _, n := range []int{1, 2, 31, 1024, 64 << 10} {
			c := connectionFor(clock, "github", uid("user"))
			c.Sealed = randomBytes(n)
			putConnection(t, s, c)
			if got := mustGetConnection(t, s, c.ID); !bytes.Equal(got.Sealed, c.Sealed) {
				t.Errorf("%d sealed bytes came back as %d different bytes", n, len(got.Sealed))
			}
		}
	})

	t.Run("a deleted connection is gone and deleting it again is ErrNotFound", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		c := putConnection(t, s, connectionFor(clock, "github", uid("user")))
		if err := s.DeleteConnection(t.Context(), c.ID); err != nil {
			t.Fatalf("DeleteConnection: %v", err)
		}
		_, err := s.GetConnection(t.Context(), c.ID)
		assertErrIs(t, "GetConnection after delete", err, store.ErrNotFound)
		err = s.DeleteConnection(t.Context(), c.ID)
		assertErrIs(t, "second DeleteConnection", err, store.ErrNotFound)
		again := putConnection(t, s, connectionFor(clock, c.ProviderID, c.UserID))
		if again.Version != 1 {
			t.Errorf("re-created connection has Version %d, want 1", again.Version)
		}
		list, total, err := s.ListConnections(t.Context(), store.ConnectionFilter{UserID: c.UserID}, 0, 10)
		if err != nil || total != 1 || len(list) != 1 {
			t.Errorf("ListConnections after delete and re-create = %d records, total %d, err %v; want 1, 1, nil", len(list), total, err)
		}
	})

	t.Run("deleting a missing connection is ErrNotFound", func(t *testing.T) {
		s, _ := fresh(t, newStore)
		err := s.DeleteConnection(t.Context(), store.ConnectionID("github", uid("nobody")))
		assertErrIs(t, "DeleteConnection", err, store.ErrNotFound)
	})

	t.Run("listing connections filters, orders by id, pages and counts", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		alice, bob := uid("alice"), uid("bob")
		var all []store.Connection
		for _, p := range []string{"github", "google", "slack"} {
			for _, u := range []string{alice, bob} {
				all = append(all, putConnection(t, s, connectionFor(clock, p, u)))
			}
		}
		service := putConnection(t, s, connectionFor(clock, "github", ""))
		all = append(all, service)
		ids := func(match func(store.Connection) bool) []string {
			var out []string
			for _, c := range all {
				if match(c) {
					out = append(out, c.ID)
				}
			}
			sort.Strings(out)
			return out
		}
		everything := ids(func(store.Connection) bool { return true })
		aliceIDs := ids(func(c store.Connection) bool { return c.UserID == alice })
		githubIDs := ids(func(c store.Connection) bool { return c.ProviderID == "github" })
		aliceGoogle := ids(func(c store.Connection) bool { return c.UserID == alice && c.ProviderID == "google" })

		tests := []listCase{
			{"an empty filter lists everything", store.ConnectionFilter{}, 0, 100, everything, 7},
			{"a user filter lists only that user's connections", store.ConnectionFilter{UserID: alice}, 0, 100, aliceIDs, 3},
			{"a provider filter lists only that provider's connections", store.ConnectionFilter{ProviderID: "github"}, 0, 100, githubIDs, 3},
			{"both filters must match", store.ConnectionFilter{UserID: alice, ProviderID: "google"}, 0, 100, aliceGoogle, 1},
			{"an unknown user matches nothing", store.ConnectionFilter{UserID: uid("nobody")}, 0, 100, nil, 0},
			{"the first page holds the first ids", store.ConnectionFilter{}, 0, 3, everything[0:3], 7},
			{"a middle page starts at the offset", store.ConnectionFilter{}, 3, 3, everything[3:6], 7},
			{"the last page is short", store.ConnectionFilter{}, 6, 3, everything[6:], 7},
			{"an offset past the end gives an empty page and the total", store.ConnectionFilter{}, 10, 3, nil, 7},
			{"paging applies after filtering", store.ConnectionFilter{UserID: alice}, 1, 1, aliceIDs[1:2], 3},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				list, total, err := s.ListConnections(t.Context(), tt.filter, tt.offset, tt.limit)
				if err != nil {
					t.Fatalf("ListConnections: %v", err)
				}
				var got []string
				for _, c := range list {
					got = append(got, c.ID)
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("ids = %q, want %q", got, tt.want)
				}
				if total != tt.total {
					t.Errorf("total = %d, want %d", total, tt.total)
				}
			})
		}

		t.Run("listed records carry every field", func(t *testing.T) {
			list, _, err := s.ListConnections(t.Context(), store.ConnectionFilter{UserID: alice, ProviderID: "google"}, 0, 10)
			if err != nil || len(list) != 1 {
				t.Fatalf("ListConnections = %d records, %v; want 1", len(list), err)
			}
			want := mustGetConnection(t, s, store.ConnectionID("google", alice))
			assertConnection(t, list[0], want)
			if list[0].Version != want.Version {
				t.Errorf("listed Version = %d, want %d", list[0].Version, want.Version)
			}
		})
	})

	t.Run("an empty store lists no connections", func(t *testing.T) {
		s, _ := fresh(t, newStore)
		list, total, err := s.ListConnections(t.Context(), store.ConnectionFilter{}, 0, 10)
		if err != nil || len(list) != 0 || total != 0 {
			t.Fatalf("ListConnections = %d records, total %d, err %v; want none", len(list), total, err)
		}
	})

	t.Run("filters match exactly whatever characters the values hold, and page after filtering", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		odd, lookalike, plain := uid(`a<b&c "ü"`), uid(`x","provider_id":"github`), uid("plain")
		oddConn := putConnection(t, s, connectionFor(clock, "slack", odd))
		lookConn := putConnection(t, s, connectionFor(clock, "slack", lookalike))
		putConnection(t, s, connectionFor(clock, "github", plain))
		var reauth []string
		for _, u := range []string{uid("r1"), uid("r2"), uid("r3")} {
			c := connectionFor(clock, "slack", u)
			c.Status = store.ConnectionNeedsReauth
			reauth = append(reauth, putConnection(t, s, c).ID)
		}
		sort.Strings(reauth)
		tests := []listCase{
			{"a user id with markup and quotes", store.ConnectionFilter{UserID: odd}, 0, 10, []string{oddConn.ID}, 1},
			{"a user id that reads like another field", store.ConnectionFilter{UserID: lookalike}, 0, 10, []string{lookConn.ID}, 1},
			{"a provider is not matched by a user id naming it", store.ConnectionFilter{ProviderID: "github"}, 0, 10, []string{store.ConnectionID("github", plain)}, 1},
			{"status and provider, second page of one", store.ConnectionFilter{ProviderID: "slack", Status: store.ConnectionNeedsReauth}, 1, 1, reauth[1:2], 3},
		}
		for _, tc := range tests {
			list, total, err := s.ListConnections(t.Context(), tc.filter, tc.offset, tc.limit)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			var got []string
			for _, c := range list {
				got = append(got, c.ID)
			}
			if !slices.Equal(got, tc.want) || total != tc.total {
				t.Errorf("%s: ids %v total %d; want %v total %d", tc.name, got, total, tc.want, tc.total)
			}
		}
	})
}

// mustGetConnection reads a connection or fails the test.
func mustGetConnection(t *testing.T, s store.Store, id string) store.Connection {
	t.Helper()
	c, err := s.GetConnection(t.Context(), id)
	if err != nil {
		t.Fatalf("GetConnection(%s): %v", id, err)
	}
	return c
}

// scopeOf names the scope a concurrent writer adds.
func scopeOf(i int) string { return fmt.Sprintf("s%02d", i) }
