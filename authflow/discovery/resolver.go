package discovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/authengine/authengine/authflow"
	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/internal/netguard"
)

// DefaultTimeout bounds each discovery request whose context has no
// earlier deadline.
const DefaultTimeout = 10 * time.Second

// Resolver completes and compiles the providers that need discovery
// (config.Provider.NeedsDiscovery). Its zero value fetches with
// http.DefaultClient, keeps nothing and guards remote-named hosts.
type Resolver struct {
	// Client fetches from the host the operator configured (the issuer's,
	// or the MCP server's). Default http.DefaultClient. Redirects are never
	// followed.
	Client *http.Client
	// Guarded fetches from hosts a remote document named. Default Client
	// with a netguard transport (connections to private addresses are
	// refused when made). Unused when AllowPrivate is set.
	Guarded *http.Client
	// AllowPrivate lets remote-named hosts be private addresses
	// (security.allow_private_endpoints).
	AllowPrivate bool
	// NetResolver resolves remote-named hosts for the netguard check.
	// Default net.DefaultResolver.
	NetResolver netguard.Resolver
	// Cache keeps documents and registrations between starts; nil keeps
	// nothing (authengine check).
	Cache Cache
	// RedirectURI is <public_url>/oauth/callback.
	RedirectURI string
	// PublicURL is the engine's public base URL, under which it serves
	// the client ID metadata documents of MCP providers
	// (ClientMetadataPath).
	PublicURL string
	// CheckOnly makes no dynamic registration (authengine check): an MCP
	// provider that would register is compiled with a stand-in client id.
	CheckOnly bool
	// Timeout bounds each request. Default DefaultTimeout.
	Timeout time.Duration
	// Now is the clock of id_token verification. Default time.Now.
	Now func() time.Time
	// Logger reports a kept copy used in place of an unreachable server.
	Logger *slog.Logger
}

// Resolved is a provider completed from its metadata.
type Resolved struct {
	// Config is the complete provider: what the operator gave, with every
	// omitted block and field filled in from the metadata.
	Config config.Provider
	// Provider is Config compiled, verifying id_tokens when the issuer
	// publishes keys.
	Provider *authflow.Provider
	// Guarded reports that some endpoint is on a host the operator did
	// not configure: the provider's requests must go through a client
	// that refuses private addresses (unless AllowPrivate).
	Guarded bool
	// Registration is the client an MCP provider is at its authorization
	// server; zero for an issuer provider.
	Registration Registration
}

// Resolve completes p (an oauth2.issuer provider, or type mcp) from its
// metadata and compiles it. Errors name the configuration field that led
// to them (*FieldError, under auth.providers[<id>]: oauth2.issuer or
// mcp.url) and wrap a named cause: ErrUnreachable when a server could not
// be reached and nothing was kept from an earlier start,
// *IssuerMismatchError, *InvalidMetadataError, *ResourceMismatchError,
// *RegistrationError, ErrNoRegistration, *netguard.BlockedError, or the
// *authflow.CompileError of the completed provider. Nothing is kept unless
// every check passed.
func (r *Resolver) Resolve(ctx context.Context, p config.Provider) (*Resolved, error) {
	if p.Type == config.ProviderTypeMCP {
		return r.resolveMCP(ctx, p, true)
	}
	if p.OAuth2.Issuer == "" {
		return nil, fmt.Errorf("provider %q needs no discovery", p.ID)
	}
	field := fmt.Sprintf("auth.providers[%s].oauth2.issuer", p.ID)
	m, fetched, err := r.metadata(ctx, p.OAuth2.Issuer, true, r.client(), field)
	if err != nil {
		return nil, err
	}
	guarded, err := r.checkHosts(ctx, m, hostOf(p.OAuth2.Issuer))
	if err != nil {
		return nil, &FieldError{Path: field, Err: err}
	}
	full, err := Apply(p, m)
	if err != nil {
		return nil, &FieldError{Path: field, Err: err}
	}
	compiled, err := authflow.Compile(full, r.RedirectURI)
	if err != nil {
		return nil, err
	}
	if m.JWKSURI != "" {
		fetch := r.client()
		if guarded && hostOf(m.JWKSURI) != hostOf(p.OAuth2.Issuer) {
			fetch = r.guarded()
		}
		compiled = compiled.WithIDTokenVerifier(r.verifier(m, full.ClientID, fetch))
	}
	if fetched {
		r.keep(ctx, issuerKey(p.OAuth2.Issuer), m, field)
	}
	return &Resolved{Config: full, Provider: compiled, Guarded: guarded}, nil
}

