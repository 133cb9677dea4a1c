package engine

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/authengine/authengine/authflow"
	"github.com/authengine/authengine/engine/events"
	"github.com/authengine/authengine/engine/store"
)

// A connection's status changes in exactly two places: saveConnection
// (a new grant or a refreshed token makes it connected) and markStatus (a
// refusal or an expiry leaves it needs_reauth, expired or revoked). Both
// apply the change with applyStatus inside their store write and report it
// with statusChanged once the write landed, so whatever must follow a
// transition (logs, events) hooks those two functions. docs/lifecycle.md
// describes the statuses and their transitions.

// StatusChange is one transition of a connection's status.
type StatusChange struct {
	ConnectionID string
	ProviderID   string
	UserID       string
	Account      string
	// From is the status before; empty when the connection was created.
	From store.ConnectionStatus
	To   store.ConnectionStatus
	// Reason is client-safe: why the connection left connected (the
	// provider's error code and description), empty for connected.
	Reason string
	Time   time.Time
}

// applyStatus moves c to status to, inside a store write, and returns the
// change (ok=false when c already was in that status and existed). A
// status other than connected drops the tokens: none of them is usable.
func applyStatus(c *store.Connection, exists bool, to store.ConnectionStatus, reason string, now time.Time) (StatusChange, bool) {
	from := c.Status
	if !exists {
		from = ""
	}
	c.Status = to
	if to != store.ConnectionConnected {
		c.Sealed = nil
		c.ExpiresAt = time.Time{}
	}
	return StatusChange{
		ConnectionID: c.ID, ProviderID: c.ProviderID, UserID: c.UserID, Account: c.Account,
		From: from, To: to, Reason: reason, Time: now,
	}, from != to
}

// statusChanged reports a transition that has been stored.
func (e *Engine) statusChanged(ctx context.Context, ch StatusChange) {
	if ch.UserID == "" {
		return // service tokens have no lifecycle apps act on
	}
	e.log.InfoContext(ctx, "connection status changed", "connection_id", ch.ConnectionID, "provider", ch.ProviderID,
		"from", string(ch.From), "to", string(ch.To), "reason", ch.Reason)
	e.auditLifecycle(ctx, ch)
}

// markStatus moves a connection that was read as conn to needs_reauth,
// expired or revoked and drops its tokens, unless the record changed
// since it was read (a new authorization wins: errConnChanged). A
// connection.needs_reauth event (its status field says which) is written
// in the same store write; kind names the cause from a fixed set
// (invalid_grant, unauthorized_client, no_refresh_token). It returns a
// *StatusError (errors.Is ErrNeedsReauth) once the change is stored: every
// status but connected needs a new authorization.
func (e *Engine) markStatus(ctx context.Context, conn store.Connection, to store.ConnectionStatus, reason, kind string) error {
	var (
		change  StatusChange
		changed bool
	)
	evs := e.connEvent(events.ConnectionNeedsReauth, conn, to, reason, kind)
	_, err := e.store.UpdateConnectionEvents(ctx, conn.ID, evs, func(c store.Connection, exists bool) (store.Connection, error) {
		if !exists || !sameRecord(c, conn) {
			return c, errConnChanged
		}
		change, changed = applyStatus(&c, exists, to, reason, e.now())
		return c, nil
	})
	e.connWritten(conn.ID)
	e.connCounts.invalidate()
	if errors.Is(err, errConnChanged) {
		return err
	}
	if err != nil {
		return storeErr("mark connection "+string(to), err)
	}
	e.notifyConn(ctx, conn.ID)
	if changed {
		e.statusChanged(ctx, change)
	}
	return &StatusError{Status: to, Reason: reason}
}

// refusalStatus is the status a refresh refusal that only a new
// authorization can fix leaves a connection in: revoked when the
// provider's error description says the grant was revoked (RFC 6749
// gives no separate code for it; Google answers "Token has been expired
// or revoked.", Microsoft's AADSTS codes name it), needs_reauth
// otherwise.
func refusalStatus(err error) store.ConnectionStatus {
	var pe *authflow.ProviderError
	if errors.As(err, &pe) && strings.Contains(strings.ToLower(pe.Description), "revoked") {
		return store.ConnectionRevoked
	}
	return store.ConnectionNeedsReauth
}

// refusalKind names a refresh refusal for events: the provider's OAuth
// error code (invalid_grant, unauthorized_client).
func refusalKind(err error) string {
	var pe *authflow.ProviderError
	if errors.As(err, &pe) && pe.Code != "" {
		return pe.Code
	}
	return "invalid_grant"
}

// usable reports whether a user's connection can hand out a token: any
// status but connected needs a new authorization.
func usable(c store.Connection) bool { return c.Status == store.ConnectionConnected }
