package config

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/authengine/authengine/config/catalog"
)

// idRE is what provider, worker and root key ids may look like: they
// appear in URLs, store keys and metric labels.
var idRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)

// MaxIDLength bounds provider ids: they name records, appear in URLs and
// become metric labels.
const MaxIDLength = 64

// placeholderRE matches <<name>> template placeholders, which are replaced
// by a neutral value before an endpoint is checked as a URL.
var placeholderRE = regexp.MustCompile(`<<[^<>]*>>`)

// headerNameRE is an HTTP header field name (RFC 9110 token).
var headerNameRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// Validate checks every field of c and returns all problems at once as
// *Errors, or nil. Empty optional fields count as their defaults, so a
// Config built in code from Default() validates the same way as a loaded
// one. Templates and JSONPath are compiled, and their errors reported, by
// package authflow.
func Validate(c *Config) error {
	var r report
	validate(c, &r)
	return r.err()
}

// validate checks c, adding errors and warnings to r.
func validate(c *Config, r *report) {
	if strings.TrimSpace(c.DataDir) == "" {
		r.errorf("data_dir", "must not be empty")
	}
	validateAPI(c, r)
	validateSecurity(c, r)
	validateStore(c, r)
	validateStoreCache(c, r)
	validateAuth(c, r)
	validateTools(c, r)
	validateTelemetry(c, r)
	validateWebhooks(c, r)
	validateRefresh(c, r)
	if c.Audit.Retention < 0 {
		r.errorf("audit.retention", "must not be negative")
	} else if c.Audit.Retention > 0 && c.Audit.Retention < time.Hour {
		r.errorf("audit.retention", "must be at least 1h (entries are pruned hourly), not %s", c.Audit.Retention)
	}
	validateConsole(c, r)
	if c.Runtime.GCHeapFloorBytes < 0 {
		r.errorf("runtime.gc_heap_floor_bytes", "must not be negative (0 turns the floor off)")
	}
}

func validateAPI(c *Config, r *report) {
	a := c.API
	if strings.TrimSpace(a.Host) == "" {
		r.errorf("api.host", "must not be empty")
	}
	if a.Port < 1 || a.Port > 65535 {
		r.errorf("api.port", "must be between 1 and 65535, not %d", a.Port)
	}
	if a.PublicURL != "" {
		if msg := checkHTTPURL(a.PublicURL); msg != "" {
			r.errorf("api.public_url", "%s", msg)
		} else if u, _ := url.Parse(a.PublicURL); u.RawQuery != "" || u.Fragment != "" {
			r.errorf("api.public_url", "must not have a query or fragment")
		} else if p := strings.TrimRight(u.Path, "/"); strings.HasSuffix(p, "/oauth/callback") {
			// The redirect URI is public_url + /oauth/callback: this
			// would register .../oauth/callback/oauth/callback.
			r.errorf("api.public_url", "must be the engine's base URL, without /oauth/callback (the engine adds it: the redirect URI would be %s)", strings.TrimRight(a.PublicURL, "/")+"/oauth/callback")
		}
	}
	checkKeys := func(field string, keys []string) {
		for i, k := range keys {
			p := fmt.Sprintf("api.%s[%d]", field, i)
			switch {
			case strings.TrimSpace(k) == "":
				r.errorf(p, "must not be empty")
			case len(k) < 16:
				r.warnf(p, "key is shorter than 16 characters; use a long random value")
			}
		}
	}
	checkKeys("api_keys", a.APIKeys)
	checkKeys("admin_keys", a.AdminKeys)
	if !a.Development && len(a.AdminKeys) == 0 {
		r.warnf("api.admin_keys", "none set: the admin API (/v1/admin) refuses every request with 401")
	}
	if !a.Development && len(a.APIKeys) == 0 {
		r.errorf("api.api_keys", "at least one API key is required when api.development is false")
	}
	for i, o := range a.AllowedRedirectOrigins {
		p := fmt.Sprintf("api.allowed_redirect_origins[%d]", i)
		if msg := checkHTTPURL(o); msg != "" {
			r.errorf(p, "%s", msg)
		} else if u, _ := url.Parse(o); (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			r.errorf(p, "must be an origin (scheme://host[:port]) without a path, query or fragment")
		}
	}
	if a.MaxBodyBytes <= 0 {
		r.errorf("api.max_body_bytes", "must be positive")
	}
	positive(r, "api.shutdown_timeout", a.ShutdownTimeout)
	rl := a.RateLimits
	for _, v := range []struct {
		path string
		n    int
	}{
		{"api.rate_limits.api_key.per_second", rl.APIKey.PerSecond}, {"api.rate_limits.api_key.burst", rl.APIKey.Burst},
		{"api.rate_limits.callback.per_second", rl.Callback.PerSecond}, {"api.rate_limits.callback.burst", rl.Callback.Burst},
		{"api.rate_limits.flows_per_user", rl.FlowsPerUser}, {"api.rate_limits.flows_per_api_key", rl.FlowsPerAPIKey},
	} {
		if v.n < 0 {
			r.errorf(v.path, "must be 0 (no limit) or more, not %d", v.n)
		}
	}
	for i, p := range a.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				r.errorf(fmt.Sprintf("api.trusted_proxies[%d]", i), "must be an IP address or a CIDR prefix (10.0.0.0/8), not %q", p)
			}
		}
	}
	if a.AdminListen != "" {
		host, n, ok := parseListen(a.AdminListen)
		switch {
		case !ok:
			r.errorf("api.admin_listen", "must be host:port with a port from 1 to 65535 (127.0.0.1:9098), not %q", a.AdminListen)
		case sameListener(host, n, a.Host, a.Port):
			r.errorf("api.admin_listen", "must differ from the main listener %s", net.JoinHostPort(a.Host, strconv.Itoa(a.Port)))
		}
	}
}