// metadata returns issuer's checked metadata: fetched now (fetched is
// true: the caller keeps it once everything else checked out), or, when
// the server cannot be reached, the copy kept at an earlier start.
func (r *Resolver) metadata(ctx context.Context, issuer string, oidcFirst bool, c *http.Client, field string) (m *Metadata, fetched bool, err error) {
	fctx, cancel := r.bound(ctx)
	defer cancel()
	m, err = fetchMetadata(fctx, c, issuer, oidcFirst)
	switch {
	case err == nil:
		return m, true, nil
	case errors.Is(err, ErrUnreachable) && r.Cache != nil:
		raw, lerr := r.Cache.Load(ctx, issuerKey(issuer))
		var kept Metadata
		if lerr == nil && json.Unmarshal(raw, &kept) == nil && kept.check("the kept copy", issuer) == nil {
			r.log().WarnContext(ctx, "discovery: the issuer cannot be reached; using the metadata kept at an earlier start",
				"field", field, "err", err)
			return &kept, false, nil
		}
	}
	return nil, false, &FieldError{Path: field, Err: err}
}

// keep saves v under key in the cache; a failure is logged (the next
// start fetches again).
func (r *Resolver) keep(ctx context.Context, key string, v any, field string) {
	if r.Cache == nil {
		return
	}
	raw, err := json.Marshal(v)
	if err == nil {
		err = r.Cache.Save(ctx, key, raw)
	}
	if err != nil {
		r.log().WarnContext(ctx, "discovery: keep what was fetched", "field", field, "err", err)
	}
}

// checkHosts checks every URL of m whose host is not trusted (the one
// the operator configured) with netguard, unless private endpoints are
// allowed. It reports whether any such URL exists.
func (r *Resolver) checkHosts(ctx context.Context, m *Metadata, trusted string) (bool, error) {
	guarded := false
	for _, e := range m.endpoints() {
		if e.value == "" || hostOf(e.value) == trusted {
			continue
		}
		guarded = true
		if r.AllowPrivate {
			continue
		}
		if err := netguard.CheckURL(ctx, r.NetResolver, e.value); err != nil {
			return true, fmt.Errorf("the metadata's %s: %w (security.allow_private_endpoints: true allows it)", e.name, err)
		}
	}
	return guarded && !r.AllowPrivate, nil
}

func (r *Resolver) client() *http.Client {
	if r.Client == nil {
		return http.DefaultClient
	}
	return r.Client
}

// guarded is the client for remote-named hosts.
func (r *Resolver) guarded() *http.Client {
	switch {
	case r.AllowPrivate:
		return r.client()
	case r.Guarded != nil:
		return r.Guarded
	}
	c := *r.client()
	base, _ := c.Transport.(*http.Transport)
	c.Transport = netguard.Transport(base)
	return &c
}

func (r *Resolver) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	t := r.Timeout
	if t <= 0 {
		t = DefaultTimeout
	}
	return context.WithTimeout(ctx, t)
}

func (r *Resolver) log() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

func (r *Resolver) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

// hostOf is the lower-cased host[:port] of a URL; "" when it has none.
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Host)
}

