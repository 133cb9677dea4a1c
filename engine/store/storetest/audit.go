package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/authengine/authengine/engine/store"
)

func auditIDs(es []store.AuditEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func runAudit(t *testing.T, newStore NewStore) {
	t.Run("entries are listed newest first with every field, filtered and paged", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		var all []store.AuditEntry
		for i, a := range []struct{ actor, action, target string }{
			{"admin_key:aaaa", "provider.create", "hooli"},
			{"admin_key:aaaa", "provider.update", "hooli"},
			{"engine", "connection.needs_reauth", "c1"},
			{"admin_key:bbbb", "connection.delete", "c1"},
		} {
			e := store.AuditEntry{ID: store.NewAuditID(clock.Now()), Time: clock.Now(), Actor: a.actor, Action: a.action, Target: a.target}
			if i == 1 {
				e.Changed, e.SecretReentered = []string{"client_secret", "oauth2.token_request.endpoint"}, true
			}
			if err := s.AppendAudit(t.Context(), e); err != nil {
				t.Fatalf("AppendAudit: %v", err)
			}
			all = append(all, e)
			clock.Advance(time.Second)
		}
		got, total, err := s.ListAudit(t.Context(), store.AuditFilter{}, 0, 0)
		if err != nil || total != 4 {
			t.Fatalf("ListAudit = %d entries, total %d, %v", len(got), total, err)
		}
		want := auditIDs(all)
		slices.Reverse(want)
		if !slices.Equal(auditIDs(got), want) {
			t.Errorf("order = %v, want newest first %v", auditIDs(got), want)
		}
		u := got[2]
		if u.Action != "provider.update" || u.Actor != "admin_key:aaaa" || u.Target != "hooli" || !u.SecretReentered ||
			!slices.Equal(u.Changed, []string{"client_secret", "oauth2.token_request.endpoint"}) {
			t.Errorf("entry = %+v", u)
		}
		assertTime(t, "Time", u.Time, all[1].Time)

		for _, tc := range []struct {
			name   string
			filter store.AuditFilter
			want   []string
		}{
			{"by actor", store.AuditFilter{Actor: "admin_key:aaaa"}, []string{all[1].ID, all[0].ID}},
			{"by action", store.AuditFilter{Action: "connection.delete"}, []string{all[3].ID}},
			{"by target", store.AuditFilter{Target: "c1"}, []string{all[3].ID, all[2].ID}},
			{"by time", store.AuditFilter{Since: all[1].Time, Until: all[3].Time}, []string{all[2].ID, all[1].ID}},
		} {
			got, total, err := s.ListAudit(t.Context(), tc.filter, 0, 10)
			if err != nil || total != len(tc.want) || !slices.Equal(auditIDs(got), tc.want) {
				t.Errorf("%s: %v (total %d, %v), want %v", tc.name, auditIDs(got), total, err, tc.want)
			}
		}
		page, total, err := s.ListAudit(t.Context(), store.AuditFilter{}, 1, 2)
		if err != nil || total != 4 || !slices.Equal(auditIDs(page), want[1:3]) {
			t.Errorf("page [1,3) = %v (total %d, %v), want %v", auditIDs(page), total, err, want[1:3])
		}
	})

	t.Run("PruneAudit removes the entries older than the cut and keeps the rest", func(t *testing.T) {
		s, clock := fresh(t, newStore)
		var ids []string
		for range 3 {
			e := store.AuditEntry{ID: store.NewAuditID(clock.Now()), Time: clock.Now(), Actor: "engine", Action: "connection.expired", Target: uid("c")}
			if err := s.AppendAudit(t.Context(), e); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, e.ID)
			clock.Advance(time.Hour)
		}
		n, err := s.PruneAudit(t.Context(), clock.Now().Add(-90*time.Minute))
		if err != nil || n != 2 {
			t.Fatalf("PruneAudit = %d, %v; want 2", n, err)
		}
		got, total, err := s.ListAudit(t.Context(), store.AuditFilter{}, 0, 0)
		if err != nil || total != 1 || got[0].ID != ids[2] {
			t.Errorf("after prune: %v (total %d, %v), want only %s", auditIDs(got), total, err, ids[2])
		}
		if n, err := s.PruneAudit(t.Context(), clock.Now().Add(-90*time.Minute)); err != nil || n != 0 {
			t.Errorf("second PruneAudit = %d, %v; want 0", n, err)
		}
	})
}
