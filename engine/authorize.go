package engine

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/authengine/authengine/authflow"
	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine/store"
)

// Authorization statuses, as Arcade's clients expect them.
const (
	StatusNotStarted = "not_started"
	StatusPending    = "pending"
	StatusCompleted  = "completed"
	StatusFailed     = "failed"
)

// AuthorizeRequest asks for a user's token for a provider.
type AuthorizeRequest struct {
	UserID string
	// ProviderID is the provider's id (or, when no id matches, its
	// built-in catalog id).
	ProviderID string
	// ProviderType must be "oauth2" or empty.
	ProviderType string
	Scopes       []string
	// NextURI is where the browser goes after the callback; its origin
	// must be allowed.
	NextURI string
	// Account labels one of several accounts the user holds at the
	// provider; empty is the user's default account.
	Account string
	// ConnectionVariables are the values of the provider's
	// oauth2.connection_variables for this connection (a tenant's
	// subdomain); left out, an existing connection's are reused.
	ConnectionVariables map[string]string
}

// Authorization is the state of an authorization as apps see it.
type Authorization struct {
	ID         string
	Status     string
	URL        string
	Scopes     []string
	ProviderID string
	UserID     string
	// Token and UserInfo are set only when Status is completed.
	Token    string
	UserInfo map[string]any
	// Metadata is the token's metadata (response_map's extra keys and
	// oauth2.redirect_metadata), set with Token.
	Metadata map[string]any
	// Reason explains a failed authorization.
	Reason string
	// ReasonName names why it failed, from a fixed set (scope_not_granted,
	// access_denied, token_exchange, ...).
	ReasonName string
	// MissingScopes are the scopes the provider did not grant
	// (ReasonName scope_not_granted).
	MissingScopes []string
	// DeclinedScopes, on a pending authorization, are the requested scopes
	// an earlier authorization asked for and the provider did not grant.
	DeclinedScopes []string
	// Account is the account label the authorization is for.
	Account string
}

// Authorize returns the user's token when they already hold one covering
// the scopes (refreshed first when it is about to expire), the service
// token of a client-credentials provider, or else a new pending flow whose
// URL the user must visit. A flow asks for the union of the scopes the user
// holds and the scopes requested.
func (e *Engine) Authorize(ctx context.Context, req AuthorizeRequest) (Authorization, error) {
	if req.UserID == "" {
		return Authorization{}, badRequest("invalid_request", "user_id is required")
	}
	if req.ProviderID == "" {
		return Authorization{}, badRequest("invalid_request", "auth_requirement.provider_id (or auth_requirement.id) is required")
	}
	if err := checkRequestLimits(req.UserID, req.NextURI, req.Scopes); err != nil {
		return Authorization{}, err
	}
	if err := checkAccount(req.Account); err != nil {
		return Authorization{}, err
	}
	// A provider id longer than any provider's cannot name one; refused
	// here, it is never echoed back in an unknown_provider message.
	if len(req.ProviderID) > config.MaxIDLength {
		return Authorization{}, badRequest("field_too_long", fmt.Sprintf("auth_requirement.provider_id is %d bytes; the limit is %d", len(req.ProviderID), config.MaxIDLength))
	}
	if req.ProviderType != "" && req.ProviderType != "oauth2" {
		if len(req.ProviderType) > config.MaxIDLength {
			return Authorization{}, badRequest("unsupported_provider_type", "provider_type is not supported; use \"oauth2\"")
		}
		return Authorization{}, badRequest("unsupported_provider_type", fmt.Sprintf("provider_type %q is not supported; use \"oauth2\"", req.ProviderType))
	}
	p, err := e.provider(req.ProviderID)
	if err != nil {
		return Authorization{}, err
	}
	scopes, err := p.Scopes(req.Scopes)
	if err != nil {
		return Authorization{}, badRequest("scope_not_allowed", err.Error())
	}
	if err := e.checkNextURI(req.NextURI); err != nil {
		return Authorization{}, err
	}
	var values map[string]string
	if len(req.ConnectionVariables) > maxConnectionVariables {
		return Authorization{}, badRequest("invalid_connection_variable", fmt.Sprintf("connection_variables holds %d variables; the limit is %d", len(req.ConnectionVariables), maxConnectionVariables))
	}
	for name := range req.ConnectionVariables {
		if len(name) > maxVariableName {
			return Authorization{}, badRequest("invalid_connection_variable", fmt.Sprintf("a connection variable's name is %d bytes; the limit is %d", len(name), maxVariableName))
		}
	}
	if len(req.ConnectionVariables) > 0 {
		if values, err = p.ConnectionValues(req.ConnectionVariables); err != nil {
			return Authorization{}, variableError(err)
		}
	}

	if p.GrantType() == config.GrantClientCredentials {
		ts, conn, err := e.serviceToken(ctx, p, scopes)
		if err != nil {
			return Authorization{}, err
		}
		return completed(conn.ID, p.ID(), req.UserID, conn.Scopes, ts), nil
	}

	ts, conn, err := e.userToken(ctx, p, req.UserID, req.Account, scopes)
	switch {
	case err == nil:
		if len(values) > 0 && !maps.Equal(values, ts.Variables) {
			return Authorization{}, variablesConflict(p, req.Account)
		}
		a := completed(conn.ID, p.ID(), req.UserID, conn.Scopes, ts)
		a.Account = conn.Account
		return a, nil
	case errors.Is(err, errNoConnection), errors.Is(err, ErrNeedsReauth):
		var mk *KeyMissingError
		if errors.As(err, &mk) {
			e.log.WarnContext(ctx, "connection sealed with a root key that is not configured; starting a new authorization to replace it",
				"connection_id", conn.ID, "provider", p.ID(), "root_key_id", mk.KeyID)
		}
		vars, err := e.flowVariables(p, req, values, conn)
		if err != nil {
			return Authorization{}, err
		}
		return e.startFlow(ctx, p.WithConnection(vars), req, scopes, nil)
	case errors.Is(err, errScopesMissing):
		vars, err := e.flowVariables(p, req, values, conn)
		if err != nil {
			return Authorization{}, err
		}
		a, err := e.startFlow(ctx, p.WithConnection(vars), req, scopes, conn.Scopes)
		if err == nil {
			a.DeclinedScopes = declinedAgain(conn.DeclinedScopes, scopes)
		}
		return a, err
	default:
		return Authorization{}, err
	}
}

