package engine

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/authengine/authengine/authflow"
	"github.com/authengine/authengine/engine/store"
)

// maxServiceTokens bounds the service tokens kept for one
// client-credentials provider, one per distinct scope set. Past it, a new
// scope set evicts the token fetched longest ago; it is fetched again when
// next asked for.
const maxServiceTokens = 32

// scopeSet is scopes sorted and without repeats: the identity of a service
// token.
func scopeSet(scopes []string) []string {
	return slices.Compact(slices.Sorted(slices.Values(scopes)))
}

// boundServiceTokens deletes the service tokens of p fetched longest ago
// until at most maxServiceTokens remain, never keep (the one just stored).
// Instances racing on new scope sets may leave a few more for a while; the
// next new scope set trims them. Failures are logged: the token asked for
// was stored and is handed out all the same.
func (e *Engine) boundServiceTokens(ctx context.Context, p *authflow.Provider, keep string) {
	conns, total, err := e.store.ListConnections(ctx, store.ConnectionFilter{ProviderID: p.ID()}, 0, 1024)
	if err != nil {
		e.log.WarnContext(ctx, "list service tokens to bound them", "provider", p.ID(), "err", err)
		return
	}
	if total <= maxServiceTokens {
		return
	}
	others := slices.DeleteFunc(conns, func(c store.Connection) bool { return c.UserID != "" || c.ID == keep })
	slices.SortStableFunc(others, func(a, b store.Connection) int {
		if c := a.UpdatedAt.Compare(b.UpdatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	for _, c := range others[:max(len(others)+1-maxServiceTokens, 0)] {
		err := e.store.DeleteConnection(ctx, c.ID)
		e.connWritten(c.ID)
		e.connCounts.invalidate()
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			e.log.WarnContext(ctx, "evict service token", "provider", p.ID(), "connection_id", c.ID, "err", err)
			continue
		}
		e.log.InfoContext(ctx, "service token evicted: too many scope sets", "provider", p.ID(), "connection_id", c.ID, "scopes", c.Scopes, "max", maxServiceTokens)
	}
}
