package authflow

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/authengine/authengine/config"
)

// DefaultTimeout bounds a provider request whose context has no deadline.
const DefaultTimeout = 30 * time.Second

// maxResponseBytes caps every provider response body.
const maxResponseBytes = 1 << 20

// Provider is one compiled provider: its templates, response maps and scope
// patterns are parsed once by Compile and only filled in per request. A
// Provider is immutable and safe for concurrent use.
type Provider struct {
	id, catalogID string
	grantType     string
	clientID      string
	clientSecret  string
	redirectURI   string
	delim         string
	pkce          bool
	defaultScopes []string
	allowedScopes []string

	authorize *request // nil for client_credentials providers
	token     *request
	refresh   *request // nil: refresh tokens are not used
	userInfo  *request // nil: no user info
	revoke    *request // nil: tokens are not revoked at the provider
	triggers  config.Triggers
	// verifyRefresh refreshes once right after each grant.
	verifyRefresh bool
	// redirectMetadata names the redirect query parameters kept as
	// token metadata.
	redirectMetadata []string

	// variables are the declared connection variables, patterns their
	// compiled patterns; conn the values bound by WithConnection (nil on
	// a provider as compiled).
	variables map[string]config.ConnectionVariable
	patterns  map[string]*regexp.Regexp
	conn      map[string]string
	base      *Provider

	// now is the clock that turns expires_in into an expiry.
	now func() time.Time
	// idTokens verifies returned id_tokens; nil: they are not verified.
	idTokens IDTokenVerifier
	// idTokenUserInfo takes the user info from the verified id_token's
	// claims (oauth2.user_info_from: id_token).
	idTokenUserInfo bool
	// nonce is the OpenID Connect nonce bound by WithNonce: sent with the
	// authorize request, and required in the code exchange's id_token.
	nonce string
}

// ScopeError reports a requested scope outside the provider's allowed
// scope patterns, or one holding the provider's scope delimiter.
type ScopeError struct {
	Provider string
	Scope    string
	// Delimiter is set when the scope was refused for containing the
	// provider's scope delimiter: it would reach the provider as several
	// scopes that were never matched against allowed_scopes one by one.
	Delimiter string
	// Allowed are the provider's allowed scope patterns, which the scope
	// matched none of.
	Allowed []string
}

// maxPatternsShown bounds the patterns a ScopeError lists.
const maxPatternsShown = 24

// Error names the refused scope and the provider, and the expected
// patterns.
func (e *ScopeError) Error() string {
	if e.Delimiter != "" {
		return fmt.Sprintf("scope %q contains the scope delimiter %q of provider %q: request each scope as its own list item", e.Scope, e.Delimiter, e.Provider)
	}
	msg := fmt.Sprintf("scope %q is not allowed for provider %q", e.Scope, e.Provider)
	if len(e.Allowed) > 0 {
		shown, more := e.Allowed, ""
		if len(shown) > maxPatternsShown {
			shown, more = shown[:maxPatternsShown], fmt.Sprintf(" and %d more", len(e.Allowed)-maxPatternsShown)
		}
		msg += fmt.Sprintf(" (expected patterns: %s%s)", strings.Join(shown, " "), more)
	}
	return msg
}

