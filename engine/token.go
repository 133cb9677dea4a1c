package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/authengine/authengine/authflow"
	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine/events"
	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/internal/netguard"
)

// userToken returns a fresh token of the user's connection (of the
// account labelled account; empty is the default one) when it covers
// scopes. errNoConnection, errScopesMissing (with the connection) and
// ErrNeedsReauth tell Authorize to start a flow.
//
// A connection kept in memory (conn_cache.go) answers without the store
// when its token needs no refresh; anything else reads the store, and a
// fresh token read there is kept for the next call.
func (e *Engine) userToken(ctx context.Context, p *authflow.Provider, userID, account string, scopes []string) (tokenSet, store.Connection, error) {
	id := store.AccountConnectionID(p.ID(), userID, account)
	if c, ok := e.cachedToken(id, scopes); ok {
		return c.ts, c.conn, nil
	}
	ticket := e.conns.Begin(id)
	conn, err := e.store.GetConnection(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return tokenSet{}, store.Connection{}, errNoConnection
	}
	if err != nil {
		return tokenSet{}, store.Connection{}, storeErr("read connection", err)
	}
	if !usable(conn) {
		return tokenSet{}, conn, ErrNeedsReauth
	}
	if !covers(conn.Scopes, scopes) {
		return tokenSet{}, conn, errScopesMissing
	}
	if !e.stale(conn) {
		ts, err := e.openToken(conn)
		if err != nil {
			return tokenSet{}, conn, err
		}
		e.cacheToken(ticket, conn, ts)
		return ts, conn, nil
	}
	ts, err := e.fresh(ctx, p, conn)
	if err != nil {
		return tokenSet{}, conn, err
	}
	return ts, conn, nil
}

// stale reports whether a connection's token must be refreshed before it
// is handed out: it expires within the refresh margin. For tokens that live
// no longer than the margin, the margin shrinks to half their lifetime, so
// a freshly refreshed short-lived token is not refreshed again at once.
func (e *Engine) stale(c store.Connection) bool {
	if c.ExpiresAt.IsZero() {
		return false
	}
	margin := e.margin
	if life := c.ExpiresAt.Sub(c.UpdatedAt); life > 0 && margin > life/2 {
		margin = life / 2
	}
	return !e.now().Add(margin).Before(c.ExpiresAt)
}

// fresh opens a connection's token, refreshing it first when it is stale.
func (e *Engine) fresh(ctx context.Context, p *authflow.Provider, conn store.Connection) (tokenSet, error) {
	if !usable(conn) {
		return tokenSet{}, ErrNeedsReauth
	}
	if !e.stale(conn) {
		return e.openToken(conn)
	}
	return e.renew(ctx, p, conn.ID, nil, conn.Version)
}

// openToken opens a connection's sealed token set.
func (e *Engine) openToken(conn store.Connection) (tokenSet, error) {
	var ts tokenSet
	if err := e.openJSON(conn.Sealed, connAAD(conn.ID), &ts); err != nil {
		return tokenSet{}, err
	}
	return ts, nil
}

