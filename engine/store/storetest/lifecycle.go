package storetest

import (
	"slices"
	"sort"
	"testing"

	"github.com/authengine/authengine/engine/store"
)

// runLifecycle covers the connection-lifecycle fields: statuses and their
// filter, declined scopes, account labels, and a failed flow's kind and
// missing scopes.
func runLifecycle(t *testing.T, newStore NewStore) {
	t.Run("a failed flow keeps its error kind, missing scopes and account", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		f := newFlow(clock)
		f.Account = "work"
		mustCreateFlow(t, s, f)
		got, err := s.UpdateFlow(t.Context(), f.ID, func(cur store.Flow) (store.Flow, error) {
			cur.Status = store.FlowFailed
			cur.Error = "the provider did not grant write"
			cur.ErrorKind = "scope_not_granted"
			cur.MissingScopes = []string{"write"}
			return cur, nil
		})
		if err != nil {
			t.Fatalf("UpdateFlow: %v", err)
		}
		read, err := s.GetFlow(t.Context(), f.ID)
		if err != nil {
			t.Fatalf("GetFlow: %v", err)
		}
		for name, fl := range map[string]store.Flow{"returned": got, "read": read} {
			if fl.ErrorKind != "scope_not_granted" || !slices.Equal(fl.MissingScopes, []string{"write"}) || fl.Account != "work" {
				t.Errorf("%s flow: kind %q, missing %q, account %q; want scope_not_granted, [write], work", name, fl.ErrorKind, fl.MissingScopes, fl.Account)
			}
		}
	})

	t.Run("a connection keeps its declined scopes and account label", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		c := connectionFor(clock, "github", uid("user"))
		c.Account = "work"
		c.ID = store.IDOf(c)
		c.DeclinedScopes = []string{"admin:org"}
		putConnection(t, s, c)
		got := mustGetConnection(t, s, c.ID)
		if got.Account != "work" || !slices.Equal(got.DeclinedScopes, []string{"admin:org"}) {
			t.Errorf("read account %q declined %q, want work [admin:org]", got.Account, got.DeclinedScopes)
		}
	})

	t.Run("two accounts of one user at one provider are two records, the default keeps its id", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		user := uid("user")
		def := connectionFor(clock, "github", user)
		if def.ID != store.ConnectionID("github", user) {
			t.Fatal("the default account's id is not ConnectionID(provider, user)")
		}
		work := connectionFor(clock, "github", user)
		work.Account = "work"
		work.ID = store.IDOf(work)
		if work.ID == def.ID {
			t.Fatal("an account label does not change the connection id")
		}
		putConnection(t, s, def)
		putConnection(t, s, work)
		list, total, err := s.ListConnections(t.Context(), store.ConnectionFilter{UserID: user, ProviderID: "github"}, 0, 10)
		if err != nil || total != 2 || len(list) != 2 {
			t.Fatalf("ListConnections(user, provider) = %d records, total %d, err %v; want both accounts", len(list), total, err)
		}
		list, total, err = s.ListConnections(t.Context(), store.ConnectionFilter{UserID: user, Account: "work"}, 0, 10)
		if err != nil || total != 1 || len(list) != 1 || list[0].ID != work.ID {
			t.Fatalf("ListConnections(account work) = %v, total %d, err %v; want only the work account", list, total, err)
		}
		wrong := work
		wrong.Account = "home" // the id names "work"
		if _, err := s.UpdateConnection(t.Context(), work.ID, func(store.Connection, bool) (store.Connection, error) { return wrong, nil }); err == nil {
			t.Error("a record was stored under the id of another account label")
		}
	})

	t.Run("listing connections filters by status", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		p := uid("provider")
		want := map[store.ConnectionStatus][]string{}
		for _, status := range append(slices.Clone(store.ConnectionStatuses), store.ConnectionConnected) {
			c := connectionFor(clock, p, uid("user"))
			c.Status = status
			if status != store.ConnectionConnected {
				c.Sealed = nil
			}
			putConnection(t, s, c)
			want[status] = append(want[status], c.ID)
		}
		for _, status := range store.ConnectionStatuses {
			t.Run(string(status), func(t *testing.T) {
				list, total, err := s.ListConnections(t.Context(), store.ConnectionFilter{ProviderID: p, Status: status}, 0, 10)
				if err != nil {
					t.Fatalf("ListConnections: %v", err)
				}
				var got []string
				for _, c := range list {
					got = append(got, c.ID)
					if c.Status != status {
						t.Errorf("listed %s in status %q", c.ID, c.Status)
					}
				}
				ids := slices.Clone(want[status])
				sort.Strings(ids)
				if !slices.Equal(got, ids) || total != len(ids) {
					t.Errorf("ids %q total %d, want %q total %d", got, total, ids, len(ids))
				}
			})
		}
		_, total, err := s.ListConnections(t.Context(), store.ConnectionFilter{ProviderID: p, Status: "nonsense"}, 0, 10)
		if err != nil || total != 0 {
			t.Errorf("an unknown status matched %d connections (err %v), want 0", total, err)
		}
	})
}