// Compile turns one config.Provider into a Provider. redirectURI is
// <public_url>/oauth/callback. Empty fields take config's defaults
// (grant type authorization_code, scope delimiter " ", authorize GET,
// token POST with client_secret_post, refresh POST with the
// token request's auth method, user info GET with
// bearer_access_token, form request bodies, JSON responses). All template,
// URL, JSONPath and scope-pattern errors are returned at once as a
// *CompileError, each naming its field path.
func Compile(p config.Provider, redirectURI string) (*Provider, error) {
	base := fmt.Sprintf("auth.providers[%s]", p.ID)
	o := p.OAuth2
	out := &Provider{
		id:            p.ID,
		catalogID:     p.ProviderID,
		grantType:     strings.TrimSpace(o.GrantType),
		clientID:      p.ClientID,
		clientSecret:  p.ClientSecret,
		redirectURI:   redirectURI,
		delim:         o.ScopeDelimiter,
		pkce:          o.PKCE.Enabled,
		allowedScopes: o.AllowedScopes,
		now:           time.Now,
	}
	if out.grantType == "" {
		out.grantType = config.GrantAuthorizationCode
	}
	if out.delim == "" {
		out.delim = " "
	}
	// The operator's default scopes may be written joined with the
	// delimiter ("repo,user"); they are split like a provider's answer.
	for _, s := range cleanScopes(nil, o.DefaultScopes) {
		out.defaultScopes = cleanScopes(out.defaultScopes, strings.Split(s, out.delim))
	}
	var ps problems
	if p.ID == "" {
		ps.addf(base+".id", "required")
	}
	if m := o.PKCE.CodeChallengeMethod; o.PKCE.Enabled && m != "" && m != "S256" {
		ps.addf(base+".oauth2.pkce.code_challenge_method", "only S256 is supported, not %q", m)
	}
	out.variables = o.ConnectionVariables
	out.patterns = map[string]*regexp.Regexp{}
	for _, n := range sortedKeys(o.ConnectionVariables) {
		re, err := config.CompileVariablePattern(o.ConnectionVariables[n].Pattern)
		if err != nil {
			ps.addf(base+".oauth2.connection_variables."+n+".pattern", "is not a valid regular expression: %v", err)
			continue
		}
		out.patterns[n] = re
	}
	for i, pattern := range o.AllowedScopes {
		if _, err := path.Match(pattern, ""); err != nil {
			ps.addf(fmt.Sprintf("%s.oauth2.allowed_scopes[%d]", base, i), "bad pattern %q: %v", pattern, err)
		}
	}

	block := func(name string, r *config.Request, op string, allowed placeholder, method, auth string) *request {
		if r == nil {
			return nil
		}
		return compileRequest(op, base+".oauth2."+name, r, rules{allowed: allowed, variables: o.ConnectionVariables}, method, auth, &ps)
	}
	switch out.grantType {
	case config.GrantAuthorizationCode:
		if o.AuthorizeRequest == nil {
			ps.addf(base+".oauth2.authorize_request", "required for grant_type authorization_code")
		}
		out.authorize = block("authorize_request", o.AuthorizeRequest, "authorize", allowAuthorize, "GET", config.AuthNone)
		out.token = block("token_request", o.TokenRequest, "token", allowToken, "POST", config.AuthClientSecretPost)
	case config.GrantClientCredentials:
		if o.PKCE.Enabled {
			ps.addf(base+".oauth2.pkce.enabled", "PKCE does not apply to grant_type client_credentials")
		}
		out.token = block("token_request", o.TokenRequest, "client_credentials", allowClientCredentials, "POST", config.AuthClientSecretPost)
	default:
		ps.addf(base+".oauth2.grant_type", "unknown grant type %q (want authorization_code or client_credentials)", o.GrantType)
	}
	if o.TokenRequest == nil {
		ps.addf(base+".oauth2.token_request", "required")
	}
	refresh, refreshName := o.RefreshTokenRequest, "refresh_token_request"
	if refresh == nil && o.RefreshRequest != nil {
		refresh, refreshName = o.RefreshRequest, "refresh_request"
	} else if refresh != nil && o.RefreshRequest != nil {
		ps.addf(base+".oauth2.refresh_request", "give refresh_token_request or its alias refresh_request, not both")
	}
	// Like config.Load, the refresh request defaults to the token
	// request's auth method.
	refreshAuth := config.AuthClientSecretPost
	if out.token != nil {
		refreshAuth = out.token.authMethod
	}
	out.refresh = block(refreshName, refresh, "refresh", allowRefresh, "POST", refreshAuth)
	if o.UserInfoFrom == config.UserInfoFromIDToken {
		out.idTokenUserInfo = true
		if !slices.Contains(out.defaultScopes, "openid") {
			// No id_token without it.
			out.defaultScopes = append([]string{"openid"}, out.defaultScopes...)
		}
	} else {
		out.userInfo = block("user_info_request", o.UserInfoRequest, "user_info", allowUserInfo, "GET", config.AuthBearerAccessToken)
		if o.UserInfoRequest != nil {
			out.triggers = o.UserInfoRequest.Triggers
		}
	}
	out.revoke = block("revocation_request", o.RevocationRequest, "revoke", allowRevoke, "POST", refreshAuth)
	out.verifyRefresh = o.VerifyRefresh
	out.redirectMetadata = o.RedirectMetadata
	if o.VerifyRefresh && (refresh == nil || out.grantType != config.GrantAuthorizationCode) {
		ps.addf(base+".oauth2.verify_refresh", "needs a refresh_token_request and grant_type authorization_code")
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	return out, nil
}

// CompileAll compiles every enabled provider of cfg with the redirect URI
// <public_url>/oauth/callback, except those that need discovery
// (config.Provider.NeedsDiscovery: an oauth2.issuer or type mcp), which
// package authflow/discovery completes from their metadata and compiles.
// The errors of all providers are returned in one *CompileError.
func CompileAll(cfg *config.Config) (map[string]*Provider, error) {
	redirectURI := cfg.API.RedirectURI()
	out := make(map[string]*Provider, len(cfg.Auth.Providers))
	var ps problems
	for _, cp := range cfg.Auth.Providers {
		if !cp.IsEnabled() || cp.NeedsDiscovery() {
			continue
		}
		if _, dup := out[cp.ID]; dup {
			ps.addf(fmt.Sprintf("auth.providers[%s].id", cp.ID), "duplicate provider id")
			continue
		}
		p, err := Compile(cp, redirectURI)
		if err != nil {
			ps.add(err)
			continue
		}
		out[cp.ID] = p
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	return out, nil
}

// ID is the provider's unique id in engine.yaml.
func (p *Provider) ID() string { return p.id }

// CatalogID is the built-in template the provider was declared from
// (config provider_id); "" when none.
func (p *Provider) CatalogID() string { return p.catalogID }

// GrantType is "authorization_code" or "client_credentials".
func (p *Provider) GrantType() string { return p.grantType }

// PKCE reports whether authorization uses PKCE (S256).
func (p *Provider) PKCE() bool { return p.pkce }

// CanRefresh reports whether a refresh request is configured.
func (p *Provider) CanRefresh() bool { return p.refresh != nil }

// VerifyRefresh reports whether the token is refreshed once right after
// each grant (oauth2.verify_refresh).
func (p *Provider) VerifyRefresh() bool { return p.verifyRefresh }

// RedirectMetadata returns the names of the redirect query parameters
// kept with the token as metadata (oauth2.redirect_metadata).
func (p *Provider) RedirectMetadata() []string { return p.redirectMetadata }

// UserInfoOnGrant reports whether user info is fetched after a code
// exchange.
func (p *Provider) UserInfoOnGrant() bool { return p.userInfo != nil && p.triggers.OnTokenGrant }

// UserInfoOnRefresh reports whether user info is fetched after a refresh.
func (p *Provider) UserInfoOnRefresh() bool { return p.userInfo != nil && p.triggers.OnTokenRefresh }

// ScopeDelimiter joins scopes in requests and splits them in responses.
func (p *Provider) ScopeDelimiter() string { return p.delim }

// Scopes merges the default scopes with requested, splits them on
// whitespace, trims and de-duplicates them (defaults first), and checks
// each requested scope against the allowed patterns. A requested scope
// holding the provider's scope delimiter is refused whatever the patterns:
// it would reach the provider as several scopes, the later ones never
// checked ("read:user,delete_repo" passes "read:*" whole). A refused scope
// is a *ScopeError.
func (p *Provider) Scopes(requested []string) ([]string, error) {
	out := slices.Clone(p.defaultScopes)
	delim := strings.TrimSpace(p.delim) // whitespace is split on already
	for _, s := range cleanScopes(nil, requested) {
		if delim != "" && strings.Contains(s, delim) {
			return nil, &ScopeError{Provider: p.id, Scope: s, Delimiter: p.delim}
		}
		if slices.Contains(out, s) {
			continue
		}
		if !p.allowed(s) {
			return nil, &ScopeError{Provider: p.id, Scope: s, Allowed: p.allowedScopes}
		}
		out = append(out, s)
	}
	return out, nil
}

func (p *Provider) allowed(scope string) bool {
	if len(p.allowedScopes) == 0 {
		return true
	}
	for _, pattern := range p.allowedScopes {
		if ok, _ := path.Match(pattern, scope); ok {
			return true
		}
	}
	return false
}

// cleanScopes appends the scopes of in to dst, split on whitespace, without
// empties or repeats.
func cleanScopes(dst, in []string) []string {
	for _, s := range in {
		for _, f := range strings.Fields(s) {
			if !slices.Contains(dst, f) {
				dst = append(dst, f)
			}
		}
	}
	return dst
}

// AuthorizeURL renders the authorize request for state, with the PKCE
// S256 challenge when codeChallenge is not empty. scopes are the scopes to
// request (<<scopes>>), existing those the user already holds
// (<<existing_scopes>>). It returns "" for a provider without an
// authorize request (client credentials).
func (p *Provider) AuthorizeURL(state string, scopes, existing []string, codeChallenge string) string {
	r := p.authorize
	if r == nil {
		return ""
	}
	v := vars{
		clientID:       p.clientID,
		clientSecret:   p.clientSecret,
		redirectURI:    p.redirectURI,
		scopes:         strings.Join(scopes, p.delim),
		existingScopes: strings.Join(existing, p.delim),
		conn:           p.connValues(),
	}
	var buf [16]kv
	extra := [4]kv{{"state", state}}
	n := 1
	if codeChallenge != "" {
		extra[1], extra[2] = kv{"code_challenge", codeChallenge}, kv{"code_challenge_method", "S256"}
		n = 3
	}
	if p.nonce != "" {
		extra[n] = kv{"nonce", p.nonce}
		n++
	}
	pairs := r.renderParams(buf[:0], &v, p.delim, extra[:n]...)
	u, err := r.url(&v, pairs)
	if err != nil {
		// Only a templated endpoint can fail here, and Compile rendered
		// it with sample values; an empty URL makes the caller fail loudly.
		return ""
	}
	return u
}
