// Package discovery completes providers that are described by metadata
// rather than by hand: an OAuth 2.0 / OpenID Connect provider given only
// its issuer (oauth2.issuer).
//
// It reads <issuer>/.well-known/openid-configuration, falling back to the
// RFC 8414 document (/.well-known/oauth-authorization-server with the
// issuer's path after it), checks that the document names the configured
// issuer, fills in every request block and field the operator left out
// (explicit ones win), and builds an id_token verifier on the issuer's
// JWKS (go-oidc).
//
// Documents are kept in a Cache (the engine keeps them sealed in its
// store), so a restart while the issuer is unreachable uses the copy kept
// last time. Every fetch is bounded in time and size and never follows
// redirects; a URL that came from a document and names another host than
// the issuer's must pass the netguard check unless private endpoints are
// allowed, and the provider's requests then go through the guard.
//
// discovery owns the metadata protocol only. It imports authflow, config
// and internal/netguard, never the engine, its store or its HTTP server:
// callers pass the HTTP client and the Cache.
package discovery
