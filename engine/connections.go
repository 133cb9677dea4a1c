package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine/store"
)

// ConnectionQuery narrows a listing of connections; empty fields match
// everything.
type ConnectionQuery struct {
	UserID     string
	ProviderID string
	// Status is one of connected, needs_reauth, expired, revoked.
	Status string
	// Account is an account label.
	Account string
}

// ListConnections lists the connections matching q, ordered by id, the page
// [offset, offset+limit), with the total number of matches. An unknown
// status is a request error naming the known ones.
func (e *Engine) ListConnections(ctx context.Context, q ConnectionQuery, offset, limit int) ([]Connection, int, error) {
	status := store.ConnectionStatus(strings.TrimSpace(q.Status))
	if status != "" && !slices.Contains(store.ConnectionStatuses, status) {
		return nil, 0, badRequest("invalid_request", fmt.Sprintf("status must be one of %s", joinStatuses()))
	}
	filter := store.ConnectionFilter{UserID: q.UserID, ProviderID: strings.TrimSpace(q.ProviderID), Status: status, Account: q.Account}
	list, total, err := e.store.ListConnections(ctx, filter, offset, limit)
	if err != nil {
		return nil, 0, storeErr("list connections", err)
	}
	out := make([]Connection, 0, len(list))
	for _, c := range list {
		out = append(out, connectionView(c))
	}
	return out, total, nil
}

// GetConnection returns one connection, without its tokens.
func (e *Engine) GetConnection(ctx context.Context, id string) (Connection, error) {
	c, err := e.store.GetConnection(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Connection{}, ErrConnectionNotFound
	}
	if err != nil {
		return Connection{}, storeErr("read connection", err)
	}
	return connectionView(c), nil
}

// MaxUserConnections bounds how many connections UserConnections returns.
const MaxUserConnections = 100

// UserConnections lists one user's connections (every provider and
// account, at most MaxUserConnections), without tokens, for apps.
func (e *Engine) UserConnections(ctx context.Context, userID string) ([]Connection, error) {
	if userID == "" {
		return nil, badRequest("invalid_request", "user_id is required")
	}
	if err := checkRequestLimits(userID, "", nil); err != nil {
		return nil, err
	}
	list, _, err := e.ListConnections(ctx, ConnectionQuery{UserID: userID}, 0, MaxUserConnections)
	return list, err
}

func connectionView(c store.Connection) Connection {
	return Connection{
		ID: c.ID, UserID: c.UserID, ProviderID: c.ProviderID, Status: string(c.Status), Scopes: c.Scopes,
		ExpiresAt: c.ExpiresAt, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		Account: c.Account, DeclinedScopes: c.DeclinedScopes,
	}
}

func joinStatuses() string {
	names := make([]string, len(store.ConnectionStatuses))
	for i, s := range store.ConnectionStatuses {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// RefreshResult is the outcome of a forced refresh.
type RefreshResult struct {
	ConnectionID string
	// ExpiresAt is the new access token's expiry; zero when it does not
	// expire.
	ExpiresAt time.Time
}

// RefreshConnection refreshes a connection's token now, whatever its
// expiry, through the same single flight and store lock as every refresh
// (a refresh another caller finishes after this call read the connection
// counts as this one). A client-credentials token is fetched again. The
// provider's refusal comes back as a *ProviderFailedError (its OAuth error
// code and description), or, when it leaves the connection needing a new
// authorization, a *StatusError; a connection that cannot be refreshed is
// a request error. The attempt is recorded as an audit record
// (connection.refresh).
func (e *Engine) RefreshConnection(ctx context.Context, id string) (RefreshResult, error) {
	res, err := e.refreshConnection(ctx, id)
	if !errors.Is(err, ErrConnectionNotFound) {
		e.audit(ctx, "connection.refresh", id, nil, false)
	}
	return res, err
}

func (e *Engine) refreshConnection(ctx context.Context, id string) (RefreshResult, error) {
	conn, err := e.store.GetConnection(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return RefreshResult{}, ErrConnectionNotFound
	}
	if err != nil {
		return RefreshResult{}, storeErr("read connection", err)
	}
	if conn.UserID != "" && !usable(conn) {
		return RefreshResult{}, &StatusError{Status: conn.Status, Reason: "it holds no token to refresh; the user must authorize again"}
	}
	p, err := e.provider(conn.ProviderID)
	if err != nil {
		return RefreshResult{}, err
	}
	var scopes []string
	if p.GrantType() == config.GrantClientCredentials {
		scopes = conn.Scopes
		if scopes == nil {
			scopes = []string{}
		}
	}
	ts, err := e.renewForced(ctx, p, id, scopes, conn.Version)
	if err != nil {
		return RefreshResult{}, err
	}
	return RefreshResult{ConnectionID: id, ExpiresAt: ts.Expiry}, nil
}

// StatusError reports a connection that is not connected: its status and
// the client-safe reason. It is a needs-reauthorization condition
// (errors.Is(err, ErrNeedsReauth)).
type StatusError struct {
	Status store.ConnectionStatus
	// Reason is client-safe: the provider's OAuth error code and
	// description, or why the token cannot be refreshed.
	Reason string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("the connection is %s: %s", e.Status, e.Reason)
}

// Is makes a StatusError a needs-reauthorization condition.
func (e *StatusError) Is(target error) bool { return target == ErrNeedsReauth }

// errCannotRefresh: a forced refresh of a token with no refresh token (or
// a provider without refresh) that has not expired yet.
var errCannotRefresh = &RequestError{Name: "refresh_not_possible", Status: 409,
	Message: "the connection has no refresh token, or its provider has no refresh request; it is used until it expires"}
