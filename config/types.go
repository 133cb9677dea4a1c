package config

import (
	"strings"
	"time"
)

// Config is the file form of engine.yaml after interpolation and defaults.
// It holds no live objects; cmd/authengine translates it into runtime
// options.
type Config struct {
	// DataDir holds the embedded store and, in development mode, the
	// generated root and API keys. Default "./data".
	DataDir   string    `koanf:"data_dir"`
	API       API       `koanf:"api"`
	Security  Security  `koanf:"security"`
	Store     Store     `koanf:"store"`
	Auth      Auth      `koanf:"auth"`
	Tools     Tools     `koanf:"tools"`
	Telemetry Telemetry `koanf:"telemetry"`
	// Webhooks receive the engine's lifecycle events (docs/webhooks.md).
	Webhooks []Webhook `koanf:"webhooks"`
	// Audit configures the persisted audit log.
	Audit Audit `koanf:"audit"`
	// Refresh configures refreshing tokens ahead of need.
	Refresh Refresh `koanf:"refresh"`
	// Console is the operator console served at <public_url>/console/.
	Console Console `koanf:"console"`
	// Runtime tunes the Go runtime of the engine's process.
	Runtime Runtime `koanf:"runtime"`

	// references replaces every value that came from $<env:> or $<file:>
	// with "[redacted]" (see DisplayProviders); nil when none did.
	references *strings.Replacer
}

// API configures the HTTP listener and the keys apps and admins present.
type API struct {
	// Development lets the engine generate a root key and an API key into
	// DataDir when none is configured. Never use it in production.
	Development bool     `koanf:"development"`
	Host        string   `koanf:"host"`       // default 127.0.0.1
	Port        int      `koanf:"port"`       // default 9099
	PublicURL   string   `koanf:"public_url"` // default http://localhost:<port>
	APIKeys     []string `koanf:"api_keys"`
	AdminKeys   []string `koanf:"admin_keys"`
	// AllowedRedirectOrigins lists the origins (scheme://host[:port]) that
	// next_uri may point at. The public_url origin is always allowed.
	AllowedRedirectOrigins []string `koanf:"allowed_redirect_origins"`
	// MaxBodyBytes caps request bodies. Default 1 MiB.
	MaxBodyBytes int64 `koanf:"max_body_bytes"`
	// AdminListen, when set (host:port), serves the admin API
	// (/v1/admin/...) on its own listener and not on the main one, so it
	// can stay off the public network.
	AdminListen string `koanf:"admin_listen"`
	// ShutdownTimeout bounds a graceful stop (SIGTERM, SIGINT): held
	// waits are answered, requests and refreshes in flight finish and
	// refreshed tokens not yet stored are written within it. Default 30s.
	ShutdownTimeout time.Duration `koanf:"shutdown_timeout"`
	// RateLimits bound what one caller can make the engine do.
	RateLimits RateLimits `koanf:"rate_limits"`
	// TrustedProxies lists the addresses (CIDR or single IP) of proxies
	// whose X-Forwarded-For is believed when the engine decides a client's
	// address for rate limits. Empty: the connection's address is used.
	TrustedProxies []string `koanf:"trusted_proxies"`
	// AccessLog logs one line per request at info level (default true).
	AccessLog *bool `koanf:"access_log"`
}

// AccessLogEnabled reports whether the access log is on (default true).
func (a API) AccessLogEnabled() bool { return a.AccessLog == nil || *a.AccessLog }

// RateLimits bound requests per API key, callbacks per client address and
// authorization flows started per user and per API key. They are counted
// in each engine instance (N instances allow up to N times the rate); 0
// turns a limit off. Refusals answer 429 with Retry-After.
type RateLimits struct {
	// APIKey limits requests per API key on /v1/auth and /v1/tools.
	APIKey Rate `koanf:"api_key"`
	// Callback limits /oauth/callback requests per client address.
	Callback Rate `koanf:"callback"`
	// FlowsPerUser and FlowsPerAPIKey bound how many authorization flows
	// one user id, or one API key, may start per auth.flow_ttl.
	FlowsPerUser   int `koanf:"flows_per_user"`
	FlowsPerAPIKey int `koanf:"flows_per_api_key"`
}

// Rate is a token bucket: PerSecond tokens a second, up to Burst.
type Rate struct {
	PerSecond int `koanf:"per_second"`
	Burst     int `koanf:"burst"`
}

