package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/authengine/authengine/authflow"
	"github.com/authengine/authengine/engine/store"
)

// userToken returns a fresh token of the user's connection when it covers
// scopes. errNoConnection, errScopesMissing (with the connection) and
// ErrNeedsReauth tell Authorize to start a flow.
func (e *Engine) userToken(ctx context.Context, p *authflow.Provider, userID string, scopes []string) (tokenSet, store.Connection, error) {
	conn, err := e.store.GetConnection(ctx, store.ConnectionID(p.ID(), userID))
	if errors.Is(err, store.ErrNotFound) {
		return tokenSet{}, store.Connection{}, errNoConnection
	}
	if err != nil {
		return tokenSet{}, store.Connection{}, storeErr("read connection", err)
	}
	if conn.Status == store.ConnectionNeedsReauth {
		return tokenSet{}, conn, ErrNeedsReauth
	}
	if !covers(conn.Scopes, scopes) {
		return tokenSet{}, conn, errScopesMissing
	}
	ts, err := e.fresh(ctx, p, conn)
	if err != nil {
		return tokenSet{}, conn, err
	}
	return ts, conn, nil
}

// Token returns the user's current access token for a provider (the
// service token for a client-credentials provider), refreshing it first
// when it is within the refresh margin of expiry.
func (e *Engine) Token(ctx context.Context, providerID, userID string, scopes []string) (Authorization, error) {
	return e.Authorize(ctx, AuthorizeRequest{UserID: userID, ProviderID: providerID, Scopes: scopes})
}

// expiring reports whether a token expiring at exp must be refreshed now.
func (e *Engine) expiring(exp time.Time) bool {
	return !exp.IsZero() && !e.now().Add(e.margin).Before(exp)
}

// fresh opens a connection's token, refreshing it first when it is within
// the refresh margin.
func (e *Engine) fresh(ctx context.Context, p *authflow.Provider, conn store.Connection) (tokenSet, error) {
	if conn.Status == store.ConnectionNeedsReauth {
		return tokenSet{}, ErrNeedsReauth
	}
	if !e.expiring(conn.ExpiresAt) {
		var ts tokenSet
		if err := e.openJSON(conn.Sealed, connAAD(conn.ID), &ts); err != nil {
			return tokenSet{}, err
		}
		return ts, nil
	}
	return e.renew(ctx, p, conn.ID, conn.UserID, nil)
}

// serviceToken returns the client-credentials token of p covering scopes,
// fetching it when missing, expiring or too narrow.
func (e *Engine) serviceToken(ctx context.Context, p *authflow.Provider, scopes []string) (tokenSet, store.Connection, error) {
	id := store.ConnectionID(p.ID(), "")
	conn, err := e.store.GetConnection(ctx, id)
	if err == nil && conn.Status == store.ConnectionConnected && covers(conn.Scopes, scopes) && !e.expiring(conn.ExpiresAt) {
		var ts tokenSet
		if err := e.openJSON(conn.Sealed, connAAD(id), &ts); err != nil {
			return tokenSet{}, conn, err
		}
		return ts, conn, nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return tokenSet{}, conn, storeErr("read service token", err)
	}
	ts, err := e.renew(ctx, p, id, "", scopes)
	if err != nil {
		return tokenSet{}, conn, err
	}
	conn, err = e.store.GetConnection(ctx, id)
	if err != nil {
		return tokenSet{}, conn, storeErr("read service token", err)
	}
	return ts, conn, nil
}

// renew refreshes a connection's token (or fetches a new service token),
// once: concurrent callers in this process share one attempt, and
// instances sharing the store take turns through the store's lock, each
// re-reading the record after waiting so that a token another caller
// refreshed is used rather than refreshed again. One refresh per connection
// is a correctness rule: providers that rotate refresh tokens treat a second
// use of an old one as theft and revoke the whole chain.
func (e *Engine) renew(ctx context.Context, p *authflow.Provider, id, userID string, scopes []string) (tokenSet, error) {
	v, err, _ := e.refreshes.Do(id, func() (any, error) {
		// The attempt outlives any one caller: others may be waiting on it.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.lease)
		defer cancel()
		return e.renewLocked(rctx, p, id, userID, scopes)
	})
	if err != nil {
		return tokenSet{}, err
	}
	return v.(tokenSet), nil
}

// satisfied reports whether a connection read after waiting for the lock
// already holds what the caller needs.
func (e *Engine) satisfied(conn store.Connection, scopes []string) bool {
	return conn.Status == store.ConnectionConnected && !e.expiring(conn.ExpiresAt) && covers(conn.Scopes, scopes)
}

