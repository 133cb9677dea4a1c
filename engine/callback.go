package engine

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/authengine/authengine/authflow"
	"github.com/authengine/authengine/engine/events"
	"github.com/authengine/authengine/engine/store"
)

// CallbackQuery is what the provider put on the redirect to /oauth/callback.
type CallbackQuery struct {
	State            string
	Code             string
	Error            string
	ErrorDescription string
	// Params is the whole redirect query; the names the provider's
	// oauth2.redirect_metadata lists are kept with the token.
	Params url.Values
}

// CallbackResult says how the browser's visit to the callback ended.
type CallbackResult struct {
	FlowID     string
	ProviderID string
	// Status is completed, failed or verifying (user verification on).
	Status store.FlowStatus
	// Reason explains a failure for the app (it may hold the provider's
	// error_description, which the provider or whoever crafted the redirect
	// chose); the browser page shows its own wording for Kind instead.
	Reason string
	// Kind names a failure from a fixed set: access_denied, invalid_scope,
	// server_error, temporarily_unavailable, invalid_request,
	// unauthorized_client, unsupported_response_type, provider_error,
	// provider_removed, no_code, root_key_missing, internal,
	// token_exchange, user_info, store, scope_not_granted,
	// refresh_verification_failed.
	Kind string
	// RedirectURL, when set, is where the browser goes next (next_uri, or
	// the app's verifier URL).
	RedirectURL string
}

// Callback completes a flow from the provider's redirect: it consumes the
// state (single use), exchanges the code with the PKCE verifier, fetches
// user info when configured, seals and stores the token, completes the
// flow and wakes its waiters. A provider failure ends the flow failed with a
// reason; ErrInvalidState means nothing was found to complete.
func (e *Engine) Callback(ctx context.Context, q CallbackQuery) (CallbackResult, error) {
	if q.State == "" {
		return CallbackResult{}, ErrInvalidState
	}
	f, err := e.store.ConsumeState(ctx, store.HashState(q.State))
	if errors.Is(err, store.ErrNotFound) {
		return CallbackResult{}, ErrInvalidState
	}
	if err != nil {
		return CallbackResult{}, storeErr("consume state", err)
	}
	if f.Status != store.FlowPending {
		return CallbackResult{}, ErrInvalidState
	}
	// The state is spent: from here the flow must end completed or failed
	// even if the browser goes away, or its waiters would spin until it
	// expires.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*e.timeout+e.saveBudget)
	defer cancel()
	res := CallbackResult{FlowID: f.ID, ProviderID: f.ProviderID}
	fail := func(kind, reason string) (CallbackResult, error) {
		res.Status, res.Reason, res.Kind = store.FlowFailed, reason, kind
		return res, e.failFlow(ctx, f, kind, reason)
	}

	p, err := e.provider(f.ProviderID)
	if err != nil {
		return fail("provider_removed", "the provider is no longer configured")
	}
	if q.Error != "" {
		reason := "the provider reported " + clip(q.Error)
		if q.ErrorDescription != "" {
			reason += ": " + clip(q.ErrorDescription)
		}
		return fail(oauthKind(q.Error), reason)
	}
	if q.Code == "" {
		return fail("no_code", "the provider's redirect carried no authorization code")
	}
	var secrets flowSecrets
	if err := e.openJSON(f.Sealed, flowAAD(f.ID), &secrets); err != nil {
		e.log.ErrorContext(ctx, "open flow secrets", "flow_id", f.ID, "err", err)
		var mk *KeyMissingError
		if errors.As(err, &mk) {
			return fail("root_key_missing", fmt.Sprintf("the authorization was started under root key %q, which is no longer configured; start again", mk.KeyID))
		}
		return fail("internal", "the authorization could not be completed; start again")
	}

	p = p.WithConnection(secrets.Variables).WithNonce(secrets.Nonce)
	pctx, cancelProvider := e.providerContext(ctx)
	start := time.Now()
	tok, err := p.Exchange(pctx, e.clientFor(p), q.Code, secrets.Verifier)
	cancelProvider()
	e.metrics.observe(p.ID(), "token", start, err)
	if err != nil {
		e.log.WarnContext(ctx, "code exchange failed", "provider", p.ID(), "flow_id", f.ID, "err", err)
		if ie, ok := errors.AsType[*authflow.IDTokenError](err); ok {
			return fail("id_token_invalid", "the provider's id_token was refused: "+clip(ie.Reason))
		}
		e.clientRefused(ctx, p, err)
		return fail("token_exchange", "the code exchange failed: "+providerReason(err))
	}
	// The redirect's metadata is kept first, so user info and the
	// verifying refresh may use it (<<metadata.NAME>>).
	keepRedirectMetadata(p, q.Params, tok)
	var info map[string]any
	if p.IDTokenUserInfo() {
		info = tok.Claims
	} else if p.UserInfoOnGrant() {
		info, err = e.userInfo(ctx, p, tok)
		if err != nil {
			e.log.WarnContext(ctx, "user info failed", "provider", p.ID(), "flow_id", f.ID, "err", err)
			return fail("user_info", "fetching the user's info failed: "+providerReason(err))
		}
	}
	granted, missing := grantedScopes(f.Scopes, tok.Scopes)
	if p.VerifyRefresh() {
		verified, err := e.verifyRefresh(ctx, p, tok, granted)
		if err != nil {
			e.log.WarnContext(ctx, "refresh right after the grant failed (oauth2.verify_refresh)", "provider", p.ID(), "flow_id", f.ID, "err", err)
			return fail("refresh_verification_failed", err.Error())
		}
		verified.Extra = carryMetadata(tok.Extra, verified.Extra)
		tok = verified
	}
	ts := tokenSetFrom(tok, info)
	ts.Variables = secrets.Variables

	if e.verifierURL != "" {
		secrets.Pending, secrets.PendingScopes, secrets.PendingMissing = &ts, granted, missing
		sealed, err := e.sealJSON(secrets, flowAAD(f.ID))
		if err == nil {
			_, err = e.store.UpdateFlow(ctx, f.ID, func(cur store.Flow) (store.Flow, error) {
				cur.Status, cur.Sealed, cur.UpdatedAt = store.FlowVerifying, sealed, e.now()
				return cur, nil
			})
		}
		if err != nil {
			e.log.WarnContext(ctx, "hold flow for user verification", "flow_id", f.ID, "err", err)
			res, _ := fail("store", "the authorization could not be saved; start again")
			return res, storeErr("update flow", err)
		}
		res.Status = store.FlowVerifying
		res.RedirectURL = withQuery(e.verifierURL, "flow_id", f.ID)
		return res, nil
	}

	if err := e.complete(ctx, p, f, granted, missing, ts); err != nil {
		var sng *scopeNotGrantedError
		if errors.As(err, &sng) {
			res.Status, res.Reason, res.Kind = store.FlowFailed, sng.reason, "scope_not_granted"
			return res, nil
		}
		e.log.WarnContext(ctx, "complete flow", "flow_id", f.ID, "err", err)
		res, _ := fail("store", "the connection could not be saved; start again")
		return res, err
	}
	res.Status = store.FlowCompleted
	res.RedirectURL = f.NextURI
	return res, nil
}