func validateSecurity(c *Config, r *report) {
	seen := map[string]int{}
	shared := map[string]int{}
	for _, k := range c.Security.RootKeys {
		shared[k.ID]++
	}
	for i, k := range c.Security.RootKeys {
		first, dup := seen[k.ID]
		p := fmt.Sprintf("security.root_keys[%d]", i)
		if k.ID != "" && idRE.MatchString(k.ID) && shared[k.ID] == 1 {
			p = "security.root_keys[" + k.ID + "]"
		}
		switch {
		case strings.TrimSpace(k.ID) == "":
			r.errorf(p+".id", "must not be empty")
		case !idRE.MatchString(k.ID):
			r.errorf(p+".id", "must contain only letters, digits, '_', '.' and '-'")
		case dup:
			r.errorf(p+".id", "duplicate root key id %q (entry %d has it too; entries count from 0): give each key its own id", k.ID, first)
		}
		if !dup {
			seen[k.ID] = i
		}
		if k.Value == "" {
			r.errorf(p+".value", "must not be empty (32 random bytes, standard base64)")
			continue
		}
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(k.Value))
		switch {
		case err != nil:
			r.errorf(p+".value", "must be standard base64 of 32 random bytes (it does not decode as base64)")
		case len(b) != 32:
			r.errorf(p+".value", "must decode to exactly 32 bytes, not %d", len(b))
		}
	}
	if !c.API.Development && len(c.Security.RootKeys) == 0 {
		r.errorf("security.root_keys", "at least one root key is required when api.development is false")
	}
}

