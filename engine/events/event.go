package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/authengine/authengine/engine/store"
)

// Event types.
const (
	// ConnectionCreated: a flow completed and the connection holds a token.
	ConnectionCreated = "connection.created"
	// ConnectionNeedsReauth: the provider refused the refresh token
	// (invalid_grant); the user must authorize again.
	ConnectionNeedsReauth = "connection.needs_reauth"
	// ConnectionRefreshFailed: a refresh failed and the connection was left
	// as it was (the provider did not answer, or refused for another reason).
	ConnectionRefreshFailed = "connection.refresh_failed"
	// ConnectionDisconnected: the connection's tokens were dropped and its
	// record kept.
	ConnectionDisconnected = "connection.disconnected"
	// ConnectionDeleted: the connection was deleted (through the admin
	// API); Revocation says what the provider answered.
	ConnectionDeleted = "connection.deleted"
	// FlowFailed: an authorization flow ended failed.
	FlowFailed = "flow.failed"
)

// Types lists every event type, in the order the documentation gives them.
var Types = []string{ConnectionCreated, ConnectionNeedsReauth, ConnectionRefreshFailed, ConnectionDisconnected, ConnectionDeleted, FlowFailed}

// Known reports whether t is an event type.
func Known(t string) bool { return slices.Contains(Types, t) }

// Data is what an event says: which provider, user and connection (or
// flow), the status after the change and why. It never holds a token or
// a secret.
type Data struct {
	ProviderID string `json:"provider_id"`
	UserID     string `json:"user_id,omitempty"`
	// Account is the connection's account label; empty for the user's
	// default account at the provider.
	Account      string `json:"account,omitempty"`
	ConnectionID string `json:"connection_id,omitempty"`
	FlowID       string `json:"flow_id,omitempty"`
	// Status is the connection's status (connected, needs_reauth, ...) or,
	// for flow.failed, the flow's (failed).
	Status string `json:"status"`
	// Reason is a client-safe explanation; Kind names it from a fixed set
	// where the engine has one (flow failures, refresh failures).
	Reason string `json:"reason,omitempty"`
	Kind   string `json:"kind,omitempty"`
	// Revocation is the outcome of revoking the token at the provider
	// (connection.deleted only).
	Revocation *Revocation `json:"revocation,omitempty"`
}

// Revocation is the outcome of an RFC 7009 revocation request.
type Revocation struct {
	// Outcome is revoked (the provider answered 200), failed, or
	// not_configured (the provider has no revocation_request).
	Outcome string `json:"outcome"`
	// Reason says why a revocation failed; never a token.
	Reason string `json:"reason,omitempty"`
}

// Payload is the JSON body posted to webhooks, in the Standard Webhooks
// shape: type, timestamp and data.
type Payload struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      Data      `json:"data"`
}

// New builds the outbox record of an event of type typ about the record
// key (the connection's id, or for flow.failed the flow's), due at once.
func New(typ, key string, at time.Time, d Data) (store.Event, error) {
	if !Known(typ) {
		return store.Event{}, fmt.Errorf("events: unknown event type %q", typ)
	}
	body, err := json.Marshal(Payload{Type: typ, Timestamp: at.UTC(), Data: d})
	if err != nil {
		return store.Event{}, fmt.Errorf("events: encode %s: %w", typ, err)
	}
	return store.Event{
		ID: store.NewEventID(at), Key: key, Type: typ, Payload: body,
		Status: store.EventPending, NextAttemptAt: at, CreatedAt: at,
	}, nil
}

// ErrNotFailed: Replay met an event that is not failed (it is pending,
// and will be delivered anyway).
var ErrNotFailed = errors.New("events: only a failed event can be replayed")

// Replay makes a failed event pending again with its attempts reset, due
// at now; the endpoints that already took it are not sent it again.
func Replay(ctx context.Context, outbox store.Outbox, id string, now time.Time) (store.Event, error) {
	return outbox.UpdateEvent(ctx, id, func(cur store.Event) (store.Event, error) {
		if cur.Status != store.EventFailed {
			return cur, ErrNotFailed
		}
		cur.Status, cur.Attempts, cur.NextAttemptAt = store.EventPending, 0, now
		return cur, nil
	})
}