// RedirectURI is the callback URL every provider must have registered:
// <public_url>/oauth/callback.
func (a API) RedirectURI() string { return strings.TrimRight(a.PublicURL, "/") + "/oauth/callback" }

// Security holds the root keys that seal token state and the network
// rules for configuration written at run time.
type Security struct {
	RootKeys []RootKey `koanf:"root_keys"`
	// AllowPrivateEndpoints lets providers added through the admin API
	// reach loopback, private, link-local and other non-public addresses.
	// Default false. engine.yaml providers are never restricted.
	AllowPrivateEndpoints bool `koanf:"allow_private_endpoints"`
}

// RootKey is one AES-256 key: 32 random bytes, standard base64.
type RootKey struct {
	ID    string `koanf:"id"`
	Value string `koanf:"value"`
}

// Store selects and configures the token-state backend.
type Store struct {
	Type     string        `koanf:"type"` // embedded (default) | redis
	Embedded EmbeddedStore `koanf:"embedded"`
	Redis    RedisStore    `koanf:"redis"`
	// Cache keeps opened connections in memory (store_cache.go).
	Cache StoreCache `koanf:"cache"`
}

// EmbeddedStore is the bbolt file store.
type EmbeddedStore struct {
	Path string `koanf:"path"` // default <data_dir>/authengine.db
}

// RedisStore configures go-redis's UniversalClient. Either URL, or Addrs
// (with MasterName for Sentinel; several Addrs without it for Cluster).
type RedisStore struct {
	URL        string   `koanf:"url"`
	Addrs      []string `koanf:"addrs"`
	MasterName string   `koanf:"master_name"`
	Username   string   `koanf:"username"`
	Password   string   `koanf:"password"`
	DB         int      `koanf:"db"`
	TLS        bool     `koanf:"tls"`
	KeyPrefix  string   `koanf:"key_prefix"` // default "authengine:"
}

// Auth holds flow settings and the providers.
type Auth struct {
	FlowTTL          time.Duration    `koanf:"flow_ttl"`       // default 10m
	RefreshMargin    time.Duration    `koanf:"refresh_margin"` // default 60s
	UserVerification UserVerification `koanf:"user_verification"`
	Providers        []Provider       `koanf:"providers"`
}

// UserVerification makes a flow complete only after the app confirms the
// user who finished it (POST /v1/auth/confirm_user).
type UserVerification struct {
	Enabled bool `koanf:"enabled"`
	// VerifierURL is where the browser is sent after the provider callback,
	// with ?flow_id=<id> added.
	VerifierURL string `koanf:"verifier_url"`
}

// Provider is one OAuth 2.0 provider as the operator declares it.
type Provider struct {
	ID          string `koanf:"id"`
	Description string `koanf:"description"`
	// Enabled defaults to true when absent.
	Enabled *bool  `koanf:"enabled"`
	Type    string `koanf:"type"` // oauth2 (default) | mcp
	// ProviderID names a built-in catalog template whose fields this
	// provider inherits and overrides.
	ProviderID   string `koanf:"provider_id"`
	ClientID     string `koanf:"client_id"`
	ClientSecret string `koanf:"client_secret"`
	OAuth2       OAuth2 `koanf:"oauth2"`
	// GuideURL links to the provider's guide for creating an OAuth app
	// (catalog metadata: check, the admin API and the console show it).
	GuideURL string `koanf:"guide_url"`
	// MCP describes a remote MCP server (type mcp): the engine discovers
	// its authorization server and registers itself as a client.
	MCP MCP `koanf:"mcp"`
}

// NeedsDiscovery reports whether the provider's endpoints come from
// metadata fetched at start (an oauth2.issuer, or type mcp) rather than
// from the configuration alone; package authflow/discovery completes it.
func (p Provider) NeedsDiscovery() bool {
	return p.OAuth2.Issuer != "" || p.Type == ProviderTypeMCP
}

// MCP is a remote MCP server the engine gets tokens for (MCP
// authorization: RFC 9728, RFC 8414, client ID metadata documents or RFC
// 7591 registration, RFC 8707 resource indicators).
type MCP struct {
	// URL is the MCP server's endpoint (https://mcp.example.com/mcp).
	URL string `koanf:"url"`
}

// IsEnabled reports whether the provider is enabled (default true).
func (p Provider) IsEnabled() bool { return p.Enabled == nil || *p.Enabled }