func validateStore(c *Config, r *report) {
	s := c.Store
	switch s.Type {
	case StoreEmbedded, "":
		if strings.TrimSpace(s.Embedded.Path) == "" && c.DataDir == "" {
			r.errorf("store.embedded.path", "must not be empty")
		}
	case StoreRedis:
		rd := s.Redis
		switch {
		case rd.URL == "" && len(rd.Addrs) == 0:
			r.errorf("store.redis", "give url or addrs")
		case rd.URL != "" && len(rd.Addrs) > 0:
			r.errorf("store.redis", "give url or addrs, not both")
		case rd.URL != "":
			u, err := url.Parse(rd.URL)
			switch {
			case err != nil:
				r.errorf("store.redis.url", "is not a valid URL")
			case u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix":
				r.errorf("store.redis.url", "scheme must be redis, rediss or unix, not %q", u.Scheme)
			case u.Scheme != "unix" && u.Host == "":
				r.errorf("store.redis.url", "must name a host (redis://host:6379/0)")
			}
		}
		for i, a := range rd.Addrs {
			if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
				r.errorf(fmt.Sprintf("store.redis.addrs[%d]", i), "must be host:port")
			}
		}
		if rd.DB < 0 {
			r.errorf("store.redis.db", "must not be negative")
		}
	default:
		r.errorf("store.type", "must be embedded or redis, not %q", s.Type)
	}
}

// hasUserFlows reports whether an enabled provider runs the
// authorization-code flow, where user verification matters.
func hasUserFlows(ps []Provider) bool {
	for _, p := range ps {
		if p.IsEnabled() && p.OAuth2.GrantType != GrantClientCredentials {
			return true
		}
	}
	return false
}

func validateAuth(c *Config, r *report) {
	a := c.Auth
	positive(r, "auth.flow_ttl", a.FlowTTL)
	positive(r, "auth.refresh_margin", a.RefreshMargin)
	uv := a.UserVerification
	if !uv.Enabled && !c.API.Development && hasUserFlows(a.Providers) {
		r.warnf("auth.user_verification", "is off: whoever opens an authorization link connects their own account to the link's user "+
			"(a link forwarded or phished to someone else connects their account); enable it with a verifier_url in production (README: Production)")
	}
	if uv.Enabled && uv.VerifierURL == "" {
		r.errorf("auth.user_verification.verifier_url", "is required when user verification is enabled")
	}
	if uv.VerifierURL != "" {
		if msg := checkHTTPURL(uv.VerifierURL); msg != "" {
			r.errorf("auth.user_verification.verifier_url", "%s", msg)
		}
	}
	bases := providerBases(a.Providers)
	first := map[string]int{}
	for i, p := range a.Providers {
		if p.ID != "" {
			if j, dup := first[p.ID]; dup {
				r.errorf(bases[i]+".id", "duplicate provider id %q (entry %d has it too; entries count from 0): give each provider its own id", p.ID, j)
			} else {
				first[p.ID] = i
			}
		}
		validateProvider(p, bases[i], r)
	}
}

// providerBases is the path of each provider's problems: auth.providers[<id>],
// or its position when the id is not usable in a path or is shared with
// another entry (auth.providers[hooli] would name both).
func providerBases(ps []Provider) []string {
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	return listPaths("auth.providers", ids)
}

// listPaths is listPath for every element of a list with ids ids; an id
// shared by several elements names none of them (the decoder's rule:
// elemPath).
func listPaths(base string, ids []string) []string {
	count := make(map[string]int, len(ids))
	for _, id := range ids {
		count[id]++
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		if count[id] > 1 {
			id = ""
		}
		out[i] = listPath(base, id, i)
	}
	return out
}