// Apply returns p completed from m: each request block the operator left
// out is built from the metadata's endpoint (revocation_request from
// revocation_endpoint, RFC 7009), and each block given without an
// endpoint gets the metadata's. PKCE is turned on when the server
// supports S256, the client authentication is the first the server
// supports of client_secret_basic and client_secret_post (none for a
// client without a secret), a refresh request is added unless the server
// says it does not grant refresh tokens, user info is fetched on grant
// when the server has a user-info endpoint (never with user_info_from
// id_token, whose user info is the verified id_token's claims: the
// metadata must then name a jwks_uri), and "openid" becomes the
// default scope of an OpenID Connect provider that has none. The result
// has config's defaults filled in.
func Apply(p config.Provider, m *Metadata) (config.Provider, error) {
	o := &p.OAuth2
	clientAuth, err := chooseClientAuth(p.ClientSecret, m.TokenEndpointAuthMethodsSupported)
	if err != nil {
		return p, err
	}
	tokenParams := func(params map[string]string) map[string]string {
		if clientAuth == config.AuthNone {
			params["client_id"] = "<<client_id>>"
		}
		return params
	}
	block := func(r *config.Request, endpoint string) *config.Request {
		c := *r
		if strings.TrimSpace(c.Endpoint) == "" {
			c.Endpoint = endpoint
		}
		return &c
	}
	authCode := o.GrantType == "" || o.GrantType == config.GrantAuthorizationCode
	if authCode {
		if m.AuthorizationEndpoint == "" && (o.AuthorizeRequest == nil || o.AuthorizeRequest.Endpoint == "") {
			return p, errors.New("the metadata has no authorization_endpoint (give oauth2.authorize_request.endpoint)")
		}
		if o.AuthorizeRequest == nil {
			o.AuthorizeRequest = &config.Request{Endpoint: m.AuthorizationEndpoint, Method: http.MethodGet, Params: map[string]string{
				"response_type": "code", "client_id": "<<client_id>>", "redirect_uri": "<<redirect_uri>>", "scope": "<<scopes>>",
			}}
		} else {
			o.AuthorizeRequest = block(o.AuthorizeRequest, m.AuthorizationEndpoint)
		}
		if m.supportsS256() && !o.PKCE.Enabled {
			o.PKCE = config.PKCE{Enabled: true, CodeChallengeMethod: config.PKCEMethodS256}
		}
	}
	if o.TokenRequest == nil {
		params := map[string]string{"grant_type": config.GrantAuthorizationCode, "redirect_uri": "<<redirect_uri>>"}
		if !authCode {
			params = map[string]string{"grant_type": config.GrantClientCredentials, "scope": "<<scopes>>"}
		}
		o.TokenRequest = &config.Request{Endpoint: m.TokenEndpoint, Method: http.MethodPost, AuthMethod: clientAuth, Params: tokenParams(params)}
	} else {
		o.TokenRequest = block(o.TokenRequest, m.TokenEndpoint)
	}
	refreshes := len(m.GrantTypesSupported) == 0 || slices.Contains(m.GrantTypesSupported, "refresh_token")
	if o.RefreshTokenRequest == nil && authCode && refreshes {
		o.RefreshTokenRequest = &config.Request{Endpoint: m.TokenEndpoint, Method: http.MethodPost, AuthMethod: o.TokenRequest.AuthMethod,
			Params: tokenParams(map[string]string{"grant_type": "refresh_token", "refresh_token": "<<refresh_token>>"})}
	} else if o.RefreshTokenRequest != nil {
		o.RefreshTokenRequest = block(o.RefreshTokenRequest, m.TokenEndpoint)
	}
	idClaims := o.UserInfoFrom == config.UserInfoFromIDToken
	if idClaims {
		// The user info is the verified id_token's claims.
		if m.JWKSURI == "" {
			return p, errors.New("the metadata has no jwks_uri, so no id_token can be verified (oauth2.user_info_from is id_token)")
		}
		o.UserInfoRequest = nil
		if len(o.DefaultScopes) == 0 {
			o.DefaultScopes = []string{"openid"}
		}
	} else if o.UserInfoRequest == nil && authCode && m.UserInfoEndpoint != "" {
		o.UserInfoRequest = &config.Request{Endpoint: m.UserInfoEndpoint, Method: http.MethodGet,
			AuthMethod: config.AuthBearerAccessToken, Triggers: config.Triggers{OnTokenGrant: true}}
	} else if o.UserInfoRequest != nil {
		o.UserInfoRequest = block(o.UserInfoRequest, m.UserInfoEndpoint)
		if o.UserInfoRequest.Endpoint == "" {
			return p, errors.New("the metadata has no userinfo_endpoint (give oauth2.user_info_request.endpoint)")
		}
	}
	if o.RevocationRequest == nil && m.RevocationEndpoint != "" {
		// RFC 7009: the engine adds token and token_type_hint itself.
		o.RevocationRequest = &config.Request{Endpoint: m.RevocationEndpoint, Method: http.MethodPost, AuthMethod: o.TokenRequest.AuthMethod,
			Params: tokenParams(map[string]string{})}
	} else if o.RevocationRequest != nil {
		o.RevocationRequest = block(o.RevocationRequest, m.RevocationEndpoint)
		if o.RevocationRequest.Endpoint == "" {
			return p, errors.New("the metadata has no revocation_endpoint (give oauth2.revocation_request.endpoint)")
		}
	}
	if authCode && len(o.DefaultScopes) == 0 && m.JWKSURI != "" && slices.Contains(m.ScopesSupported, "openid") {
		o.DefaultScopes = []string{"openid"}
	}
	if o.ScopeDelimiter == "" {
		o.ScopeDelimiter = config.DefaultScopeDelimiter
	}
	return config.Complete(p), nil
}

// chooseClientAuth picks the token endpoint's client authentication from
// what the server supports (RFC 8414: client_secret_basic when it does
// not say).
func chooseClientAuth(secret string, supported []string) (string, error) {
	if secret == "" {
		if len(supported) > 0 && !slices.Contains(supported, config.AuthNone) {
			return "", fmt.Errorf("the server does not accept public clients (token_endpoint_auth_methods_supported: %s): give client_secret", strings.Join(supported, ", "))
		}
		return config.AuthNone, nil
	}
	if len(supported) == 0 {
		return config.AuthClientSecretBasic, nil
	}
	for _, m := range []string{config.AuthClientSecretBasic, config.AuthClientSecretPost} {
		if slices.Contains(supported, m) {
			return m, nil
		}
	}
	return "", fmt.Errorf("the server supports none of client_secret_basic and client_secret_post (token_endpoint_auth_methods_supported: %s)", strings.Join(supported, ", "))
}