// complete stores the connection, then marks the flow completed and wakes
// its waiters. When the provider did not grant every scope asked for
// (missing), the connection still keeps what was granted, remembers the
// missing scopes as declined, and the flow ends failed with
// scope_not_granted (a *scopeNotGrantedError): the app learns why instead
// of starting the same authorization again and again.
func (e *Engine) complete(ctx context.Context, p *authflow.Provider, f store.Flow, scopes, missing []string, ts tokenSet) error {
	id := store.AccountConnectionID(p.ID(), f.UserID, f.Account)
	created := e.newEvent(events.ConnectionCreated, id, events.Data{
		ProviderID: p.ID(), UserID: f.UserID, Account: f.Account, ConnectionID: id, FlowID: f.ID, Status: string(store.ConnectionConnected),
	})
	if _, err := e.saveConnection(ctx, id, f.UserID, p.ID(), scopes, ts, nil, func(c *store.Connection) {
		c.DeclinedScopes = missing
		c.Account = f.Account
	}, created...); err != nil {
		return err
	}
	if len(missing) > 0 {
		reason := scopeNotGrantedReason(p.ID(), missing)
		if err := e.failFlow(ctx, f, "scope_not_granted", reason, missing...); err != nil {
			return err
		}
		return &scopeNotGrantedError{reason: reason}
	}
	// The connection is stored: the flow must now read completed, even if
	// the store needs a few tries.
	now := e.now()
	err := e.retryStore(ctx, func(ctx context.Context) error {
		_, err := e.store.UpdateFlow(ctx, f.ID, func(cur store.Flow) (store.Flow, error) {
			cur.Status = store.FlowCompleted
			cur.ConnectionID = id
			cur.Sealed = nil
			cur.UpdatedAt = now
			// Keep the result readable for a while after completion.
			cur.ExpiresAt = now.Add(e.flowTTL)
			return cur, nil
		})
		return err
	})
	// A flow that expired meanwhile has no one left to tell; the connection
	// is what matters.
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return storeErr("complete flow", err)
	}
	e.metrics.FlowsCompleted.WithLabelValues(p.ID()).Inc()
	e.log.InfoContext(ctx, "authorization flow completed", "flow_id", f.ID, "provider", p.ID(), "connection_id", id)
	e.notifyFlow(ctx, f.ID)
	return nil
}