// validateProvider checks one decoded and defaulted provider, reporting
// under base ("" for paths relative to the provider). It is the
// provider-level validation of both Validate and ParseProvider; checks
// across providers (duplicate ids) are validateAuth's.
func validateProvider(p Provider, base string, r *report) {
	enabled := p.IsEnabled()
	switch {
	case p.ID == "":
		r.errorf(keyPath(base, "id"), "is required")
	case !idRE.MatchString(p.ID):
		r.errorf(keyPath(base, "id"), "must contain only letters, digits, '_', '.' and '-'")
	case len(p.ID) > MaxIDLength:
		r.errorf(keyPath(base, "id"), "must be at most %d characters, not %d", MaxIDLength, len(p.ID))
	}
	if p.Type != "" && p.Type != ProviderTypeOAuth2 && p.Type != ProviderTypeMCP {
		r.errorf(keyPath(base, "type"), "must be oauth2 or mcp, not %q", p.Type)
	}
	// Discovered providers get their endpoints (and an MCP provider its
	// client id) from metadata at start; what is given here overrides it.
	discovered := p.NeedsDiscovery()
	validateDiscovery(p, base, r)
	if p.ProviderID != "" {
		if _, ok := catalog.Lookup(p.ProviderID); !ok {
			r.errorf(keyPath(base, "provider_id"), "%s", unknownCatalogMessage(p.ProviderID))
			r.explain(keyPath(base, "oauth2")) // the template would have given these
		}
	}
	if enabled && strings.TrimSpace(p.ClientID) == "" && p.Type != ProviderTypeMCP {
		r.errorf(keyPath(base, "client_id"), "is required for an enabled provider")
	}

	o := p.OAuth2
	ob := keyPath(base, "oauth2")
	grant := o.GrantType
	switch grant {
	case "", GrantAuthorizationCode:
		grant = GrantAuthorizationCode
		if enabled && o.AuthorizeRequest == nil && !discovered {
			r.errorf(ob+".authorize_request", "is required for grant_type authorization_code (or give oauth2.issuer)")
		}
		if enabled && o.TokenRequest == nil && !discovered {
			r.errorf(ob+".token_request", "is required for grant_type authorization_code (or give oauth2.issuer)")
		}
	case GrantClientCredentials:
		if o.TokenRequest == nil && !discovered {
			r.errorf(ob+".token_request", "is required for grant_type client_credentials")
		}
		if o.PKCE.Enabled {
			r.errorf(ob+".pkce.enabled", "PKCE does not apply to grant_type client_credentials")
		}
		if o.AuthorizeRequest != nil {
			r.warnf(ob+".authorize_request", "is not used with grant_type client_credentials")
		}
	default:
		r.errorf(ob+".grant_type", "must be authorization_code or client_credentials, not %q", o.GrantType)
	}
	if o.ScopeDelimiter == "" && p.Type != "" {
		// Type is set by Load; a Config built in code may leave both empty.
		r.errorf(ob+".scope_delimiter", "must not be empty")
	}
	for i, s := range o.DefaultScopes {
		if strings.TrimSpace(s) == "" {
			r.errorf(fmt.Sprintf("%s.default_scopes[%d]", ob, i), "must not be empty")
		}
	}
	validPatterns := true
	for i, pat := range o.AllowedScopes {
		if _, err := path.Match(pat, ""); err != nil || strings.TrimSpace(pat) == "" {
			r.errorf(fmt.Sprintf("%s.allowed_scopes[%d]", ob, i), "is not a valid pattern (path.Match syntax: *, ?, [a-z])")
			validPatterns = false
		}
	}
	if validPatterns && len(o.AllowedScopes) > 0 {
		for i, s := range o.DefaultScopes {
			if s != "" && !scopeAllowed(s, o.AllowedScopes) {
				r.errorf(fmt.Sprintf("%s.default_scopes[%d]", ob, i), "scope %q is not matched by allowed_scopes", s)
			}
		}
	}
	switch o.UserInfoFrom {
	case "", UserInfoFromRequest:
	case UserInfoFromIDToken:
		if o.Issuer == "" {
			r.errorf(ob+".user_info_from", "id_token needs oauth2.issuer: the id_token is verified against the issuer's keys before its claims are used")
		}
		if grant != GrantAuthorizationCode {
			r.errorf(ob+".user_info_from", "id_token needs grant_type authorization_code")
		}
		if o.UserInfoRequest != nil {
			r.warnf(ob+".user_info_request", "is not used: oauth2.user_info_from is id_token")
		}
		if len(o.DefaultScopes) > 0 && !slices.Contains(o.DefaultScopes, "openid") {
			r.errorf(ob+".default_scopes", "must include openid: oauth2.user_info_from is id_token")
		}
	default:
		r.errorf(ob+".user_info_from", "must be user_info_request or id_token, not %q", o.UserInfoFrom)
	}
	if m := o.PKCE.CodeChallengeMethod; m != "" && m != PKCEMethodS256 {
		r.errorf(ob+".pkce.code_challenge_method", "must be S256, not %q (plain is not supported)", m)
	}
	if o.RefreshRequest != nil && o.RefreshTokenRequest != nil {
		r.errorf(ob+".refresh_request", "is an alias of refresh_token_request; give one of them, not both")
	}

	tokenAuth := AuthClientSecretPost
	if o.TokenRequest != nil && o.TokenRequest.AuthMethod != "" {
		tokenAuth = o.TokenRequest.AuthMethod
	}
	refresh, refreshName := o.RefreshTokenRequest, "refresh_token_request"
	if refresh == nil {
		refresh, refreshName = o.RefreshRequest, "refresh_request"
	}
	kinds := []struct {
		name string
		req  *Request
		kind requestKind
	}{
		{"authorize_request", o.AuthorizeRequest, kindAuthorize},
		{"token_request", o.TokenRequest, kindToken},
		{refreshName, refresh, kindRefresh},
		{"user_info_request", o.UserInfoRequest, kindUserInfo},
		{"revocation_request", o.RevocationRequest, kindRevocation},
	}
	needsSecret := false
	for _, k := range kinds {
		if k.req == nil {
			continue
		}
		if k.kind == kindAuthorize && grant == GrantClientCredentials {
			continue
		}
		req := *k.req
		req.Endpoint = SampleTemplate(req.Endpoint, o.ConnectionVariables)
		validateRequest(req, ob+"."+k.name, k.kind, enabled && !discovered, r)
		am := k.req.AuthMethod
		if am == "" && (k.kind == kindToken || k.kind == kindRefresh || k.kind == kindRevocation) {
			am = tokenAuth
		}
		if am == AuthClientSecretBasic || am == AuthClientSecretPost {
			needsSecret = true
		}
	}
	if enabled && needsSecret && p.ClientSecret == "" {
		r.errorf(keyPath(base, "client_secret"), "is required by auth_method client_secret_basic or client_secret_post (use auth_method: none for a public client)")
	}
	validateRedirectMetadata(p.OAuth2.RedirectMetadata, keyPath(base, "oauth2"), r)
	validateConnectionVariables(p.OAuth2.ConnectionVariables, keyPath(base, "oauth2"), r)
}