// serviceToken returns the client-credentials token of p for exactly this
// set of scopes, fetching it when missing or stale. Like a user's token, a
// fresh one is kept in the connection cache once read from the store. Each scope set has a
// token of its own (see boundServiceTokens): a token is never widened
// because another caller asked for more, and a scope the provider refuses
// fails only the callers asking for it.
func (e *Engine) serviceToken(ctx context.Context, p *authflow.Provider, scopes []string) (tokenSet, store.Connection, error) {
	scopes = scopeSet(scopes)
	id := store.ServiceConnectionID(p.ID(), scopes)
	if c, ok := e.cachedToken(id, scopes); ok {
		return c.ts, c.conn, nil
	}
	ticket := e.conns.Begin(id)
	conn, err := e.store.GetConnection(ctx, id)
	if err == nil && conn.Status == store.ConnectionConnected && covers(conn.Scopes, scopes) && !e.stale(conn) {
		ts, err := e.openToken(conn)
		if err == nil {
			e.cacheToken(ticket, conn, ts)
		}
		return ts, conn, err
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return tokenSet{}, conn, storeErr("read service token", err)
	}
	ts, err := e.renew(ctx, p, id, scopes, conn.Version)
	if err != nil {
		return tokenSet{}, conn, err
	}
	conn, err = e.store.GetConnection(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		// Evicted at once by callers of many other scope sets: the token
		// is still good to hand out.
		return ts, store.Connection{ID: id, ProviderID: p.ID(), Status: store.ConnectionConnected, Scopes: scopes}, nil
	}
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
// use of an old one as theft and revoke the whole chain. seen is the
// record version the caller read (0: none).
func (e *Engine) renew(ctx context.Context, p *authflow.Provider, id string, scopes []string, seen uint64) (tokenSet, error) {
	return e.renewWith(ctx, p, id, scopes, seen, false)
}

// renewForced is renew for a refresh asked for whatever the token's
// expiry (RefreshConnection): only a refresh stored after the caller read
// version seen satisfies it.
func (e *Engine) renewForced(ctx context.Context, p *authflow.Provider, id string, scopes []string, seen uint64) (tokenSet, error) {
	return e.renewWith(ctx, p, id, scopes, seen, true)
}

func (e *Engine) renewWith(ctx context.Context, p *authflow.Provider, id string, scopes []string, seen uint64, force bool) (tokenSet, error) {
	// A service token's id names its scope set (store.ServiceConnectionID),
	// so callers of different scope sets never share an attempt.
	key := id
	if force {
		// A forced refresh must not join an attempt that finds the token
		// fresh and returns it unrefreshed.
		key += "\x00force"
	}
	v, err := e.refreshes.Do(ctx, key, e.spawnWork, func() (any, error) {
		// The attempt outlives any one caller: others may be waiting on it.
		return e.renewLocked(context.WithoutCancel(ctx), p, id, scopes, seen, force)
	})
	if err != nil {
		return tokenSet{}, err
	}
	return v.(tokenSet), nil
}

// satisfied reports whether a connection read after waiting for the lock
// already holds what the caller needs: it is connected, covers the scopes,
// and is fresh or was rewritten since the caller first read it (another
// caller refreshed it). For a forced refresh only the latter counts.
func (e *Engine) satisfied(conn store.Connection, scopes []string, seen uint64, force bool) bool {
	if conn.Status != store.ConnectionConnected || !covers(conn.Scopes, scopes) {
		return false
	}
	if !force && !e.stale(conn) {
		return true
	}
	// Rewritten since the caller read it: another caller refreshed it. Use
	// it unless it has actually expired.
	return seen != 0 && conn.Version != seen && (conn.ExpiresAt.IsZero() || e.now().Before(conn.ExpiresAt))
}

func (e *Engine) renewLocked(ctx context.Context, p *authflow.Provider, id string, scopes []string, seen uint64, force bool) (tokenSet, error) {
	signals, cancel := store.SubscribeChan(ctx, e.store, "conn:"+id)
	defer cancel()
	lockName := "refresh:" + id

	// A token an earlier refresh of ours could not store goes first: its
	// refresh token may be the only valid one. Storing it also releases
	// the lease we kept for it.
	if err := e.saveUnsaved(ctx, id); err != nil {
		return tokenSet{}, err
	}

	// Waiting for another holder is bounded on its own (a live holder
	// finishes within one provider call, one save and one lease; a crashed
	// one stops renewing and its lease ends within one lease); the work
	// budget starts only once this caller holds the lock.
	waitCtx, cancelWait := context.WithTimeout(ctx, e.timeout+e.saveBudget+e.lease)
	defer cancelWait()
	var owner string
	pause := newBackoff(100*time.Millisecond, 500*time.Millisecond)
	for {
		token, err := e.store.Lock(waitCtx, lockName, e.lease)
		if err == nil {
			owner = token
			break
		}
		if !errors.Is(err, store.ErrLockHeld) {
			return tokenSet{}, storeErr("lock connection for refresh", err)
		}
		// Another instance is refreshing: wait for its signal (or a short
		// tick, in case it crashed and its lease runs out), then re-read.
		tick := e.clock.NewTimer(pause.pause())
		select {
		case <-signals:
		case <-tick.C:
		case <-waitCtx.Done():
			tick.Stop()
			return tokenSet{}, fmt.Errorf("wait for another refresh of the connection: %w", ErrProviderUnavailable)
		}
		tick.Stop()
		if ts, done, err := e.reread(waitCtx, id, scopes, seen, force); done || err != nil {
			return ts, err
		}
	}
	// The lease is short and renewed while this caller holds it. When it
	// cannot be renewed the provider call is abandoned before the lease
	// can run out, so no other instance refreshes while this refresh may
	// still reach the provider.
	wctx, cancelWork := context.WithCancelCause(ctx)
	defer cancelWork(nil)
	stopRenewing := e.holdLease(lockName, owner, func() { cancelWork(errLeaseLost) })
	release := true
	defer func() {
		stopRenewing()
		if !release {
			// A refreshed token could not be stored: keepUnsaved keeps the
			// lease (renewing it) until the token is stored, so no other
			// instance refreshes with the old, already used refresh token
			// meanwhile.
			return
		}
		uctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := e.store.Unlock(uctx, lockName, owner); err != nil {
			e.log.Warn("release refresh lock", "connection_id", id, "err", err)
		}
	}()

	if ts, done, err := e.reread(wctx, id, scopes, seen, force); done || err != nil {
		return ts, err
	}
	conn, err := e.store.GetConnection(wctx, id)
	exists := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return tokenSet{}, storeErr("read connection", err)
	}
	if p.GrantType() == config.GrantClientCredentials {
		// Exactly the caller's scopes, or the record's own when it is
		// renewed for a status request: never a union.
		if scopes == nil {
			scopes = conn.Scopes
		}
		return e.fetchServiceToken(wctx, p, scopes)
	}
	if !exists {
		return tokenSet{}, ErrNeedsReauth
	}
	old, err := e.openToken(conn)
	if err != nil {
		return tokenSet{}, err
	}
	if !p.CanRefresh() || old.RefreshToken == "" {
		if force && (conn.ExpiresAt.IsZero() || e.now().Before(conn.ExpiresAt)) {
			return tokenSet{}, errCannotRefresh
		}
		if e.now().Before(conn.ExpiresAt) {
			return old, nil // still valid, just inside the margin
		}
		e.metrics.Refreshes.WithLabelValues(p.ID(), "no_refresh_token").Inc()
		return e.superseded(ctx, conn, scopes, e.markStatus(ctx, conn, store.ConnectionExpired, "the access token expired and it cannot be refreshed; the user must authorize again", "no_refresh_token"))
	}
	ts, err := e.refresh(wctx, ctx, p, conn, old, lockName, owner)
	if errors.Is(err, errUnsaved) {
		release = false
	}
	if err != nil {
		return e.superseded(ctx, conn, scopes, err)
	}
	return ts, nil
}

