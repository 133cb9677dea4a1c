package engine

import (
	"context"
	"time"

	"github.com/authengine/authengine/authflow"
	"github.com/authengine/authengine/engine/events"
	"github.com/authengine/authengine/engine/store"
)

// Revocation outcomes, as the connection.disconnected and
// connection.deleted events and the log name them.
const (
	revokeRevoked       = "revoked"
	revokeFailed        = "failed"
	revokeNotConfigured = "not_configured"
	revokeNoToken       = "no_token"
)

// revoke asks c's provider to revoke its token (RFC 7009) when the
// provider has a revocation_request, and logs the outcome (never the
// token).
func (e *Engine) revoke(ctx context.Context, c store.Connection) events.Revocation {
	p, err := e.provider(c.ProviderID)
	if err != nil || !p.CanRevoke() {
		return events.Revocation{Outcome: revokeNotConfigured}
	}
	if len(c.Sealed) == 0 {
		return events.Revocation{Outcome: revokeNoToken}
	}
	ts, err := e.openToken(c)
	if err != nil {
		e.log.WarnContext(ctx, "revoke token at the provider: the stored token could not be opened", "provider", p.ID(), "connection_id", c.ID, "err", err)
		return events.Revocation{Outcome: revokeFailed, Reason: "the stored token could not be opened"}
	}
	p = p.WithConnection(ts.Variables)
	pctx, cancel := e.providerContext(ctx)
	defer cancel()
	start := time.Now()
	err = p.Revoke(pctx, e.clientFor(p), &authflow.Token{AccessToken: ts.AccessToken, RefreshToken: ts.RefreshToken, Extra: ts.Extra})
	e.metrics.observe(p.ID(), "revoke", start, err)
	if err != nil {
		reason := providerReason(err)
		e.log.WarnContext(ctx, "token revocation at the provider failed; the connection is deleted anyway", "provider", p.ID(), "connection_id", c.ID, "reason", reason)
		return events.Revocation{Outcome: revokeFailed, Reason: reason}
	}
	e.log.InfoContext(ctx, "token revoked at the provider", "provider", p.ID(), "connection_id", c.ID)
	return events.Revocation{Outcome: revokeRevoked}
}