// OAuth2 is the declarative description of a provider's OAuth 2.0 endpoints.
type OAuth2 struct {
	GrantType        string   `koanf:"grant_type"`      // authorization_code (default) | client_credentials
	ScopeDelimiter   string   `koanf:"scope_delimiter"` // default " "
	DefaultScopes    []string `koanf:"default_scopes"`
	AllowedScopes    []string `koanf:"allowed_scopes"`
	PKCE             PKCE     `koanf:"pkce"`
	AuthorizeRequest *Request `koanf:"authorize_request"`
	TokenRequest     *Request `koanf:"token_request"`
	// RefreshTokenRequest is optional; without it refresh tokens are not used.
	RefreshTokenRequest *Request `koanf:"refresh_token_request"`
	// RefreshRequest is Arcade's name for RefreshTokenRequest; Load folds it
	// into RefreshTokenRequest (giving both is an error) and clears it.
	RefreshRequest  *Request `koanf:"refresh_request"`
	UserInfoRequest *Request `koanf:"user_info_request"`
	// UserInfoFrom says where the connection's user info comes from:
	// user_info_request (default: the request above, when given) or
	// id_token (the claims of the OpenID Connect id_token of the code
	// exchange, and of each refresh answer carrying one, after the
	// id_token is verified against the issuer's keys; it needs
	// oauth2.issuer, and the authorize request then carries a nonce the
	// id_token must repeat).
	UserInfoFrom string `koanf:"user_info_from"`
	// Issuer, when set, is the provider's OpenID Connect or RFC 8414
	// issuer: its metadata fills in every request block and field left
	// out (explicit ones win), and id_tokens are verified against its keys.
	Issuer string `koanf:"issuer"`
	// RevocationRequest, when set, revokes the token at the provider (RFC
	// 7009) when a connection is deleted. Without a token param it sends
	// token=<the refresh token, else the access token> and
	// token_type_hint.
	RevocationRequest *Request `koanf:"revocation_request"`
	// VerifyRefresh refreshes the token once right after each grant, so a
	// refresh configuration that does not work fails the authorization
	// (refresh_verification_failed) instead of the first refresh an hour
	// later. It needs a refresh request and grant_type authorization_code.
	VerifyRefresh bool `koanf:"verify_refresh"`
	// RedirectMetadata names query parameters of the provider's redirect
	// to the callback (QuickBooks' realmId) that are kept with the token
	// as metadata, next to response_map's extra keys.
	RedirectMetadata []string `koanf:"redirect_metadata"`
	// ConnectionVariables are the values an app gives per connection in
	// the authorize request (connection_variables), such as the tenant of
	// a provider whose host differs per customer; templates use them as
	// <<connection.NAME>>. Each is checked against its pattern and kept,
	// sealed, with the connection for its refreshes, user info and
	// revocation.
	ConnectionVariables map[string]ConnectionVariable `koanf:"connection_variables"`
}

// ConnectionVariable declares one per-connection value of a provider.
type ConnectionVariable struct {
	// Pattern is the RE2 regular expression a value must match whole
	// (anchored at both ends). Required.
	Pattern string `koanf:"pattern"`
	// Example is a sample value (it must match Pattern): shown to
	// operators and used to check the templates that use the variable.
	// Required.
	Example string `koanf:"example"`
	// Description says what the value is, for apps and operators.
	Description string `koanf:"description"`
	// Env names an environment variable that, when set, fixes the value
	// for every connection (an operator serving one tenant, as with
	// OKTA_DOMAIN); apps then need not give it and may not give another.
	Env string `koanf:"env"`
	// Value, when set, fixes the value for every connection, like Env.
	Value string `koanf:"value"`
}

// PKCE configures RFC 7636 proof keys.
type PKCE struct {
	Enabled             bool   `koanf:"enabled"`
	CodeChallengeMethod string `koanf:"code_challenge_method"` // S256 (default, only value)
}

// Request is one templated HTTP request to the provider.
type Request struct {
	Endpoint string            `koanf:"endpoint"`
	Method   string            `koanf:"method"` // GET | POST
	Params   map[string]string `koanf:"params"`
	Headers  map[string]string `koanf:"headers"`
	// AuthMethod: none | client_secret_basic | client_secret_post | bearer_access_token
	AuthMethod string `koanf:"auth_method"`
	// RequestContentType: application/x-www-form-urlencoded (default) | application/json
	RequestContentType string `koanf:"request_content_type"`
	// ResponseContentType: application/json (default) | application/x-www-form-urlencoded.
	// The body is sniffed when it disagrees with the declared type.
	ResponseContentType string            `koanf:"response_content_type"`
	ResponseMap         map[string]string `koanf:"response_map"`
	Triggers            Triggers          `koanf:"triggers"` // user_info_request only
}