// superseded turns errConnChanged (the record was rewritten while this
// refresh held the lock: a new authorization, a disconnect) into the
// record's current token, or ErrNeedsReauth when it holds none.
func (e *Engine) superseded(ctx context.Context, conn store.Connection, scopes []string, err error) (tokenSet, error) {
	if !errors.Is(err, errConnChanged) {
		return tokenSet{}, err
	}
	if ts, done, rerr := e.reread(ctx, conn.ID, scopes, conn.Version, false); done || rerr != nil {
		return ts, rerr
	}
	return tokenSet{}, ErrNeedsReauth
}

// reread returns the connection's token when another caller already made it
// fresh (done=true).
func (e *Engine) reread(ctx context.Context, id string, scopes []string, seen uint64, force bool) (tokenSet, bool, error) {
	conn, err := e.store.GetConnection(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return tokenSet{}, false, nil
	}
	if err != nil {
		return tokenSet{}, true, storeErr("read connection", err)
	}
	if !usable(conn) && conn.UserID != "" {
		return tokenSet{}, true, ErrNeedsReauth
	}
	if !e.satisfied(conn, scopes, seen, force) {
		return tokenSet{}, false, nil
	}
	ts, err := e.openToken(conn)
	return ts, true, err
}

// errUnsaved: the provider issued a token the store did not take. It is
// kept in memory (see saveUnsaved) and the refresh lock is not released.
var errUnsaved = errors.New("refreshed token not yet stored")