// requestKind is which of a provider's requests a Request block is.
type requestKind int

const (
	kindAuthorize requestKind = iota
	kindToken
	kindRefresh
	kindUserInfo
	kindRevocation
)

// validateRequest checks one request block; needEndpoint makes an empty
// endpoint an error (discovered providers may leave it to the metadata).
func validateRequest(q Request, p string, kind requestKind, needEndpoint bool, r *report) {
	switch {
	case strings.TrimSpace(q.Endpoint) == "":
		if needEndpoint {
			r.errorf(p+".endpoint", "is required")
		}
	default:
		endpoint := q.Endpoint
		if rest, ok := strings.CutPrefix(endpoint, "<<metadata."); ok && kind != kindAuthorize && kind != kindToken {
			// A token's metadata value that is a whole base URL
			// (Salesforce's instance_url); the engine checks the rendered
			// URL when it sends the request.
			if _, after, ok := strings.Cut(rest, ">>"); ok {
				endpoint = "https://metadata.example" + after
			}
		}
		if msg := checkHTTPURL(placeholderRE.ReplaceAllString(endpoint, "x")); msg != "" {
			r.errorf(p+".endpoint", "%s", msg)
		}
	}
	method := strings.ToUpper(q.Method)
	switch kind {
	case kindAuthorize:
		if method != "" && method != "GET" {
			r.errorf(p+".method", "must be GET: the authorize request is a browser redirect")
		}
		if q.AuthMethod != "" {
			r.errorf(p+".auth_method", "does not apply to the authorize request")
		}
		if q.RequestContentType != "" {
			r.errorf(p+".request_content_type", "does not apply to the authorize request")
		}
		if q.ResponseContentType != "" {
			r.errorf(p+".response_content_type", "does not apply to the authorize request")
		}
		if len(q.ResponseMap) > 0 {
			r.errorf(p+".response_map", "does not apply to the authorize request")
		}
		if len(q.Headers) > 0 {
			r.errorf(p+".headers", "does not apply to the authorize request (a browser redirect carries no headers)")
		}
	case kindToken, kindRefresh:
		if method != "" && method != "POST" {
			r.errorf(p+".method", "must be POST, not %q", q.Method)
		}
		if kind == kindToken {
			checkAuth(p, q.AuthMethod, r, AuthNone, AuthClientSecretBasic, AuthClientSecretPost)
		} else {
			checkAuth(p, q.AuthMethod, r, AuthNone, AuthClientSecretBasic, AuthClientSecretPost, AuthBearerAccessToken)
		}
	case kindRevocation:
		if method != "" && method != "POST" {
			r.errorf(p+".method", "must be POST (RFC 7009), not %q", q.Method)
		}
		checkAuth(p, q.AuthMethod, r, AuthNone, AuthClientSecretBasic, AuthClientSecretPost)
		if len(q.ResponseMap) > 0 {
			r.errorf(p+".response_map", "does not apply to the revocation request (its answer has no body to read)")
		}
	case kindUserInfo:
		if method != "" && method != "GET" && method != "POST" {
			r.errorf(p+".method", "must be GET or POST, not %q", q.Method)
		}
		checkAuth(p, q.AuthMethod, r, AuthBearerAccessToken, AuthNone)
	}
	if kind != kindAuthorize {
		checkContentType(p+".request_content_type", q.RequestContentType, r)
		checkContentType(p+".response_content_type", q.ResponseContentType, r)
	}
	if kind == kindToken || kind == kindRefresh {
		if len(q.ResponseMap) > 0 {
			for _, key := range []string{"access_token", "expires_in"} {
				if _, ok := q.ResponseMap[key]; !ok {
					r.errorf(p+".response_map", "must map %s when a response_map is given", key)
				}
			}
		}
	}
	for k, v := range q.ResponseMap {
		if strings.TrimSpace(k) == "" {
			r.errorf(p+".response_map", "keys must not be empty")
		}
		if strings.TrimSpace(v) == "" {
			r.errorf(keyPath(p+".response_map", k), "must not be empty")
		}
	}
	for k := range q.Params {
		if strings.TrimSpace(k) == "" {
			r.errorf(p+".params", "keys must not be empty")
		}
	}
	for k, v := range q.Headers {
		if !headerNameRE.MatchString(k) {
			r.errorf(keyPath(p+".headers", k), "is not a valid HTTP header name")
		}
		if strings.ContainsAny(v, "\r\n") {
			r.errorf(keyPath(p+".headers", k), "must not contain line breaks")
		}
	}
	if kind != kindUserInfo && (q.Triggers.OnTokenRefresh || q.Triggers.OnTokenGrant) {
		r.errorf(p+".triggers", "applies only to user_info_request")
	}
	if q.AuthMethod == AuthClientSecretBasic {
		for _, k := range []string{"client_id", "client_secret"} {
			if _, ok := q.Params[k]; ok {
				r.warnf(keyPath(p+".params", k), "is sent in the body while auth_method client_secret_basic also sends it in the Authorization header; strict servers reject credentials sent twice")
			}
		}
	}
}