var (
	errNoConnection  = errors.New("no connection")
	errScopesMissing = errors.New("connection lacks requested scopes")
)

func completed(id, providerID, userID string, scopes []string, ts tokenSet) Authorization {
	return Authorization{
		ID:         id,
		Status:     StatusCompleted,
		Scopes:     scopes,
		ProviderID: providerID,
		UserID:     userID,
		Token:      ts.AccessToken,
		UserInfo:   ts.UserInfo,
		Metadata:   ts.Extra,
	}
}

// startFlow stores a new pending flow and renders its authorize URL. p is
// bound to the flow's connection variables, if any.
func (e *Engine) startFlow(ctx context.Context, p *authflow.Provider, req AuthorizeRequest, scopes, existing []string) (Authorization, error) {
	if err := e.checkConnectionHosts(ctx, p); err != nil {
		return Authorization{}, err
	}
	if err := e.admitFlow(ctx, req.UserID); err != nil {
		return Authorization{}, err
	}
	state := authflow.NewState()
	secrets := flowSecrets{Variables: p.BoundValues()}
	challenge := ""
	if p.PKCE() {
		secrets.Verifier = authflow.NewCodeVerifier()
		challenge = authflow.S256Challenge(secrets.Verifier)
	}
	if p.IDTokenUserInfo() {
		secrets.Nonce = authflow.NewNonce()
	}
	id := newID()
	secrets.URL = p.WithNonce(secrets.Nonce).AuthorizeURL(state, scopes, existing, challenge)
	sealed, err := e.sealJSON(secrets, flowAAD(id))
	if err != nil {
		return Authorization{}, err
	}
	now := e.now()
	all := union(scopes, existing)
	f := store.Flow{
		ID:         id,
		StateHash:  store.HashState(state),
		UserID:     req.UserID,
		ProviderID: p.ID(),
		Scopes:     all,
		NextURI:    req.NextURI,
		Account:    req.Account,
		Status:     store.FlowPending,
		Sealed:     sealed,
		CreatedAt:  now,
		UpdatedAt:  now,
		ExpiresAt:  now.Add(e.flowTTL),
	}
	if err := e.store.CreateFlow(ctx, f); err != nil {
		return Authorization{}, storeErr("create flow", err)
	}
	e.metrics.FlowsStarted.WithLabelValues(p.ID()).Inc()
	e.log.InfoContext(ctx, "authorization flow started", "flow_id", id, "provider", p.ID(), "scopes", all)
	return Authorization{
		ID:         id,
		Status:     StatusPending,
		URL:        secrets.URL,
		Scopes:     all,
		ProviderID: p.ID(),
		UserID:     req.UserID,
		Account:    req.Account,
	}, nil
}

// admitFlow counts a new flow against the user's and the API key's
// limits. Each flow is a record that lives FlowTTL, so without a bound one
// caller could fill the store with pending flows.
func (e *Engine) admitFlow(ctx context.Context, userID string) error {
	now := e.now()
	if ok, wait := e.userFlows.Allow(userID, now); !ok {
		return e.tooManyFlows("this user", "flows_per_user", wait)
	}
	if actor := actorOf(ctx); actor != "unknown" {
		if ok, wait := e.keyFlows.Allow(actor, now); !ok {
			return e.tooManyFlows("this API key", "flows_per_api_key", wait)
		}
	}
	return nil
}

