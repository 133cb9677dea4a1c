// Package authflow runs the client side of OAuth 2.0 against providers that
// are described declaratively in engine.yaml.
//
// Compile turns one config.Provider into a Provider: every request block's
// endpoint, params and headers become <<placeholder>> templates parsed once,
// response maps become compiled jsonmap.ResponseMaps, and scope patterns are
// checked. A Provider then renders the authorize URL (with state and the
// PKCE S256 challenge) and performs the token, refresh, client-credentials
// and user-info requests, returning a Token or a typed *ProviderError.
//
// authflow owns the wire protocol only. It knows nothing of users, flows,
// stores or HTTP servers; the caller passes the *http.Client and sets
// per-request deadlines on the context (a request without a deadline gets
// DefaultTimeout).
package authflow
