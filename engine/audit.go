package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"slices"
	"time"
)

// Changes made through the admin plane (providers created, changed or
// deleted; connections dropped) are recorded as audit records: who did
// what to which object, and which fields changed. A record never holds a
// value, only field names, so it never holds a secret.

// AuditRecord is one change made through the admin plane (or, with
// Actor "engine", a lifecycle change the engine made).
type AuditRecord struct {
	// ID is the persisted entry's id (set in listings).
	ID   string
	Time time.Time
	// Actor says who made the change: the identity the caller's credential
	// was recognised as (for an admin key, a fingerprint of it, never the
	// key), "unknown" when the caller set none.
	Actor string
	// Action is what was done: provider.create, provider.update,
	// provider.delete, connection.delete.
	Action string
	// Target is the id of the provider or connection.
	Target string
	// Changed lists the field paths that changed (client_secret, or
	// oauth2.token_request.endpoint), sorted; never their values.
	Changed []string
	// SecretReentered reports that the request carried client_secret,
	// which changing where or how the secret is sent requires.
	SecretReentered bool
}

// Auditor records admin-plane changes. Record is called after the change
// is stored; it must not block for long and cannot undo the change.
type Auditor interface {
	Record(ctx context.Context, r AuditRecord)
}

// LogAuditor writes each audit record as one structured log line at info
// level with audit=true, for log pipelines to keep and search.
type LogAuditor struct {
	Log *slog.Logger
}

// Record writes r.
func (a LogAuditor) Record(ctx context.Context, r AuditRecord) {
	a.Log.LogAttrs(ctx, slog.LevelInfo, "audit",
		slog.Bool("audit", true),
		slog.Time("time", r.Time),
		slog.String("actor", r.Actor),
		slog.String("action", r.Action),
		slog.String("target", r.Target),
		slog.Any("changed", r.Changed),
		slog.Bool("secret_reentered", r.SecretReentered),
	)
}

type actorKey struct{}

// WithActor returns ctx carrying the identity of the caller that makes a
// change (for an admin key, a fingerprint of it, never the key); audit
// records name it.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorOf returns the actor WithActor set, or "unknown".
func ActorOf(ctx context.Context) string { return actorOf(ctx) }

// actorOf returns the actor WithActor set, or "unknown".
func actorOf(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	return "unknown"
}

// audit records one change: to the Auditor, and into the store's audit
// log (audit_log.go).
func (e *Engine) audit(ctx context.Context, action, target string, changed []string, reentered bool) {
	e.record(ctx, AuditRecord{
		Time: e.now().UTC(), Actor: actorOf(ctx), Action: action, Target: target,
		Changed: changed, SecretReentered: reentered,
	})
}

// changedPaths lists the dotted paths at which two documents (JSON-like
// values) differ, sorted: a leaf or list that differs is named by its
// path, an object is compared key by key.
func changedPaths(before, after any, prefix string) []string {
	bm, bok := before.(map[string]any)
	am, aok := after.(map[string]any)
	// An object that appears or disappears lists its leaves.
	if bok && after == nil {
		am, aok = map[string]any{}, true
	}
	if aok && before == nil {
		bm, bok = map[string]any{}, true
	}
	if !bok || !aok {
		// JSON forms compare values that decode differently but mean the
		// same (map[string]string and map[string]any) as equal.
		b, _ := json.Marshal(before)
		a, _ := json.Marshal(after)
		if bytes.Equal(b, a) {
			return nil
		}
		return []string{prefix}
	}
	var out []string
	keys := slices.Sorted(maps.Keys(bm))
	for k := range am {
		if _, ok := bm[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		out = append(out, changedPaths(bm[k], am[k], p)...)
	}
	return out
}
