// Package discovery completes providers that are described by metadata
// rather than by hand: an OAuth 2.0 / OpenID Connect provider given only
// its issuer (oauth2.issuer), and a remote MCP server given only its URL
// (type mcp).
//
// For an issuer it reads <issuer>/.well-known/openid-configuration,
// falling back to the RFC 8414 document (/.well-known/oauth-authorization-server
// with the issuer's path after it), checks that the document names the
// configured issuer, fills in every request block and field the operator
// left out (explicit ones win), and builds an id_token verifier on the
// issuer's JWKS (go-oidc). For an MCP server it follows the MCP
// authorization specification: protected-resource metadata (RFC 9728,
// from the server's 401 challenge or its well-known path), then the
// authorization server's metadata (RFC 8414, OpenID Connect fallback),
// then a client: a configured client id, a client ID metadata document,
// or RFC 7591 dynamic registration; and it adds the RFC 8707 resource
// parameter to the authorize, token and refresh requests.
//
// Documents and registrations are kept in a Cache (the engine keeps them
// sealed in its store), so later starts reuse a registration and a start
// while a server is unreachable uses the copy kept last time. Every fetch
// is bounded in time and size and never follows redirects; a URL that came
// from a remote document and names another host than the one the operator
// configured must pass the netguard check unless private endpoints are
// allowed, and the provider's requests then go through the guard.
//
// discovery owns the metadata and registration protocols only. It imports
// authflow, config and internal/netguard, never the engine, its store or
// its HTTP server: callers pass the HTTP client and the Cache.
package discovery
