package engine

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/authengine/authengine/engine/store"
)

func TestAuditRecordsArePersistedListedAndPruned(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store func(t *testing.T, now func() time.Time) store.Store
	}{{"bolt", nil}, {"redis", redisStore}} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigOptions{store: tc.store})
			ctx := context.Background()
			ada := r.connect("ada")
			grace := r.connect("grace")

			// A refresh refused with invalid_grant: the engine's own change.
			r.idp.ExpireAccessTokens()
			r.clock.Advance(2 * time.Hour)
			r.idp.FailNext(1, 400, "invalid_grant")
			if _, err := r.authorize(ctx, "ada"); err != nil {
				t.Fatal(err)
			}
			// An admin deletes grace's connection.
			if err := r.eng.Disconnect(WithActor(ctx, "admin_key:3f2a9c1b04de"), grace); err != nil {
				t.Fatal(err)
			}

			all, total, err := r.eng.AuditLog(ctx, AuditQuery{}, 0, 10)
			if err != nil || total != 2 {
				t.Fatalf("AuditLog = %+v, %d, %v; want 2 entries", all, total, err)
			}
			del, reauth := all[0], all[1]
			if del.Action != "connection.delete" || del.Target != grace || del.Actor != "admin_key:3f2a9c1b04de" || del.ID == "" {
				t.Errorf("newest entry = %+v, want grace's delete by the admin key", del)
			}
			if reauth.Action != "connection.needs_reauth" || reauth.Target != ada || reauth.Actor != "engine" || !slices.Equal(reauth.Changed, []string{"status"}) {
				t.Errorf("oldest entry = %+v, want ada's needs_reauth by the engine", reauth)
			}
			if got, n, _ := r.eng.AuditLog(ctx, AuditQuery{Actor: "engine"}, 0, 10); n != 1 || got[0].Target != ada {
				t.Errorf("actor=engine: %+v", got)
			}
			if _, _, err := r.eng.AuditLog(ctx, AuditQuery{Since: "yesterday"}, 0, 10); !isRequestError(err, "invalid_request") {
				t.Errorf("since=yesterday: %v, want invalid_request", err)
			}

			// Nothing is older than the retention yet; 91 days later both are.
			if n, err := r.eng.PruneAuditLog(ctx); err != nil || n != 0 {
				t.Errorf("PruneAuditLog now = %d, %v; want 0", n, err)
			}
			r.clock.Advance(DefaultAuditRetention + 24*time.Hour)
			if n, err := r.eng.PruneAuditLog(ctx); err != nil || n != 2 {
				t.Errorf("PruneAuditLog after the retention = %d, %v; want 2", n, err)
			}
		})
	}
}