// errConnChanged: the connection was rewritten (a new authorization, a
// disconnect, another refresh) since it was read under the lock.
var errConnChanged = errors.New("connection changed during refresh")

// unsavedToken is a refreshed token set that could not be stored yet.
type unsavedToken struct {
	scopes []string
	ts     tokenSet
	// base is the record the token replaces; the write happens only if
	// the record is still exactly that one.
	base store.Connection
	// lock and owner are the refresh lease kept while the token is unsaved.
	lock, owner string
}

// keepUnsaved remembers a refreshed token set the store did not take and
// retries the write in the background until it lands, the connection
// changes, unsavedKeep passes (by the engine's clock) or the engine closes
// (Close writes it first). The refresh lease stays held and renewed
// meanwhile, so no other instance refreshes with the old, already used
// refresh token; it is released once the token lands. A store outage
// longer than the lease can still let one through: the lease cannot be
// renewed while the store does not answer.
func (e *Engine) keepUnsaved(u unsavedToken) {
	e.unsavedMu.Lock()
	e.unsaved[u.base.ID] = u
	e.unsavedMu.Unlock()
	e.spawnBackground(func(ctx context.Context) {
		pause := newBackoff(100*time.Millisecond, min(time.Second, e.lease/3))
		deadline := e.now().Add(unsavedKeep)
		for e.now().Before(deadline) {
			if pause.wait(ctx, e.clock) != nil {
				return // Close writes what is left
			}
			rctx, cancel := context.WithTimeout(ctx, e.lease/3)
			err := e.store.Renew(rctx, u.lock, u.owner, e.lease)
			cancel()
			if errors.Is(err, store.ErrLockLost) {
				e.log.Warn("the refresh lease of a token not yet stored ran out; another refresh of the connection may be refused by the provider", "connection_id", u.base.ID)
			}
			if !e.holdsUnsaved(u) {
				return
			}
			if err := e.saveUnsaved(ctx, u.base.ID); err == nil {
				return
			}
		}
		e.log.Error("gave up storing a refreshed token; the connection may need re-authorization", "connection_id", u.base.ID)
		e.unsavedMu.Lock()
		if cur, ok := e.unsaved[u.base.ID]; ok && cur.owner == u.owner {
			delete(e.unsaved, u.base.ID)
		}
		e.unsavedMu.Unlock()
	})
}

// unsavedKeep is how long a refreshed token the store did not take is
// retried in the background.
const unsavedKeep = 10 * time.Minute

// holdsUnsaved reports whether u is still the kept token of its connection.
func (e *Engine) holdsUnsaved(u unsavedToken) bool {
	e.unsavedMu.Lock()
	defer e.unsavedMu.Unlock()
	cur, ok := e.unsaved[u.base.ID]
	return ok && cur.owner == u.owner
}

// errLeaseLost cancels a refresh whose lease could not be renewed.
var errLeaseLost = errors.New("the refresh lease could not be renewed")

