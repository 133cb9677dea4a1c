package engine

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/internal/clock"
)

// Audit records are persisted in the store's audit log beside going to
// the Auditor (a log line by default), so operators can list them through
// the admin API (GET /v1/admin/audit). Entries older than the retention
// are pruned by RunAuditRetention, which cmd starts on the engine's
// lifecycle.

// DefaultAuditRetention is how long audit entries are kept when
// audit.retention is not set: 90 days.
const DefaultAuditRetention = 90 * 24 * time.Hour

// auditPruneEvery is how often RunAuditRetention prunes.
const auditPruneEvery = time.Hour

// record hands r to the Auditor and appends it to the store's audit log.
// The change it describes is already stored, so a store that does not
// take the entry is logged, not returned.
func (e *Engine) record(ctx context.Context, r AuditRecord) {
	e.auditor.Record(ctx, r)
	err := e.store.AppendAudit(context.WithoutCancel(ctx), store.AuditEntry{
		ID: store.NewAuditID(r.Time), Time: r.Time, Actor: r.Actor, Action: r.Action, Target: r.Target,
		Changed: r.Changed, SecretReentered: r.SecretReentered,
	})
	if err != nil {
		e.log.WarnContext(ctx, "persist an audit record; it is in the log only", "action", r.Action, "target", r.Target, "err", err)
	}
}

// auditLifecycle records a connection leaving connected (needs_reauth,
// expired, revoked) as an audit entry: actor "engine" unless an admin's
// request caused it (a forced refresh). Becoming connected happens on
// every authorization and is not audited.
func (e *Engine) auditLifecycle(ctx context.Context, ch StatusChange) {
	if ch.To == store.ConnectionConnected {
		return
	}
	actor := "engine"
	if a := actorOf(ctx); a != "unknown" {
		actor = a
	}
	e.record(ctx, AuditRecord{
		Time: ch.Time.UTC(), Actor: actor, Action: "connection." + string(ch.To), Target: ch.ConnectionID,
		Changed: []string{"status"},
	})
}

// AuditQuery narrows AuditLog; empty fields match everything.
type AuditQuery struct {
	Actor, Action, Target string
	// Since and Until bound the time (RFC 3339; Since inclusive, Until
	// exclusive).
	Since, Until string
}

// AuditLog lists the persisted audit entries matching q, newest first,
// with the total count.
func (e *Engine) AuditLog(ctx context.Context, q AuditQuery, offset, limit int) ([]AuditRecord, int, error) {
	f := store.AuditFilter{Actor: strings.TrimSpace(q.Actor), Action: strings.TrimSpace(q.Action), Target: strings.TrimSpace(q.Target)}
	for _, b := range []struct {
		name, raw string
		into      *time.Time
	}{{"since", q.Since, &f.Since}, {"until", q.Until, &f.Until}} {
		if b.raw == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, b.raw)
		if err != nil {
			return nil, 0, &RequestError{Name: "invalid_request", Message: b.name + " must be an RFC 3339 time (2026-11-29T03:00:00Z)", Status: http.StatusBadRequest}
		}
		*b.into = t
	}
	list, total, err := e.store.ListAudit(ctx, f, offset, limit)
	if err != nil {
		return nil, 0, storeErr("list audit entries", err)
	}
	out := make([]AuditRecord, 0, len(list))
	for _, a := range list {
		out = append(out, AuditRecord{ID: a.ID, Time: a.Time, Actor: a.Actor, Action: a.Action, Target: a.Target,
			Changed: a.Changed, SecretReentered: a.SecretReentered})
	}
	return out, total, nil
}

// PruneAuditLog removes the audit entries older than the retention and
// returns how many it removed.
func (e *Engine) PruneAuditLog(ctx context.Context) (int, error) {
	n, err := e.store.PruneAudit(ctx, e.now().Add(-e.auditRetention))
	if err != nil {
		return 0, storeErr("prune audit entries", err)
	}
	return n, nil
}

// RunAuditRetention prunes the audit log now and every hour until ctx
// ends. Every instance may run it: pruning is idempotent.
func (e *Engine) RunAuditRetention(ctx context.Context) {
	for {
		if n, err := e.PruneAuditLog(ctx); err != nil {
			if ctx.Err() == nil {
				e.log.WarnContext(ctx, "prune the audit log", "err", err)
			}
		} else if n > 0 {
			e.log.InfoContext(ctx, "audit log pruned", "removed", n, "retention", e.auditRetention.String())
		}
		if clock.Sleep(ctx, e.clock, auditPruneEvery) != nil {
			return
		}
	}
}
