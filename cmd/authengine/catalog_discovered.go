package main

// discoveredProvidersMarkdown is the section of docs/providers.md on
// providers that need no template: those given by their issuer, and
// remote MCP servers given by their URL (authflow/discovery).
const discoveredProvidersMarkdown = "\n## Providers without a template\n\n" +
	"### Given by the issuer (`oauth2.issuer`)\n\n" +
	"A provider that publishes OpenID Connect or RFC 8414 metadata needs only its issuer and client credentials:\n\n" +
	"```yaml\n" +
	"auth:\n" +
	"  providers:\n" +
	"    - id: acme-sso\n" +
	"      client_id: $<env:ACME_CLIENT_ID>\n" +
	"      client_secret: $<env:ACME_CLIENT_SECRET>\n" +
	"      oauth2: {issuer: https://id.acme.example/realms/main}\n" +
	"```\n\n" +
	"At start the engine reads `<issuer>/.well-known/openid-configuration` (falling back to RFC 8414's\n" +
	"`/.well-known/oauth-authorization-server`, with the issuer's path after it), requires the document to\n" +
	"name the same issuer, and fills in the authorize, token, refresh, user-info and revocation requests,\n" +
	"the client authentication and PKCE; blocks and keys you give win. id_tokens are verified against the\n" +
	"issuer's JWKS. The document is kept sealed in the store for starts while the issuer does not answer.\n" +
	"Details: [configuration.md](configuration.md) (`oauth2.issuer`).\n\n" +
	"### Remote MCP servers (`type: mcp`)\n\n" +
	"```yaml\n" +
	"auth:\n" +
	"  providers:\n" +
	"    - id: files\n" +
	"      type: mcp\n" +
	"      mcp: {url: https://mcp.example.com/mcp}\n" +
	"```\n\n" +
	"The MCP authorization flow, run at start:\n\n" +
	"1. An unauthenticated request to the server answers 401 with `WWW-Authenticate: Bearer\n" +
	"   resource_metadata=\"...\"` (and perhaps `scope`); without it, `/.well-known/oauth-protected-resource`\n" +
	"   (path-aware, then the root). The protected-resource metadata (RFC 9728) must name the server (or a\n" +
	"   parent of it) as its `resource`, and lists the authorization server.\n" +
	"2. The authorization server's metadata (RFC 8414, OpenID Connect fallback) must name the same issuer\n" +
	"   and support PKCE S256.\n" +
	"3. The engine registers: a configured `client_id`; else a client ID metadata document it serves at\n" +
	"   `<public_url>/oauth/client-metadata/<id>` when the server supports them; else RFC 7591 dynamic\n" +
	"   registration, kept sealed in the store, reused, and redone when the server answers `invalid_client`.\n" +
	"4. Authorizations use PKCE S256 and the RFC 8707 `resource` parameter on the authorize, token and\n" +
	"   refresh requests; scopes come from `oauth2.default_scopes`, else the 401 challenge, else the\n" +
	"   resource's `scopes_supported`.\n\n" +
	"Apps and tools then use the provider like any other. Errors, security and limits: [mcp.md](mcp.md).\n"