// holdLease renews the lease name (owned by owner) every third of the
// lease until the returned stop is called. When the store says the lease
// is lost, or it could not be renewed for two thirds of the lease (so it
// may run out soon), lost is called once and renewing stops.
func (e *Engine) holdLease(name, owner string, lost func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		every := e.lease / 3
		renewed := e.now()
		for {
			tick := e.clock.NewTimer(every)
			select {
			case <-done:
				tick.Stop()
				return
			case <-tick.C:
			}
			// The renewal's own bound is real time: it bounds a store call.
			ctx, cancel := context.WithTimeout(context.Background(), every)
			err := e.store.Renew(ctx, name, owner, e.lease)
			cancel()
			switch {
			case err == nil:
				renewed = e.now()
			case errors.Is(err, store.ErrLockLost) || e.now().Sub(renewed) >= e.lease-every:
				e.log.Warn("refresh lease lost; abandoning the provider call", "lock", name, "err", err)
				lost()
				return
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// saveUnsaved stores the token set an earlier refresh could not store, if
// there is one, and releases the lease kept for it. It returns nil when
// there was none, when it is stored, or when the connection has changed
// since (the token belongs to a chain that no longer matters).
func (e *Engine) saveUnsaved(ctx context.Context, id string) error {
	e.unsavedMu.Lock()
	u, ok := e.unsaved[id]
	e.unsavedMu.Unlock()
	if !ok {
		return nil
	}
	_, err := e.saveConnection(ctx, id, u.base.UserID, u.base.ProviderID, u.scopes, u.ts, &u.base, nil)
	switch {
	case err == nil:
		e.log.Info("stored a refreshed token kept in memory after a store failure", "connection_id", id)
	case errors.Is(err, errConnChanged):
	default:
		return fmt.Errorf("store refreshed token: %w", err)
	}
	e.unsavedMu.Lock()
	if cur, ok := e.unsaved[id]; ok && cur.owner == u.owner {
		delete(e.unsaved, id)
	}
	e.unsavedMu.Unlock()
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := e.store.Unlock(uctx, u.lock, u.owner); err != nil {
		e.log.Warn("release refresh lock", "connection_id", id, "err", err)
	}
	return nil
}

// refresh runs the provider's refresh request while holding the lock, and
// stores the result (a rotated refresh token first of all) before anyone
// gets the new access token. work bounds the provider call; base outlives
// it for the store write.
func (e *Engine) refresh(work, base context.Context, p *authflow.Provider, conn store.Connection, old tokenSet, lock, owner string) (tokenSet, error) {
	p = p.WithConnection(old.Variables)
	pctx, cancel := e.providerContext(work)
	start := time.Now()
	req := old.oauth()
	req.Scopes = conn.Scopes
	tok, err := p.Refresh(pctx, e.clientFor(p), req)
	answered := time.Now()
	cancel()
	e.metrics.observe(p.ID(), "refresh", start, err)
	if err != nil {
		e.clientRefused(base, p, err)
		return tokenSet{}, e.refreshFailed(base, p, conn, err)
	}
	// authflow keeps the old refresh token when the provider sent none.
	info := old.UserInfo
	if tok.Claims != nil {
		// A new verified id_token: its claims are the user info now.
		info = tok.Claims
	}
	ts := tokenSetFrom(tok, info)
	ts.Extra = carryMetadata(old.Extra, ts.Extra)
	ts.Variables = old.Variables
	scopes := union(conn.Scopes, tok.Scopes)
	saved, err := e.saveConnection(base, conn.ID, conn.UserID, p.ID(), scopes, ts, &conn, nil)
	if err == nil {
		e.metrics.RefreshUnsaved.Observe(time.Since(answered).Seconds())
	}
	switch {
	case errors.Is(err, errConnChanged):
		// Re-authorized or disconnected meanwhile: that state wins.
		e.metrics.Refreshes.WithLabelValues(p.ID(), "superseded").Inc()
		return tokenSet{}, err
	case err != nil:
		e.metrics.Refreshes.WithLabelValues(p.ID(), "store_error").Inc()
		e.keepUnsaved(unsavedToken{scopes: scopes, ts: ts, base: conn, lock: lock, owner: owner})
		e.log.Error("refreshed token could not be stored; kept in memory and retried", "provider", p.ID(), "connection_id", conn.ID, "err", err)
		return tokenSet{}, fmt.Errorf("%w: %w", errUnsaved, err)
	}
	e.metrics.Refreshes.WithLabelValues(p.ID(), "success").Inc()
	e.log.InfoContext(base, "token refreshed", "provider", p.ID(), "connection_id", conn.ID)

	// User info comes after the rotated token is safe.
	if p.UserInfoOnRefresh() {
		withMeta := *tok
		withMeta.Extra = ts.Extra
		if info, err := e.userInfo(work, p, &withMeta); err != nil {
			e.log.WarnContext(base, "user info after refresh failed; keeping the previous user info", "provider", p.ID(), "err", err)
		} else {
			ts.UserInfo = info
			if _, err := e.saveConnection(base, conn.ID, conn.UserID, p.ID(), scopes, ts, &saved, nil); err != nil {
				e.log.WarnContext(base, "store user info after refresh", "provider", p.ID(), "connection_id", conn.ID, "err", err)
			}
		}
	}
	return ts, nil
}

// fetchServiceToken runs the client-credentials grant and stores the token.
func (e *Engine) fetchServiceToken(ctx context.Context, p *authflow.Provider, scopes []string) (tokenSet, error) {
	pctx, cancel := e.providerContext(ctx)
	start := time.Now()
	tok, err := p.ClientCredentials(pctx, e.clientFor(p), scopes)
	cancel()
	e.metrics.observe(p.ID(), "client_credentials", start, err)
	if err != nil {
		if authflow.IsRetryable(err) {
			return tokenSet{}, fmt.Errorf("client credentials for provider %q: %w: %w", p.ID(), ErrProviderUnavailable, err)
		}
		return tokenSet{}, &ProviderFailedError{ProviderID: p.ID(), Reason: providerReason(err)}
	}
	ts := tokenSetFrom(tok, nil)
	scopes = scopeSet(scopes)
	id := store.ServiceConnectionID(p.ID(), scopes)
	_, gerr := e.store.GetConnection(ctx, id)
	// A service token has no chain to protect: last writer wins.
	if _, err := e.saveConnection(context.WithoutCancel(ctx), id, "", p.ID(), scopes, ts, nil, nil); err != nil {
		return tokenSet{}, err
	}
	if errors.Is(gerr, store.ErrNotFound) {
		e.boundServiceTokens(context.WithoutCancel(ctx), p, id)
	}
	return ts, nil
}

// needsReauth reports a refresh refusal that only a new authorization can
// fix: the grant is invalid, expired or revoked, or the client may no
// longer use it.
func needsReauth(err error) bool {
	if authflow.IsInvalidGrant(err) {
		return true
	}
	var pe *authflow.ProviderError
	return errors.As(err, &pe) && pe.Code == "unauthorized_client"
}

// refreshFailed classifies a failed refresh: invalid_grant (or
// unauthorized_client) means the user must authorize again; network errors
// and 5xx keep the state and are retryable; anything else is reported as
// the provider's refusal.
func (e *Engine) refreshFailed(ctx context.Context, p *authflow.Provider, conn store.Connection, err error) error {
	switch {
	case needsReauth(err):
		e.metrics.Refreshes.WithLabelValues(p.ID(), "invalid_grant").Inc()
		e.log.WarnContext(ctx, "refresh token refused; connection needs re-authorization", "provider", p.ID(), "connection_id", conn.ID, "err", err)
		return e.markStatus(ctx, conn, refusalStatus(err), "the provider refused the refresh token ("+providerReason(err)+"); the user must authorize again", refusalKind(err))
	case authflow.IsRetryable(err):
		e.metrics.Refreshes.WithLabelValues(p.ID(), "retryable_error").Inc()
		e.log.WarnContext(ctx, "refresh failed; will retry on the next request", "provider", p.ID(), "connection_id", conn.ID, "err", err)
		e.appendEvents(ctx, e.connEvent(events.ConnectionRefreshFailed, conn, conn.Status, "the provider could not be reached or answered with a server error; the refresh is retried on the next request", "retryable_error"))
		return fmt.Errorf("refresh token for provider %q: %w: %w", p.ID(), ErrProviderUnavailable, err)
	default:
		e.metrics.Refreshes.WithLabelValues(p.ID(), "provider_error").Inc()
		e.log.WarnContext(ctx, "refresh refused by provider", "provider", p.ID(), "connection_id", conn.ID, "err", err)
		e.appendEvents(ctx, e.connEvent(events.ConnectionRefreshFailed, conn, conn.Status, "the provider refused the refresh: "+providerReason(err), "provider_error"))
		return &ProviderFailedError{ProviderID: p.ID(), Reason: providerReason(err)}
	}
}

// sameRecord reports whether c is still exactly the record base: the same
// version and the same sealed bytes (every seal has a fresh nonce, and a
// deleted and re-created connection starts again at version 1).
func sameRecord(c, base store.Connection) bool {
	return c.Version == base.Version && bytes.Equal(c.Sealed, base.Sealed)
}

// saveConnection seals ts and writes it as the connection's token state.
// With a base record the write happens only if the record is still exactly
// that one (errConnChanged otherwise); with nil it overwrites. The write
// runs on a context no caller can cancel and is retried briefly while the
// store is unavailable: a refreshed token that is not stored is a token
// chain lost. with, when set, sets further fields of the record (declined
// scopes, the account label) before it is written; a field it leaves keeps
// its stored value. evs are written in the same store write.
func (e *Engine) saveConnection(ctx context.Context, id, userID, providerID string, scopes []string, ts tokenSet, base *store.Connection, with func(*store.Connection), evs ...store.Event) (store.Connection, error) {
	sealed, err := e.sealJSON(ts, connAAD(id))
	if err != nil {
		return store.Connection{}, err
	}
	var (
		landed  store.Connection
		change  StatusChange
		changed bool
	)
	write := func(c store.Connection, exists bool) (store.Connection, error) {
		if base != nil && (!exists || !sameRecord(c, *base)) {
			// Our own earlier attempt may have landed without its reply.
			if exists && c.Version == base.Version+1 && bytes.Equal(c.Sealed, sealed) {
				landed = c
				return c, errAlreadySaved
			}
			return c, errConnChanged
		}
		c.ID = id
		c.UserID = userID
		c.ProviderID = providerID
		c.Scopes = scopes
		c.ExpiresAt = ts.Expiry
		c.Sealed = sealed
		if with != nil {
			with(&c)
		}
		change, changed = applyStatus(&c, exists, store.ConnectionConnected, "", e.now())
		return c, nil
	}
	var saved store.Connection
	err = e.retryStore(ctx, func(sctx context.Context) (err error) {
		saved, err = e.store.UpdateConnectionEvents(sctx, id, evs, write)
		return err
	})
	e.connWritten(id)
	e.connCounts.invalidate()
	switch {
	case err == nil:
	case errors.Is(err, errAlreadySaved):
		saved = landed
	case errors.Is(err, errConnChanged):
		return store.Connection{}, err
	default:
		return store.Connection{}, storeErr("store connection", err)
	}
	e.notifyConn(ctx, id)
	if changed {
		e.statusChanged(ctx, change)
	}
	return saved, nil
}

// retryStore runs a write that must not be lost on a context no caller can
// cancel, retrying it for up to the save budget while the store is unavailable
// or the compare-and-swap keeps losing. Any other error ends it.
func (e *Engine) retryStore(ctx context.Context, write func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.saveBudget)
	defer cancel()
	pause := newBackoff(100*time.Millisecond, time.Second)
	for {
		err := write(ctx)
		if err == nil || !errors.Is(err, store.ErrUnavailable) && !errors.Is(err, store.ErrConflict) {
			return err
		}
		if pause.wait(ctx, e.clock) != nil {
			return err
		}
	}
}

// errAlreadySaved: a retried write found its own earlier attempt stored.
var errAlreadySaved = errors.New("already stored")

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
	info, err := p.UserInfo(pctx, e.clientFor(p), tok)
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
	if be, ok := errors.AsType[*netguard.BlockedError](err); ok {
		// The class only: the address is what this engine's resolver
		// answered, which apps must not learn.
		return "the provider's address is not a public one (" + be.Class + "); security.allow_private_endpoints allows it"
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