func (e *Engine) renewLocked(ctx context.Context, p *authflow.Provider, id, userID string, scopes []string) (tokenSet, error) {
	signals, cancel := e.store.Subscribe("conn:" + id)
	defer cancel()
	lockName := "refresh:" + id
	var owner string
	for {
		token, err := e.store.Lock(ctx, lockName, e.lease)
		if err == nil {
			owner = token
			break
		}
		if !errors.Is(err, store.ErrLockHeld) {
			return tokenSet{}, storeErr("lock connection for refresh", err)
		}
		// Another instance is refreshing: wait for its signal (or a short
		// tick, in case it crashed and its lease runs out), then re-read.
		select {
		case <-signals:
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			return tokenSet{}, fmt.Errorf("wait for another refresh of the connection: %w", ErrProviderUnavailable)
		}
		if ts, done, err := e.reread(ctx, id, scopes); done || err != nil {
			return ts, err
		}
	}
	defer func() {
		// Release with a context of its own: the refresh context may be spent.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := e.store.Unlock(uctx, lockName, owner); err != nil {
			e.log.Warn("release refresh lock", "connection_id", id, "err", err)
		}
	}()
	if ts, done, err := e.reread(ctx, id, scopes); done || err != nil {
		return ts, err
	}
	conn, err := e.store.GetConnection(ctx, id)
	exists := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return tokenSet{}, storeErr("read connection", err)
	}
	if p.GrantType() == grantClientCredentials {
		return e.fetchServiceToken(ctx, p, id, union(conn.Scopes, scopes))
	}
	if !exists {
		return tokenSet{}, ErrNeedsReauth
	}
	var old tokenSet
	if err := e.openJSON(conn.Sealed, connAAD(id), &old); err != nil {
		return tokenSet{}, err
	}
	if !p.CanRefresh() || old.RefreshToken == "" {
		if e.now().Before(conn.ExpiresAt) {
			return old, nil // still valid, just inside the margin
		}
		e.metrics.Refreshes.WithLabelValues(p.ID(), "no_refresh_token").Inc()
		return tokenSet{}, e.markNeedsReauth(ctx, id)
	}
	return e.refresh(ctx, p, conn, old)
}

// reread returns the connection's token when another caller already made it
// fresh (done=true).
func (e *Engine) reread(ctx context.Context, id string, scopes []string) (tokenSet, bool, error) {
	conn, err := e.store.GetConnection(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return tokenSet{}, false, nil
	}
	if err != nil {
		return tokenSet{}, true, storeErr("read connection", err)
	}
	if conn.Status == store.ConnectionNeedsReauth && conn.UserID != "" {
		return tokenSet{}, true, ErrNeedsReauth
	}
	if !e.satisfied(conn, scopes) {
		return tokenSet{}, false, nil
	}
	var ts tokenSet
	if err := e.openJSON(conn.Sealed, connAAD(id), &ts); err != nil {
		return tokenSet{}, true, err
	}
	return ts, true, nil
}

// refresh runs the provider's refresh request while holding the lock, and
// stores the result (a rotated refresh token first of all) before anyone
// gets the new access token.
func (e *Engine) refresh(ctx context.Context, p *authflow.Provider, conn store.Connection, old tokenSet) (tokenSet, error) {
	pctx, cancel := e.providerContext(ctx)
	start := time.Now()
	tok, err := p.Refresh(pctx, e.client, old.oauth())
	cancel()
	e.metrics.observe(p.ID(), "refresh", start, err)
	if err != nil {
		return tokenSet{}, e.refreshFailed(ctx, p, conn.ID, err)
	}
	if tok.RefreshToken == "" {
		tok.RefreshToken = old.RefreshToken
	}
	userInfo := old.UserInfo
	if p.UserInfoOnRefresh() {
		if info, err := e.userInfo(ctx, p, tok); err != nil {
			e.log.WarnContext(ctx, "user info after refresh failed; keeping the previous user info", "provider", p.ID(), "err", err)
		} else {
			userInfo = info
		}
	}
	ts := tokenSetFrom(tok, userInfo)
	scopes := tok.Scopes
	if len(scopes) == 0 {
		scopes = conn.Scopes
	}
	if err := e.saveConnection(ctx, conn.ID, conn.UserID, p.ID(), scopes, ts); err != nil {
		// The provider may have rotated the refresh token we could not
		// store; the connection will need re-authorization if so.
		e.metrics.Refreshes.WithLabelValues(p.ID(), "store_error").Inc()
		return tokenSet{}, err
	}
	e.metrics.Refreshes.WithLabelValues(p.ID(), "success").Inc()
	e.log.InfoContext(ctx, "token refreshed", "provider", p.ID(), "connection_id", conn.ID)
	return ts, nil
}