// scopeNotGrantedError: a flow stored its connection but ended failed
// because the provider did not grant every scope asked for.
type scopeNotGrantedError struct{ reason string }

func (e *scopeNotGrantedError) Error() string { return e.reason }

// failFlow ends a flow failed with a client-safe reason and its kind (and
// the scopes the provider did not grant, for scope_not_granted), drops its
// secrets and wakes its waiters.
func (e *Engine) failFlow(ctx context.Context, f store.Flow, kind, reason string, missing ...string) error {
	now := e.now()
	evs := e.newEvent(events.FlowFailed, f.ID, events.Data{
		ProviderID: f.ProviderID, UserID: f.UserID, Account: f.Account, FlowID: f.ID, Status: string(store.FlowFailed), Reason: reason, Kind: kind,
	})
	_, err := e.store.UpdateFlowEvents(ctx, f.ID, evs, func(cur store.Flow) (store.Flow, error) {
		if cur.Status == store.FlowCompleted {
			return cur, errFlowEnded
		}
		cur.Status = store.FlowFailed
		cur.Error = reason
		cur.ErrorKind = kind
		cur.MissingScopes = missing
		cur.Sealed = nil
		cur.UpdatedAt = now
		cur.ExpiresAt = now.Add(e.flowTTL)
		return cur, nil
	})
	if errors.Is(err, errFlowEnded) {
		return nil
	}
	if err != nil {
		return storeErr("fail flow", err)
	}
	e.metrics.FlowsFailed.WithLabelValues(f.ProviderID, kind).Inc()
	e.log.InfoContext(ctx, "authorization flow failed", "flow_id", f.ID, "provider", f.ProviderID, "reason", reason)
	e.notifyFlow(ctx, f.ID)
	return nil
}

func (e *Engine) notifyFlow(ctx context.Context, id string) {
	if err := e.store.Notify(ctx, id); err != nil {
		e.log.WarnContext(ctx, "notify flow change", "flow_id", id, "err", err)
	}
}

// oauthKind keeps metric labels to a fixed set.
func oauthKind(code string) string {
	switch code {
	case "access_denied", "invalid_scope", "server_error", "temporarily_unavailable", "invalid_request", "unauthorized_client", "unsupported_response_type":
		return code
	}
	return "provider_error"
}