// checkAuth reports an auth_method outside allowed (empty means default).
func checkAuth(p, got string, r *report, allowed ...string) {
	if got == "" {
		return
	}
	for _, a := range allowed {
		if got == a {
			return
		}
	}
	r.errorf(p+".auth_method", "must be one of %s, not %q", strings.Join(allowed, ", "), got)
}

func checkContentType(p, got string, r *report) {
	if got != "" && got != ContentTypeForm && got != ContentTypeJSON {
		r.errorf(p, "must be %s or %s, not %q", ContentTypeForm, ContentTypeJSON, got)
	}
}

func validateTools(c *Config, r *report) {
	seen := map[string]int{}
	ids := make([]string, len(c.Tools.Workers))
	for i, w := range c.Tools.Workers {
		ids[i] = w.ID
	}
	bases := listPaths("tools.workers", ids)
	for i, w := range c.Tools.Workers {
		base := bases[i]
		first, dup := seen[w.ID]
		switch {
		case w.ID == "":
			r.errorf(base+".id", "is required")
		case !idRE.MatchString(w.ID):
			r.errorf(base+".id", "must contain only letters, digits, '_', '.' and '-'")
		case dup:
			r.errorf(base+".id", "duplicate worker id %q (entry %d has it too; entries count from 0): give each worker its own id", w.ID, first)
		}
		if !dup {
			seen[w.ID] = i
		}
		h := w.HTTP
		switch {
		case h.URI == "":
			if w.IsEnabled() {
				r.errorf(base+".http.uri", "is required")
			}
		default:
			if msg := checkHTTPURL(h.URI); msg != "" {
				r.errorf(base+".http.uri", "%s", msg)
			}
		}
		if w.IsEnabled() && h.Secret == "" {
			r.errorf(base+".http.secret", "is required (the HS256 key for the engine-to-worker JWT)")
		}
		positive(r, base+".http.timeout", h.Timeout)
		if h.Retry < 0 {
			r.errorf(base+".http.retry", "must not be negative")
		}
	}
}