// Triggers says when user info is fetched.
type Triggers struct {
	OnTokenGrant   bool `koanf:"on_token_grant"`
	OnTokenRefresh bool `koanf:"on_token_refresh"`
}

// Tools configures the tool workers the engine calls.
type Tools struct {
	Workers []Worker `koanf:"workers"`
}

// Worker is one HTTP tool worker speaking Arcade's worker protocol.
type Worker struct {
	ID      string     `koanf:"id"`
	Enabled *bool      `koanf:"enabled"`
	HTTP    WorkerHTTP `koanf:"http"`
}

// IsEnabled reports whether the worker is enabled (default true).
func (w Worker) IsEnabled() bool { return w.Enabled == nil || *w.Enabled }

// WorkerHTTP is how the engine reaches a worker.
type WorkerHTTP struct {
	URI     string        `koanf:"uri"`
	Secret  string        `koanf:"secret"`
	Timeout time.Duration `koanf:"timeout"` // default 30s
	Retry   int           `koanf:"retry"`   // default 3
}

// Telemetry configures logs and metrics.
type Telemetry struct {
	Log     Log     `koanf:"log"`
	Metrics Metrics `koanf:"metrics"`
	// Pprof serves Go's runtime profiles (net/http/pprof) at
	// /debug/pprof/ to admin keys, where the admin API is served. Off
	// by default.
	Pprof bool `koanf:"pprof"`
}

// Log configures slog.
type Log struct {
	Level  string `koanf:"level"`  // debug | info (default) | warn | error
	Format string `koanf:"format"` // json (default) | text
}

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	Enabled *bool  `koanf:"enabled"` // default true
	Path    string `koanf:"path"`    // default /metrics
	// Listen, when set (host:port), serves the metrics on a listener of
	// their own and not on the main one, which browsers and apps reach.
	Listen string `koanf:"listen"`
	// BearerToken, when set, is required as "Authorization: Bearer
	// <token>" on every metrics request.
	BearerToken string `koanf:"bearer_token"`
}

// Webhook is one endpoint that receives lifecycle events, signed per the
// Standard Webhooks specification.
type Webhook struct {
	// URL receives a POST per event (http or https).
	URL string `koanf:"url"`
	// Secret signs the events: whsec_ followed by 24 to 64 bytes in
	// base64. It may be a $<env:> or $<file:> reference.
	Secret string `koanf:"secret"`
	// Events are the event types sent (connection.created, ...); empty
	// means every type.
	Events []string `koanf:"events"`
}

// Audit configures the audit log kept in the store.
type Audit struct {
	// Retention is how long entries are kept. Default
	// DefaultAuditRetention (2160h, 90 days).
	Retention time.Duration `koanf:"retention"`
}

// Runtime tunes the Go runtime of the engine's process.
type Runtime struct {
	// GCHeapFloorBytes keeps the garbage collector's heap goal at least
	// this large while the live heap is small (internal/gcfloor), so an
	// engine answering from memory does not collect dozens of times a
	// second. Default 32 MiB; 0 turns it off.
	GCHeapFloorBytes int64 `koanf:"gc_heap_floor_bytes"`
}

// Refresh configures refreshing tokens ahead of need.
type Refresh struct {
	// Sweeper is the background refresh (engine/sweeper).
	Sweeper RefreshSweeper `koanf:"sweeper"`
}

// RefreshSweeper configures the background refresh: one instance at a
// time refreshes connections whose token expires within Window, and those
// idle for IdleAfter. Off unless Enabled.
type RefreshSweeper struct {
	Enabled bool `koanf:"enabled"`
	// Interval between passes (each with up to a fifth of it added as
	// jitter). Default 1m.
	Interval time.Duration `koanf:"interval"`
	// Window: tokens expiring within it are refreshed. Default 10m.
	Window time.Duration `koanf:"window"`
	// IdleAfter: connections not refreshed or re-authorized for this long
	// are refreshed to keep their refresh token alive; 0 (default) is off.
	IdleAfter time.Duration `koanf:"idle_after"`
	// Concurrency bounds refreshes in flight. Default 4.
	Concurrency int `koanf:"concurrency"`
}