// fetchServiceToken runs the client-credentials grant and stores the token.
func (e *Engine) fetchServiceToken(ctx context.Context, p *authflow.Provider, id string, scopes []string) (tokenSet, error) {
	pctx, cancel := e.providerContext(ctx)
	start := time.Now()
	tok, err := p.ClientCredentials(pctx, e.client, scopes)
	cancel()
	e.metrics.observe(p.ID(), "client_credentials", start, err)
	if err != nil {
		if authflow.IsRetryable(err) {
			return tokenSet{}, fmt.Errorf("client credentials for provider %q: %w: %w", p.ID(), ErrProviderUnavailable, err)
		}
		return tokenSet{}, &ProviderFailedError{ProviderID: p.ID(), Reason: providerReason(err)}
	}
	ts := tokenSetFrom(tok, nil)
	granted := tok.Scopes
	if len(granted) == 0 {
		granted = scopes
	}
	if err := e.saveConnection(ctx, id, "", p.ID(), granted, ts); err != nil {
		return tokenSet{}, err
	}
	return ts, nil
}

// refreshFailed classifies a failed refresh: invalid_grant means the user
// must authorize again; network errors and 5xx keep the state and are
// retryable; anything else is reported as the provider's refusal.
func (e *Engine) refreshFailed(ctx context.Context, p *authflow.Provider, id string, err error) error {
	switch {
	case authflow.IsInvalidGrant(err):
		e.metrics.Refreshes.WithLabelValues(p.ID(), "invalid_grant").Inc()
		e.log.WarnContext(ctx, "refresh token refused; connection needs re-authorization", "provider", p.ID(), "connection_id", id, "err", err)
		return e.markNeedsReauth(ctx, id)
	case authflow.IsRetryable(err):
		e.metrics.Refreshes.WithLabelValues(p.ID(), "retryable_error").Inc()
		e.log.WarnContext(ctx, "refresh failed; will retry on the next request", "provider", p.ID(), "connection_id", id, "err", err)
		return fmt.Errorf("refresh token for provider %q: %w: %w", p.ID(), ErrProviderUnavailable, err)
	default:
		e.metrics.Refreshes.WithLabelValues(p.ID(), "provider_error").Inc()
		e.log.WarnContext(ctx, "refresh refused by provider", "provider", p.ID(), "connection_id", id, "err", err)
		return &ProviderFailedError{ProviderID: p.ID(), Reason: providerReason(err)}
	}
}

// markNeedsReauth drops a connection's tokens and marks it needs_reauth.
func (e *Engine) markNeedsReauth(ctx context.Context, id string) error {
	_, err := e.store.UpdateConnection(ctx, id, func(c store.Connection, exists bool) (store.Connection, error) {
		if !exists {
			return c, store.ErrNotFound
		}
		c.Status = store.ConnectionNeedsReauth
		c.Sealed = nil
		c.ExpiresAt = time.Time{}
		return c, nil
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return storeErr("mark connection needs_reauth", err)
	}
	e.notifyConn(ctx, id)
	return ErrNeedsReauth
}

// saveConnection seals ts and writes it as the connection's token state.
func (e *Engine) saveConnection(ctx context.Context, id, userID, providerID string, scopes []string, ts tokenSet) error {
	sealed, err := e.sealJSON(ts, connAAD(id))
	if err != nil {
		return err
	}
	_, err = e.store.UpdateConnection(ctx, id, func(c store.Connection, exists bool) (store.Connection, error) {
		c.ID = id
		c.UserID = userID
		c.ProviderID = providerID
		c.Status = store.ConnectionConnected
		c.Scopes = scopes
		c.ExpiresAt = ts.Expiry
		c.Sealed = sealed
		return c, nil
	})
	if err != nil {
		return storeErr("store connection", err)
	}
	e.notifyConn(ctx, id)
	return nil
}

func (e *Engine) notifyConn(ctx context.Context, id string) {
	if err := e.store.Notify(ctx, "conn:"+id); err != nil {
		e.log.WarnContext(ctx, "notify connection change", "connection_id", id, "err", err)
	}
}

// userInfo runs the provider's user-info request.
func (e *Engine) userInfo(ctx context.Context, p *authflow.Provider, tok *authflow.Token) (map[string]any, error) {
	pctx, cancel := e.providerContext(ctx)
	defer cancel()
	start := time.Now()
	info, err := p.UserInfo(pctx, e.client, tok)
	e.metrics.observe(p.ID(), "user_info", start, err)
	return info, err
}

// providerReason is the client-safe description of a provider failure:
// the OAuth error code and description, never a body or a secret.
func providerReason(err error) string {
	var pe *authflow.ProviderError
	if errors.As(err, &pe) {
		reason := pe.Code
		if reason == "" {
			reason = fmt.Sprintf("HTTP %d", pe.Status)
		}
		if pe.Description != "" {
			reason += ": " + pe.Description
		}
		return clip(reason)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "the provider did not answer in time"
	}
	if authflow.IsRetryable(err) {
		return "the provider could not be reached"
	}
	// What remains are response-shape errors (no access token where the
	// response_map looks, a body that is neither JSON nor a form); their
	// messages name keys and paths, never values.
	return clip("the provider's response could not be used: " + err.Error())
}

// clip bounds a provider-supplied string shown to apps and users.
func clip(s string) string {
	const max = 300
	r := []rune(s)
	if len(r) > max {
		return string(r[:max]) + "…"
	}
	return s
}