func validateTelemetry(c *Config, r *report) {
	switch c.Telemetry.Log.Level {
	case "", "debug", "info", "warn", "error":
	default:
		r.errorf("telemetry.log.level", "must be debug, info, warn or error, not %q", c.Telemetry.Log.Level)
	}
	switch c.Telemetry.Log.Format {
	case "", "json", "text":
	default:
		r.errorf("telemetry.log.format", "must be json or text, not %q", c.Telemetry.Log.Format)
	}
	if p := c.Telemetry.Metrics.Path; p != "" && !strings.HasPrefix(p, "/") {
		r.errorf("telemetry.metrics.path", "must start with /")
	}
	if l := c.Telemetry.Metrics.Listen; l != "" {
		host, n, ok := parseListen(l)
		switch {
		case !ok:
			r.errorf("telemetry.metrics.listen", "must be host:port with a port from 1 to 65535 (127.0.0.1:9100), not %q", l)
		case sameListener(host, n, c.API.Host, c.API.Port):
			r.errorf("telemetry.metrics.listen", "must differ from the main listener %s", net.JoinHostPort(c.API.Host, strconv.Itoa(c.API.Port)))
		case c.API.AdminListen != "" && sameAddr(l, c.API.AdminListen):
			r.errorf("telemetry.metrics.listen", "must differ from api.admin_listen %s", c.API.AdminListen)
		}
	}
	if t := c.Telemetry.Metrics.BearerToken; t != "" && len(t) < 16 {
		r.warnf("telemetry.metrics.bearer_token", "token is shorter than 16 characters; use a long random value")
	}
}

// sameListener reports whether host:port would collide with the listener
// on mainHost:mainPort (a wildcard address collides with every host).
func sameListener(host string, port int, mainHost string, mainPort int) bool {
	wild := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return port == mainPort && (host == mainHost || wild(host) || wild(mainHost))
}

// parseListen splits a host:port listener address; ok is false unless
// the port is a number from 1 to 65535.
func parseListen(addr string) (host string, port int, ok bool) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, false
	}
	port, err = strconv.Atoi(p)
	return host, port, err == nil && port >= 1 && port <= 65535
}

// sameAddr reports whether two host:port listeners would collide.
func sameAddr(a, b string) bool {
	ah, an, aok := parseListen(a)
	bh, bn, bok := parseListen(b)
	return aok && bok && sameListener(ah, an, bh, bn)
}