// ConfirmUser finishes a flow held for user verification: when userID is
// the user the flow was started for, the token is stored and the flow
// completes; otherwise the flow fails and nothing is stored. It returns the
// flow's next_uri.
func (e *Engine) ConfirmUser(ctx context.Context, flowID, userID string) (string, error) {
	if flowID == "" || userID == "" {
		return "", badRequest("invalid_request", "flow_id and user_id are required")
	}
	// Once claimed, the flow ends completed or failed whatever the caller
	// does, so the work runs on a context the caller cannot cancel.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.saveBudget+5*time.Second)
	defer cancel()
	// Claim the flow: of concurrent confirmations, one proceeds.
	var claimed store.Flow
	_, err := e.store.UpdateFlow(ctx, flowID, func(cur store.Flow) (store.Flow, error) {
		if cur.Status != store.FlowVerifying {
			return cur, errNotVerifying
		}
		claimed = cur
		cur.Status = store.FlowPending // held by this call; never observed as verifying twice
		cur.UpdatedAt = e.now()
		return cur, nil
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", ErrFlowNotFound
	case errors.Is(err, errNotVerifying):
		return "", &RequestError{Name: "flow_not_awaiting_confirmation", Message: "the flow is not waiting for user confirmation", Status: 409}
	case err != nil:
		return "", storeErr("claim flow", err)
	}
	if claimed.UserID != userID {
		if err := e.failFlow(ctx, claimed, "user_mismatch", "user verification failed: the account was connected by a different user"); err != nil {
			return "", err
		}
		return "", &RequestError{Name: "user_mismatch", Message: "user_id does not match the user the flow was started for; the flow has failed", Status: 403}
	}
	err = e.confirmClaimed(ctx, claimed)
	if err != nil {
		e.log.WarnContext(ctx, "confirm user", "flow_id", flowID, "err", err)
		if ferr := e.failFlow(ctx, claimed, "store", "the connection could not be saved; start again"); ferr != nil {
			e.log.WarnContext(ctx, "fail flow after confirmation error", "flow_id", flowID, "err", ferr)
		}
		return "", err
	}
	return claimed.NextURI, nil
}

// confirmClaimed stores the token a verified flow holds and completes it.
func (e *Engine) confirmClaimed(ctx context.Context, claimed store.Flow) error {
	var secrets flowSecrets
	if err := e.openJSON(claimed.Sealed, flowAAD(claimed.ID), &secrets); err != nil {
		return err
	}
	if secrets.Pending == nil {
		return fmt.Errorf("confirm flow %s: no pending token", claimed.ID)
	}
	p, err := e.provider(claimed.ProviderID)
	if err != nil {
		return err
	}
	err = e.complete(ctx, p, claimed, secrets.PendingScopes, secrets.PendingMissing, *secrets.Pending)
	var sng *scopeNotGrantedError
	if errors.As(err, &sng) {
		// Confirmed; the flow has ended failed and its status says why.
		return nil
	}
	return err
}

var errNotVerifying = errors.New("flow is not awaiting verification")

// errFlowEnded: failFlow met a flow that had already completed; it stays so.
var errFlowEnded = errors.New("flow already completed")

// Connection is a user's connection as the admin API shows it; it holds no
// secrets.
type Connection struct {
	ID         string
	UserID     string
	ProviderID string
	Status     string
	Scopes     []string
	ExpiresAt  time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// Account is the account label; empty for the default account.
	Account string
	// DeclinedScopes are scopes an authorization asked for and the
	// provider did not grant.
	DeclinedScopes []string
}

// Connections lists connections, filtered by user and provider, with the
// total count. ListConnections filters by status and account too.
func (e *Engine) Connections(ctx context.Context, userID, providerID string, offset, limit int) ([]Connection, int, error) {
	return e.ListConnections(ctx, ConnectionQuery{UserID: userID, ProviderID: providerID}, offset, limit)
}

// Disconnect drops one connection's tokens (the admin API's
// DELETE /v1/admin/user_connections/:id, the console's Disconnect); the
// provider stays configured and the user can connect again. When the
// provider has a revocation_request the token is revoked there first
// (RFC 7009); the outcome is logged and carried in the
// connection.disconnected event, and a failed revocation does not keep the
// connection.
func (e *Engine) Disconnect(ctx context.Context, id string) error {
	if err := e.removeConnection(ctx, id, events.ConnectionDisconnected, "disconnected",
		"the connection was disconnected through the admin API"); err != nil {
		return err
	}
	e.audit(ctx, "connection.delete", id, nil, false)
	return nil
}

// removeConnection revokes connection id's token at its provider when it
// can, then deletes the record together with an event of type typ (one
// store write, so the event survives a crash exactly when the deletion
// does).
func (e *Engine) removeConnection(ctx context.Context, id, typ, status, reason string) error {
	c, err := e.store.GetConnection(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return ErrConnectionNotFound
	}
	if err != nil {
		return storeErr("read connection", err)
	}
	rev := e.revoke(ctx, c)
	evs := e.newEvent(typ, c.ID, events.Data{
		ProviderID: c.ProviderID, UserID: c.UserID, Account: c.Account, ConnectionID: c.ID, Status: status,
		Reason: reason, Revocation: &rev,
	})
	err = e.store.DeleteConnectionEvents(ctx, id, evs)
	e.connWritten(id)
	e.connCounts.invalidate()
	if errors.Is(err, store.ErrNotFound) {
		return ErrConnectionNotFound
	}
	if err != nil {
		return storeErr("delete connection", err)
	}
	e.notifyConn(ctx, id)
	return nil
}