// tooManyFlows is the 429 answer of admitFlow, naming who hit which limit.
func (e *Engine) tooManyFlows(who, setting string, wait time.Duration) error {
	return &RequestError{Name: "too_many_flows", Status: http.StatusTooManyRequests, RetryAfter: wait,
		Message: fmt.Sprintf("%s started more authorizations than the limit allows (api.rate_limits.%s per %s); try again later", who, setting, e.flowTTL)}
}

func isOpen(s store.FlowStatus) bool { return s == store.FlowPending || s == store.FlowVerifying }

// connectionStatus answers a status request for an id that is a connection
// (Authorize answers completed authorizations with the connection's id).
func (e *Engine) connectionStatus(ctx context.Context, id string) (Authorization, error) {
	conn, err := e.store.GetConnection(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Authorization{}, ErrFlowNotFound
	}
	if err != nil {
		return Authorization{}, storeErr("read connection", err)
	}
	p, err := e.provider(conn.ProviderID)
	if err != nil {
		return Authorization{}, ErrFlowNotFound
	}
	ts, err := e.fresh(ctx, p, conn)
	if err != nil {
		if errors.Is(err, ErrNeedsReauth) {
			return Authorization{ID: id, Status: StatusFailed, ProviderID: conn.ProviderID, UserID: conn.UserID, Scopes: conn.Scopes, Reason: reauthReason(err)}, nil
		}
		return Authorization{}, err
	}
	return completed(conn.ID, conn.ProviderID, conn.UserID, conn.Scopes, ts), nil
}

// flowAuthorization renders a flow as an Authorization.
func (e *Engine) flowAuthorization(ctx context.Context, f store.Flow) (Authorization, error) {
	a := Authorization{ID: f.ID, Scopes: f.Scopes, ProviderID: f.ProviderID, UserID: f.UserID, Account: f.Account}
	switch f.Status {
	case store.FlowPending, store.FlowVerifying:
		a.Status = StatusPending
		if len(f.Sealed) > 0 {
			var secrets flowSecrets
			if err := e.openJSON(f.Sealed, flowAAD(f.ID), &secrets); err != nil {
				return Authorization{}, err
			}
			a.URL = secrets.URL
		}
	case store.FlowFailed:
		a.Status = StatusFailed
		a.Reason = f.Error
		a.ReasonName = f.ErrorKind
		a.MissingScopes = f.MissingScopes
	case store.FlowCompleted:
		a.Status = StatusCompleted
		conn, err := e.store.GetConnection(ctx, f.ConnectionID)
		if errors.Is(err, store.ErrNotFound) {
			// Disconnected since: the flow's result is gone.
			a.Status = StatusFailed
			a.Reason = "the connection was removed after the authorization completed"
			return a, nil
		}
		if err != nil {
			return Authorization{}, storeErr("read connection", err)
		}
		p, err := e.provider(conn.ProviderID)
		if err != nil {
			return Authorization{}, err
		}
		ts, err := e.fresh(ctx, p, conn)
		if errors.Is(err, ErrNeedsReauth) {
			a.Status = StatusFailed
			a.Reason = reauthReason(err)
			return a, nil
		}
		if err != nil {
			return Authorization{}, err
		}
		a.Scopes = conn.Scopes
		a.Token = ts.AccessToken
		a.UserInfo = ts.UserInfo
		a.Metadata = ts.Extra
	default:
		a.Status = StatusNotStarted
	}
	return a, nil
}

func (e *Engine) checkNextURI(raw string) error {
	if raw == "" {
		return nil
	}
	origin, err := originOf(raw)
	if err != nil || !e.origins[origin] {
		return badRequest("invalid_next_uri", "next_uri must be an absolute URL on an allowed origin (api.public_url or api.allowed_redirect_origins)")
	}
	return nil
}

// storeErr turns a store failure into an engine error: unavailability
// stays retryable, anything else is wrapped with what was being done.
// reauthReason is the client-safe reason of a needs-reauthorization error.
func reauthReason(err error) string {
	var mk *KeyMissingError
	if errors.As(err, &mk) {
		return mk.Error()
	}
	return "the connection needs re-authorization"
}

func storeErr(op string, err error) error {
	if errors.Is(err, store.ErrUnavailable) {
		return fmt.Errorf("%s: %w: %w", op, ErrStoreUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// union returns a followed by the items of b not in a.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// covers reports whether held includes every scope of want.
func covers(held, want []string) bool {
	for _, s := range want {
		if !slices.Contains(held, s) {
			return false
		}
	}
	return true
}

// withQuery adds key=value to a URL's query.
func withQuery(raw, key, value string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}