// positive reports a duration that is not above zero.
func positive(r *report, p string, d time.Duration) {
	if d <= 0 {
		r.errorf(p, "must be a positive duration, such as \"30s\"")
	}
}

// checkHTTPURL returns why s is not an absolute http or https URL, or "".
func checkHTTPURL(s string) string {
	u, err := url.Parse(strings.TrimSpace(s))
	switch {
	case err != nil:
		return "is not a valid URL: it must be an absolute http:// or https:// URL"
	case u.Scheme != "http" && u.Scheme != "https":
		return "must be an absolute http:// or https:// URL"
	case u.Host == "" || u.Hostname() == "":
		return "must name a host"
	case u.User != nil:
		return "must not carry credentials"
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "has an invalid port"
		}
	}
	return ""
}

// listPath is the path of a list element: its id in brackets when it has
// a usable one, its index otherwise (the same rule the decoder uses).
func listPath(base, id string, i int) string {
	if id != "" && !strings.ContainsAny(id, "[]\n\r") && len(id) <= 64 {
		return base + "[" + id + "]"
	}
	return base + "[" + strconv.Itoa(i) + "]"
}

// scopeAllowed reports whether scope matches one of patterns.
func scopeAllowed(scope string, patterns []string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, scope); ok {
			return true
		}
	}
	return false
}

// unknownCatalogMessage explains an unknown provider_id.
func unknownCatalogMessage(id string) string {
	ids := catalog.IDs()
	if s := closest(id, ids); s != "" {
		return fmt.Sprintf("unknown built-in provider %q (did you mean %q?)", id, s)
	}
	return fmt.Sprintf("unknown built-in provider %q (built-in: %s)", id, strings.Join(ids, ", "))
}

// validateDiscovery checks oauth2.issuer and the mcp block.
func validateDiscovery(p Provider, base string, r *report) {
	if iss := p.OAuth2.Issuer; iss != "" {
		ip := keyPath(base, "oauth2.issuer")
		if msg := checkHTTPURL(iss); msg != "" {
			r.errorf(ip, "%s", msg)
		} else if u, _ := url.Parse(iss); u.RawQuery != "" || u.Fragment != "" {
			r.errorf(ip, "must not have a query or fragment (an issuer is scheme, host and optional path)")
		}
		if p.Type == ProviderTypeMCP {
			r.errorf(ip, "does not apply to type mcp: the MCP server names its authorization server")
		}
	}
	mp := keyPath(base, "mcp.url")
	if p.Type != ProviderTypeMCP {
		if p.MCP.URL != "" {
			r.errorf(mp, "applies only to type mcp")
		}
		return
	}
	switch msg := checkHTTPURL(p.MCP.URL); {
	case strings.TrimSpace(p.MCP.URL) == "":
		r.errorf(mp, "is required for type mcp (the MCP server's URL)")
	case msg != "":
		r.errorf(mp, "%s", msg)
	default:
		if u, _ := url.Parse(p.MCP.URL); u.Fragment != "" {
			r.errorf(mp, "must not have a fragment")
		}
	}
	if p.OAuth2.GrantType == GrantClientCredentials {
		r.errorf(keyPath(base, "oauth2.grant_type"), "must be authorization_code for type mcp (an MCP server's users authorize it)")
	}
}

func validateRefresh(c *Config, r *report) {
	sw := c.Refresh.Sweeper
	if sw.Interval < 0 || sw.Interval > 0 && sw.Interval < time.Second {
		r.errorf("refresh.sweeper.interval", "must be at least 1s, not %s", sw.Interval)
	}
	if sw.Window < 0 {
		r.errorf("refresh.sweeper.window", "must not be negative")
	}
	if sw.IdleAfter < 0 {
		r.errorf("refresh.sweeper.idle_after", "must not be negative")
	}
	if sw.Concurrency < 0 || sw.Concurrency > 64 {
		r.errorf("refresh.sweeper.concurrency", "must be between 1 and 64 (0 is the default, 4), not %d", sw.Concurrency)
	}
}
