// Package providertest is a strict stand-in OAuth 2.0 provider for tests.
//
// New starts an httptest.Server that implements the authorization-code
// grant (with PKCE S256), refresh tokens (optionally rotating, with reuse
// detection) and the client-credentials grant, plus a bearer-protected
// user-info endpoint. It is strict: every protocol violation by the client
// under test — wrong client authentication, a missing or wrong grant_type,
// a redirect_uri that differs from the one authorized, a missing or wrong
// PKCE verifier, credentials sent twice, a missing Accept: application/json,
// the wrong request content type — is answered with the OAuth error a real
// server would send AND reported with t.Errorf, so a test cannot pass by
// accident.
//
// Failures a test provokes on purpose are answered like a real provider but
// are not test errors: a replayed or expired authorization code, a reused
// rotated refresh token (which revokes the whole token chain, RFC 6749
// 10.4), an unknown code, an expired or revoked access token at the
// user-info endpoint, and failures injected with FailNext. They show in
// Counts.Rejected (and replays in Counts.Replays).
//
// Quirks reproduce real providers' deviations: tokens nested under a key
// (Slack's authed_user, TikTok's data), form-encoded responses (GitHub),
// array scopes, string expires_in (Microsoft, PayPal), failures as HTTP 200
// with {"ok": false, "error": ...} (Slack), JSON request bodies (Notion) and
// other scope delimiters. Config returns a config.Provider already set up
// for the chosen options, so a test builds an engine against the stand-in
// in one line.
//
// A typical test:
//
//	idp := providertest.New(t, providertest.Options{RequirePKCE: true, RedirectURI: redirect})
//	p, _ := authflow.Compile(idp.Config("hooli"), redirect)
//	callback, _ := idp.Consent(ctx, p.AuthorizeURL(state, nil, nil, challenge))
//	// ... read code from callback, then p.Exchange(...)
package providertest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Client authentication methods the token endpoint can demand.
const (
	ClientSecretBasic = "client_secret_basic"
	ClientSecretPost  = "client_secret_post"
	ClientAuthNone    = "none"
)

// Defaults for Options fields left empty.
const (
	DefaultClientID     = "providertest-client"
	DefaultClientSecret = "providertest-secret"
	DefaultCodeTTL      = time.Minute
)

// Options configure the stand-in.
type Options struct {
	// ClientID and ClientSecret are the registered client's credentials.
	// Defaults: DefaultClientID, DefaultClientSecret.
	ClientID     string
	ClientSecret string
	// ClientAuth is the client authentication the token endpoint demands:
	// client_secret_basic (default), client_secret_post or none. A request
	// authenticating any other way is refused with 401 invalid_client and
	// fails the test.
	ClientAuth string
	// RequirePKCE demands an S256 code_challenge at /authorize and the
	// matching code_verifier at /token.
	RequirePKCE bool
	// RedirectURI is the one registered redirect URI; /authorize refuses
	// any other. Empty accepts any at /authorize; /token always demands
	// the one the code was issued for.
	RedirectURI string
	// AccessTokenTTL is the access-token lifetime; 0 sends no expires_in
	// and the tokens never expire (until ExpireAccessTokens).
	AccessTokenTTL time.Duration
	// CodeTTL is the authorization-code lifetime. Default DefaultCodeTTL.
	CodeTTL time.Duration
	// NoRefreshTokens makes the code exchange issue no refresh token
	// (GitHub OAuth apps).
	NoRefreshTokens bool
	// RotateRefreshTokens makes each refresh issue a new refresh token
	// and invalidate the old one; using an old one again revokes the whole
	// chain (RFC 6749 10.4, OAuth 2.1) and answers invalid_grant.
	RotateRefreshTokens bool
	// UserInfo is what /userinfo answers. Default {"sub": "providertest-user"}.
	UserInfo map[string]any
	// Quirks reproduce real providers' deviations.
	Quirks Quirks
	// RedirectParams are added to the redirect that carries the code
	// (QuickBooks' realmId).
	RedirectParams map[string]string
	// GrantFields are added to the code exchange's token response, not to
	// refreshes (Salesforce's instance_url).
	GrantFields map[string]any
	// Now is the stand-in's clock for code and token expiry. Default time.Now.
	Now func() time.Time
	// OIDC, when set, makes the stand-in an OpenID Connect provider
	// (metadata, JWKS, signed id_tokens; see oidc.go).
	OIDC *OIDC
}

// Quirks reproduce real providers' deviations from RFC 6749.
type Quirks struct {
	// NestUnder wraps the token fields in an object under this key
	// ({"ok": true, "authed_user": {...}}, as Slack and TikTok do); the
	// top level then carries a decoy access_token that is not valid.
	NestUnder string
	// NestOnlyCodeExchange applies NestUnder to the code exchange only;
	// refreshes answer top-level fields (Slack's user-token rotation).
	NestOnlyCodeExchange bool
	// NoResponseType accepts an authorize request without response_type,
	// as GitHub, Slack and others do (a wrong one is still refused).
	NoResponseType bool
	// FormEncoded answers application/x-www-form-urlencoded (GitHub).
	FormEncoded bool
	// ArrayScopes sends scope as a JSON array.
	ArrayScopes bool
	// StringExpiresIn sends expires_in as a string ("3600").
	StringExpiresIn bool
	// ErrorsWith200 answers failures with HTTP 200 and
	// {"ok": false, "error": "..."} (Slack).
	ErrorsWith200 bool
	// JSONRequestBody demands application/json request bodies at /token.
	JSONRequestBody bool
	// ScopeDelimiter separates scopes in requests and responses. Default " ".
	ScopeDelimiter string
}

// Counts are the requests the stand-in answered, by outcome.
type Counts struct {
	Authorize         int // authorization requests that issued a code
	Denied            int // authorization requests the user denied
	CodeExchanges     int // codes redeemed for tokens
	Refreshes         int // refresh-token grants that succeeded
	ClientCredentials int // client-credentials grants that succeeded
	UserInfo          int // user-info answers
	Rejected          int // requests refused at any endpoint
	Replays           int // replayed codes and reused rotated refresh tokens
	Revocations       int // issued tokens revoked at the revocation endpoint
}

// Provider is a running stand-in. Its methods are safe for concurrent use.
type Provider struct {
	t    testing.TB
	opts Options
	srv  *httptest.Server

	delay atomic.Int64 // time.Duration

	authorize, denied, exchanges, refreshes, clientCreds, userInfo, rejected, replays, revocations atomic.Int64

	mu       sync.Mutex
	codes    map[string]*codeGrant
	access   map[string]*accessToken
	refresh  map[string]*refreshToken
	revoked  map[int]bool // token families revoked
	family   int
	failures []failure
	// revokeFailures are answered by the revocation endpoint first.
	revokeFailures []failure
	violations     []string
	// refusedScopes are answered invalid_scope by the client-credentials
	// grant (see RefuseScopes).
	refusedScopes map[string]bool
	// oidc is the OpenID Connect signing key; nil unless Options.OIDC.
	oidc *oidcState
	// refuseRefresh, when set, is the OAuth error every refresh grant is
	// answered with (see RefuseRefreshes).
	refuseRefresh string
	// declinedScopes are left out of the grants of later consents (see
	// DeclineScopes).
	declinedScopes map[string]bool
}

type codeGrant struct {
	clientID, redirectURI, challenge string
	nonce                            string // the authorize request's OpenID Connect nonce
	scopes                           []string
	expires                          time.Time
	used                             bool
	family                           int
}

type accessToken struct {
	family  int
	expires time.Time // zero: never
	scopes  []string
}

type refreshToken struct {
	family  int
	scopes  []string
	rotated bool
}

type failure struct {
	status int
	code   string
}

// New starts a stand-in provider; it is closed when the test ends.
func New(t testing.TB, opts Options) *Provider {
	t.Helper()
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.ClientAuth == "" {
		opts.ClientAuth = ClientSecretBasic
	}
	switch opts.ClientAuth {
	case ClientSecretBasic, ClientSecretPost:
		if opts.ClientSecret == "" {
			opts.ClientSecret = DefaultClientSecret
		}
	case ClientAuthNone:
	default:
		t.Fatalf("providertest: unknown ClientAuth %q (want client_secret_basic, client_secret_post or none)", opts.ClientAuth)
	}
	if opts.Quirks.FormEncoded && (opts.Quirks.NestUnder != "" || opts.Quirks.ArrayScopes) {
		t.Fatalf("providertest: a form-encoded response cannot nest fields or carry array scopes")
	}
	if opts.Quirks.ScopeDelimiter == "" {
		opts.Quirks.ScopeDelimiter = " "
	}
	if opts.CodeTTL == 0 {
		opts.CodeTTL = DefaultCodeTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.UserInfo == nil {
		opts.UserInfo = map[string]any{"sub": "providertest-user"}
	}
	p := &Provider{
		t:       t,
		opts:    opts,
		codes:   map[string]*codeGrant{},
		access:  map[string]*accessToken{},
		refresh: map[string]*refreshToken{},
		revoked: map[int]bool{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/authorize", p.handleAuthorize)
	mux.HandleFunc("/token", p.handleToken)
	mux.HandleFunc("/userinfo", p.handleUserInfo)
	// Salesforce's path, for templates that build it on the token's
	// instance_url.
	mux.HandleFunc("/services/oauth2/userinfo", p.handleUserInfo)
	p.setupOIDC(mux)
	mux.HandleFunc("/revoke", p.handleRevoke)
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// URL is the stand-in's base URL.
func (p *Provider) URL() string { return p.srv.URL }

// AuthorizeEndpoint is the authorization endpoint's URL.
func (p *Provider) AuthorizeEndpoint() string { return p.srv.URL + "/authorize" }

// TokenEndpoint is the token endpoint's URL.
func (p *Provider) TokenEndpoint() string { return p.srv.URL + "/token" }

// SetGrantFields replaces Options.GrantFields for the code exchanges
// from now on (a field naming the stand-in's own URL, known only once it
// runs).
func (p *Provider) SetGrantFields(fields map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.opts.GrantFields = maps.Clone(fields)
}

// UserInfoEndpoint is the user-info endpoint's URL.
func (p *Provider) UserInfoEndpoint() string { return p.srv.URL + "/userinfo" }

// ClientID is the registered client id.
func (p *Provider) ClientID() string { return p.opts.ClientID }

// ClientSecret is the registered client secret ("" for ClientAuth none).
func (p *Provider) ClientSecret() string { return p.opts.ClientSecret }

// Counts returns a snapshot of the request counters.
func (p *Provider) Counts() Counts {
	return Counts{
		Authorize:         int(p.authorize.Load()),
		Denied:            int(p.denied.Load()),
		CodeExchanges:     int(p.exchanges.Load()),
		Refreshes:         int(p.refreshes.Load()),
		ClientCredentials: int(p.clientCreds.Load()),
		UserInfo:          int(p.userInfo.Load()),
		Rejected:          int(p.rejected.Load()),
		Replays:           int(p.replays.Load()),
		Revocations:       int(p.revocations.Load()),
	}
}

// Violations returns the protocol violations reported so far (each was
// also reported with t.Errorf).
func (p *Provider) Violations() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.violations)
}

// SetDelay makes every endpoint wait d before answering (0 turns it off),
// to test timeouts.
func (p *Provider) SetDelay(d time.Duration) { p.delay.Store(int64(d)) }

// FailNext makes the next n token-endpoint requests fail with status and
// the OAuth error oauthErr, before anything else is checked (a code sent
// with them stays redeemable). With status 200 the failure is
// {"ok": false, "error": oauthErr}.
func (p *Provider) FailNext(n, status int, oauthErr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range n {
		p.failures = append(p.failures, failure{status: status, code: oauthErr})
	}
}

// RefuseScopes makes the client-credentials grant answer 400 invalid_scope
// from now on to any request asking for one of scopes, as a provider does
// once an app's permission is withdrawn.
func (p *Provider) RefuseScopes(scopes ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.refusedScopes == nil {
		p.refusedScopes = map[string]bool{}
	}
	for _, s := range scopes {
		p.refusedScopes[s] = true
	}
}

// DeclineScopes makes later consents grant the scopes asked for except
// these, as a user who unticks permissions on the consent screen: the
// code's tokens carry only the rest, and the token response's scope says
// so. Called again it replaces the set; with none, consents grant all.
func (p *Provider) DeclineScopes(scopes ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.declinedScopes = map[string]bool{}
	for _, s := range scopes {
		p.declinedScopes[s] = true
	}
}

// RefuseRefreshes makes every later refresh-token grant answer HTTP 400
// with the OAuth error oauthErr (unauthorized_client: the client may not
// refresh, as with a misconfigured app); "" lets refreshes through again.
// The refresh token itself stays valid.
func (p *Provider) RefuseRefreshes(oauthErr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuseRefresh = oauthErr
}

// RevokeGrants revokes every grant issued so far, as a user removing the
// app's access in the provider's settings: their access tokens stop
// working and their refresh tokens answer invalid_grant "refresh token
// revoked".
func (p *Provider) RevokeGrants() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for f := 1; f <= p.family; f++ {
		p.revoked[f] = true
	}
}

// AccessTokenScopes returns the scopes the stand-in granted with access
// token tok (nil for a token it never issued).
func (p *Provider) AccessTokenScopes(tok string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if a, ok := p.access[tok]; ok {
		return slices.Clone(a.scopes)
	}
	return nil
}

// ExpireAccessTokens makes every access token issued so far expired.
func (p *Provider) ExpireAccessTokens() {
	p.mu.Lock()
	defer p.mu.Unlock()
	past := p.opts.Now().Add(-time.Second)
	for _, a := range p.access {
		a.expires = past
	}
}

// ExpireCodes makes every authorization code issued so far expired.
func (p *Provider) ExpireCodes() {
	p.mu.Lock()
	defer p.mu.Unlock()
	past := p.opts.Now().Add(-time.Second)
	for _, c := range p.codes {
		c.expires = past
	}
}

// ValidAccessToken reports whether tok is an access token the stand-in
// issued that is neither expired nor revoked.
func (p *Provider) ValidAccessToken(tok string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	a, ok := p.access[tok]
	return ok && p.accessValid(a)
}

// ValidRefreshToken reports whether tok is a refresh token the stand-in
// would accept now.
func (p *Provider) ValidRefreshToken(tok string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.refresh[tok]
	return ok && !r.rotated && !p.revoked[r.family]
}

// RefreshTokenState describes a refresh token: known is false for one the
// stand-in never issued; rotated says a refresh replaced it with a newer
// one; revoked says its chain was revoked (a rotated token was reused).
// Crash tests use it to tell a token the engine failed to store after the
// provider answered from one it forgot.
func (p *Provider) RefreshTokenState(tok string) (known, rotated, revoked bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.refresh[tok]
	if !ok {
		return false, false, false
	}
	return true, r.rotated, p.revoked[r.family]
}

func (p *Provider) accessValid(a *accessToken) bool {
	return !p.revoked[a.family] && (a.expires.IsZero() || p.opts.Now().Before(a.expires))
}

// Consent acts as the browser and the consenting user: it GETs
// authorizeURL without following the redirect and returns the Location
// the stand-in redirects to (redirect_uri?code=...&state=...). An error
// page (bad client_id or redirect_uri) is returned as an error.
func (p *Provider) Consent(ctx context.Context, authorizeURL string) (callbackURL string, err error) {
	return p.visit(ctx, authorizeURL, false)
}

// Deny acts as a user who refuses consent: the stand-in redirects with
// error=access_denied and the state.
func (p *Provider) Deny(ctx context.Context, authorizeURL string) (callbackURL string, err error) {
	return p.visit(ctx, authorizeURL, true)
}

// denyHeader tells /authorize that the user refuses.
const denyHeader = "X-Providertest-Deny"

func (p *Provider) visit(ctx context.Context, authorizeURL string, deny bool) (string, error) {
	if !strings.HasPrefix(authorizeURL, p.AuthorizeEndpoint()) {
		return "", fmt.Errorf("providertest: %q is not this stand-in's authorize endpoint %s", authorizeURL, p.AuthorizeEndpoint())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authorizeURL, nil)
	if err != nil {
		return "", fmt.Errorf("providertest: build authorize request: %w", err)
	}
	if deny {
		req.Header.Set(denyHeader, "1")
	}
	c := *p.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		return "", fmt.Errorf("providertest: authorize request: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		var msg struct {
			Error string `json:"error_description"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&msg)
		return "", fmt.Errorf("providertest: authorize answered HTTP %d: %s", resp.StatusCode, msg.Error)
	}
	return resp.Header.Get("Location"), nil
}

// violation reports a protocol violation by the client under test.
func (p *Provider) violation(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.recordViolationLocked(fmt.Sprintf(format, args...))
}

// recordViolationLocked records msg and fails the test. p.mu is held.
func (p *Provider) recordViolationLocked(msg string) {
	p.violations = append(p.violations, msg)
	p.t.Errorf("providertest: protocol violation: %s", msg)
}

// wait applies SetDelay; it returns false when the client gave up.
func (p *Provider) wait(r *http.Request) bool {
	d := time.Duration(p.delay.Load())
	if d <= 0 {
		return true
	}
	select {
	case <-time.After(d):
		return true
	case <-r.Context().Done():
		return false
	}
}

// handleAuthorize validates an authorization request (RFC 6749 4.1.1,
// RFC 7636 4.3) and redirects with a code, or with error=access_denied
// when the user denies.
func (p *Provider) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	if !p.wait(r) {
		return
	}
	q := r.URL.Query()
	// Errors before the redirect URI is trusted are shown to the user,
	// never redirected (RFC 6749 4.1.2.1).
	page := func(format string, args ...any) {
		p.rejected.Add(1)
		msg := fmt.Sprintf(format, args...)
		p.violation("authorize: %s", msg)
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request", "error_description": msg})
	}
	if r.Method != http.MethodGet {
		page("method %s, want GET", r.Method)
		return
	}
	for k, vs := range q {
		if len(vs) > 1 {
			page("parameter %s sent %d times", k, len(vs))
			return
		}
	}
	if got := q.Get("client_id"); got != p.opts.ClientID {
		page("unknown client_id %q", got)
		return
	}
	redirectURI := q.Get("redirect_uri")
	if redirectURI == "" {
		page("redirect_uri is missing")
		return
	}
	if p.opts.RedirectURI != "" && redirectURI != p.opts.RedirectURI {
		page("redirect_uri %q is not the registered %q", redirectURI, p.opts.RedirectURI)
		return
	}
	target, err := url.Parse(redirectURI)
	if err != nil || !target.IsAbs() {
		page("redirect_uri %q is not an absolute URL", redirectURI)
		return
	}
	state := q.Get("state")
	redirect := func(params ...string) {
		v := target.Query()
		for i := 0; i+1 < len(params); i += 2 {
			v.Set(params[i], params[i+1])
		}
		if state != "" {
			v.Set("state", state)
		}
		u := *target
		u.RawQuery = v.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
	fail := func(format string, args ...any) {
		p.rejected.Add(1)
		msg := fmt.Sprintf(format, args...)
		p.violation("authorize: %s", msg)
		redirect("error", "invalid_request", "error_description", msg)
	}
	if got := q.Get("response_type"); got != "code" && (got != "" || !p.opts.Quirks.NoResponseType) {
		fail("response_type %q, want code", got)
		return
	}
	if state == "" {
		fail("state is missing (the engine must always send one)")
		return
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	switch {
	case challenge == "" && p.opts.RequirePKCE:
		fail("code_challenge is missing; PKCE is required")
		return
	case challenge == "" && method != "":
		fail("code_challenge_method without code_challenge")
		return
	case challenge != "" && method != "S256":
		fail("code_challenge_method %q, want S256", method)
		return
	case challenge != "" && !validChallenge(challenge):
		fail("code_challenge %q is not 43 base64url characters", challenge)
		return
	}
	if r.Header.Get(denyHeader) != "" {
		p.denied.Add(1)
		redirect("error", "access_denied", "error_description", "The user denied the request")
		return
	}
	code := randomToken("code")
	p.mu.Lock()
	p.family++
	granted := slices.DeleteFunc(splitScopes(q.Get("scope"), p.opts.Quirks.ScopeDelimiter), func(s string) bool { return p.declinedScopes[s] })
	p.codes[code] = &codeGrant{
		clientID:    q.Get("client_id"),
		redirectURI: redirectURI,
		challenge:   challenge,
		nonce:       q.Get("nonce"),
		scopes:      granted,
		expires:     p.opts.Now().Add(p.opts.CodeTTL),
		family:      p.family,
	}
	p.mu.Unlock()
	p.authorize.Add(1)
	params := []string{"code", code}
	for k, v := range p.opts.RedirectParams {
		params = append(params, k, v)
	}
	redirect(params...)
}

// handleToken implements the token endpoint: authorization_code,
// refresh_token and client_credentials grants (RFC 6749 4.1.3, 6, 4.4).
func (p *Provider) handleToken(w http.ResponseWriter, r *http.Request) {
	if !p.wait(r) {
		return
	}
	if r.Method != http.MethodPost {
		p.refuse(w, http.StatusMethodNotAllowed, "invalid_request", true, "token: method %s, want POST", r.Method)
		return
	}
	p.mu.Lock()
	var injected *failure
	if len(p.failures) > 0 {
		injected = &p.failures[0]
		p.failures = p.failures[1:]
	}
	p.mu.Unlock()
	if injected != nil {
		p.rejected.Add(1)
		p.writeError(w, injected.status, injected.code, "injected failure")
		return
	}
	if !acceptsJSON(r) {
		p.refuse(w, http.StatusBadRequest, "invalid_request", true, "token: Accept: application/json is missing")
		return
	}
	if r.URL.RawQuery != "" {
		p.refuse(w, http.StatusBadRequest, "invalid_request", true, "token: parameters sent in the URL query")
		return
	}
	form, ok := p.readForm(w, r)
	if !ok {
		return
	}
	clientID, ok := p.authenticate(w, r, form)
	if !ok {
		return
	}
	switch gt := form.Get("grant_type"); gt {
	case "authorization_code":
		p.grantCode(w, form, clientID)
	case "refresh_token":
		p.grantRefresh(w, form)
	case "client_credentials":
		p.grantClientCredentials(w, form)
	case "":
		p.refuse(w, http.StatusBadRequest, "invalid_request", true, "token: grant_type is missing")
	default:
		p.refuse(w, http.StatusBadRequest, "unsupported_grant_type", true, "token: unsupported grant_type %q", gt)
	}
}

// readForm reads the token request body in the content type the stand-in
// demands (form, or JSON with Quirks.JSONRequestBody).
func (p *Provider) readForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if p.opts.Quirks.JSONRequestBody {
		if mt != "application/json" {
			p.refuse(w, http.StatusBadRequest, "invalid_request", true, "token: Content-Type %q, want application/json", mt)
			return nil, false
		}
		var body map[string]any
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&body); err != nil {
			p.refuse(w, http.StatusBadRequest, "invalid_request", true, "token: body is not a JSON object: %v", err)
			return nil, false
		}
		form := url.Values{}
		for k, v := range body {
			s, ok := v.(string)
			if !ok {
				p.refuse(w, http.StatusBadRequest, "invalid_request", true, "token: JSON field %s is not a string", k)
				return nil, false
			}
			form.Set(k, s)
		}
		return form, true
	}
	if mt != "application/x-www-form-urlencoded" {
		p.refuse(w, http.StatusBadRequest, "invalid_request", true, "token: Content-Type %q, want application/x-www-form-urlencoded", mt)
		return nil, false
	}
	if err := r.ParseForm(); err != nil {
		p.refuse(w, http.StatusBadRequest, "invalid_request", true, "token: body is not a form: %v", err)
		return nil, false
	}
	for k, vs := range r.PostForm {
		if len(vs) > 1 {
			p.refuse(w, http.StatusBadRequest, "invalid_request", true, "token: parameter %s sent %d times", k, len(vs))
			return nil, false
		}
	}
	return r.PostForm, true
}

// authenticate checks the client authentication Options.ClientAuth
// demands (RFC 6749 2.3.1). Any other way is refused with 401
// invalid_client and reported.
func (p *Provider) authenticate(w http.ResponseWriter, r *http.Request, form url.Values) (string, bool) {
	basicID, basicSecret, hasBasic := r.BasicAuth()
	bad := func(format string, args ...any) (string, bool) {
		if hasBasic {
			w.Header().Set("WWW-Authenticate", `Basic realm="providertest"`)
		}
		p.refuse(w, http.StatusUnauthorized, "invalid_client", true, "token: "+format, args...)
		return "", false
	}
	switch p.opts.ClientAuth {
	case ClientSecretBasic:
		if !hasBasic {
			return bad("client_secret_basic required, but no HTTP Basic credentials were sent")
		}
		id, err1 := url.QueryUnescape(basicID)
		secret, err2 := url.QueryUnescape(basicSecret)
		if err1 != nil || err2 != nil {
			return bad("HTTP Basic credentials are not form-encoded (RFC 6749 2.3.1)")
		}
		if form.Has("client_secret") {
			return bad("client credentials sent twice (HTTP Basic and client_secret in the body)")
		}
		if form.Has("client_id") && form.Get("client_id") != id {
			return bad("client_id in the body differs from the HTTP Basic one")
		}
		if !equal(id, p.opts.ClientID) || !equal(secret, p.opts.ClientSecret) {
			return bad("wrong client id or secret")
		}
		return id, true
	case ClientSecretPost:
		if hasBasic {
			return bad("client_secret_post required, but HTTP Basic credentials were sent")
		}
		if !form.Has("client_id") || !form.Has("client_secret") {
			return bad("client_secret_post required, but client_id or client_secret is missing from the body")
		}
		if !equal(form.Get("client_id"), p.opts.ClientID) || !equal(form.Get("client_secret"), p.opts.ClientSecret) {
			return bad("wrong client id or secret")
		}
		return form.Get("client_id"), true
	default: // none: a public client identifies itself, without a secret
		if hasBasic || form.Has("client_secret") {
			return bad("public client (auth none) sent a client secret")
		}
		if form.Get("client_id") != p.opts.ClientID {
			return bad("unknown client_id %q", form.Get("client_id"))
		}
		return form.Get("client_id"), true
	}
}

func (p *Provider) grantCode(w http.ResponseWriter, form url.Values, clientID string) {
	code := form.Get("code")
	if code == "" {
		p.refuse(w, http.StatusBadRequest, "invalid_request", true, "token: code is missing")
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	g, ok := p.codes[code]
	switch {
	case !ok:
		p.refuseLocked(w, "invalid_grant", "unknown authorization code")
		return
	case g.used:
		// RFC 6749 4.1.2: a code used twice revokes what it issued.
		p.revoked[g.family] = true
		p.replays.Add(1)
		p.refuseLocked(w, "invalid_grant", "authorization code already redeemed")
		return
	}
	g.used = true
	if !p.opts.Now().Before(g.expires) {
		p.refuseLocked(w, "invalid_grant", "authorization code expired")
		return
	}
	if g.clientID != clientID {
		p.violationLocked(w, "invalid_grant", "token: code issued to client %q redeemed by %q", g.clientID, clientID)
		return
	}
	if got := form.Get("redirect_uri"); got != g.redirectURI {
		p.violationLocked(w, "invalid_grant", "token: redirect_uri %q differs from the authorized %q", got, g.redirectURI)
		return
	}
	verifier := form.Get("code_verifier")
	switch {
	case g.challenge == "" && verifier != "":
		p.violationLocked(w, "invalid_request", "token: code_verifier sent for a code issued without code_challenge")
		return
	case g.challenge != "" && verifier == "":
		p.violationLocked(w, "invalid_grant", "token: code_verifier is missing (PKCE)")
		return
	case g.challenge != "" && !validVerifier(verifier):
		p.violationLocked(w, "invalid_grant", "token: code_verifier is not 43-128 unreserved characters (RFC 7636 4.1)")
		return
	case g.challenge != "" && s256(verifier) != g.challenge:
		p.violationLocked(w, "invalid_grant", "token: code_verifier does not match the code_challenge")
		return
	}
	p.exchanges.Add(1)
	p.issueLocked(w, g.family, g.scopes, !p.opts.NoRefreshTokens, p.opts.Quirks.NestUnder, p.opts.GrantFields, g.nonce)
}

// grantRefresh redeems a refresh token. There is one registered client,
// which authentication has already checked, so tokens need no client
// binding check.
func (p *Provider) grantRefresh(w http.ResponseWriter, form url.Values) {
	tok := form.Get("refresh_token")
	if tok == "" {
		p.refuse(w, http.StatusBadRequest, "invalid_request", true, "token: refresh_token is missing")
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.refuseRefresh != "" {
		p.refuseLocked(w, p.refuseRefresh, "refresh is not allowed for this client")
		return
	}
	rt, ok := p.refresh[tok]
	switch {
	case !ok:
		p.refuseLocked(w, "invalid_grant", "unknown refresh token")
		return
	case p.revoked[rt.family]:
		p.refuseLocked(w, "invalid_grant", "refresh token revoked")
		return
	case rt.rotated:
		// Reuse of a rotated refresh token: assume theft and revoke the
		// whole chain (RFC 6749 10.4, OAuth 2.1 4.3.1).
		p.revoked[rt.family] = true
		p.replays.Add(1)
		p.refuseLocked(w, "invalid_grant", "refresh token already used; token chain revoked")
		return
	}
	scopes := rt.scopes
	if s := form.Get("scope"); s != "" {
		scopes = splitScopes(s, p.opts.Quirks.ScopeDelimiter)
		for _, sc := range scopes {
			if !slices.Contains(rt.scopes, sc) {
				p.refuseLocked(w, "invalid_scope", "scope "+sc+" was not granted")
				return
			}
		}
	}
	p.refreshes.Add(1)
	if p.opts.RotateRefreshTokens {
		rt.rotated = true
		p.issueLocked(w, rt.family, scopes, true, p.refreshNest(), nil, "")
		return
	}
	p.issueLocked(w, rt.family, scopes, false, p.refreshNest(), nil, "")
}

func (p *Provider) grantClientCredentials(w http.ResponseWriter, form url.Values) {
	if p.opts.ClientAuth == ClientAuthNone {
		p.refuse(w, http.StatusBadRequest, "unauthorized_client", true, "token: client_credentials needs a confidential client")
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	scopes := splitScopes(form.Get("scope"), p.opts.Quirks.ScopeDelimiter)
	for _, sc := range scopes {
		if p.refusedScopes[sc] {
			p.refuseLocked(w, "invalid_scope", "scope "+sc+" is not granted to this client")
			return
		}
	}
	p.family++
	p.clientCreds.Add(1)
	p.issueLocked(w, p.family, scopes, false, p.opts.Quirks.NestUnder, nil, "")
}

// refreshNest is the key refresh responses nest the token under.
func (p *Provider) refreshNest() string {
	if p.opts.Quirks.NestOnlyCodeExchange {
		return ""
	}
	return p.opts.Quirks.NestUnder
}

// issueLocked mints an access token (and a refresh token) in family and
// writes the token response in the configured shape, nested under nest
// when that is set, with the extra fields at its top level; an id_token
// (OpenID Connect stand-in, openid granted) carries nonce when it is not
// empty. p.mu is held.
func (p *Provider) issueLocked(w http.ResponseWriter, family int, scopes []string, withRefresh bool, nest string, extra map[string]any, nonce string) {
	at := randomToken("at")
	a := &accessToken{family: family, scopes: scopes}
	if p.opts.AccessTokenTTL > 0 {
		a.expires = p.opts.Now().Add(p.opts.AccessTokenTTL)
	}
	p.access[at] = a
	fields := map[string]any{"access_token": at, "token_type": "Bearer"}
	if ttl := int64(p.opts.AccessTokenTTL / time.Second); ttl > 0 {
		if p.opts.Quirks.StringExpiresIn {
			fields["expires_in"] = fmt.Sprint(ttl)
		} else {
			fields["expires_in"] = ttl
		}
	}
	if withRefresh {
		rt := randomToken("rt")
		p.refresh[rt] = &refreshToken{family: family, scopes: scopes}
		fields["refresh_token"] = rt
	}
	if idt := p.idTokenLocked(scopes, nonce); idt != "" {
		fields["id_token"] = idt
	}
	if len(scopes) > 0 {
		if p.opts.Quirks.ArrayScopes {
			fields["scope"] = scopes
		} else {
			fields["scope"] = strings.Join(scopes, p.opts.Quirks.ScopeDelimiter)
		}
	}
	for k, v := range extra {
		fields[k] = v
	}
	q := p.opts.Quirks
	switch {
	case q.FormEncoded:
		v := url.Values{}
		for k, val := range fields {
			v.Set(k, fmt.Sprint(val))
		}
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(v.Encode()))
		return
	case nest != "":
		fields = map[string]any{"ok": true, nest: fields, "access_token": randomToken("decoy"), "token_type": "bot"}
	case q.ErrorsWith200:
		fields["ok"] = true
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, fields)
}

// handleUserInfo answers with Options.UserInfo for a valid bearer token.
func (p *Provider) handleUserInfo(w http.ResponseWriter, r *http.Request) {
	if !p.wait(r) {
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		p.refuse(w, http.StatusMethodNotAllowed, "invalid_request", true, "userinfo: method %s", r.Method)
		return
	}
	if !acceptsJSON(r) {
		p.refuse(w, http.StatusBadRequest, "invalid_request", true, "userinfo: Accept: application/json is missing")
		return
	}
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="providertest"`)
		p.refuse(w, http.StatusUnauthorized, "invalid_request", true, "userinfo: no Bearer access token")
		return
	}
	if !p.ValidAccessToken(tok) {
		p.rejected.Add(1)
		w.Header().Set("WWW-Authenticate", `Bearer realm="providertest", error="invalid_token"`)
		p.writeError(w, http.StatusUnauthorized, "invalid_token", "the access token is unknown, expired or revoked")
		return
	}
	p.userInfo.Add(1)
	writeJSON(w, http.StatusOK, p.opts.UserInfo)
}

// refuse answers an OAuth error; violation also fails the test.
func (p *Provider) refuse(w http.ResponseWriter, status int, code string, violation bool, format string, args ...any) {
	p.rejected.Add(1)
	msg := fmt.Sprintf(format, args...)
	if violation {
		p.violation("%s", msg)
	}
	p.writeError(w, status, code, msg)
}

// refuseLocked answers 400 with code for a failure a test may provoke on
// purpose. p.mu is held.
func (p *Provider) refuseLocked(w http.ResponseWriter, code, desc string) {
	p.rejected.Add(1)
	p.writeError(w, http.StatusBadRequest, code, desc)
}

// violationLocked answers 400 with code and reports a violation. p.mu is
// held.
func (p *Provider) violationLocked(w http.ResponseWriter, code, format string, args ...any) {
	p.rejected.Add(1)
	msg := fmt.Sprintf(format, args...)
	p.recordViolationLocked(msg)
	p.writeError(w, http.StatusBadRequest, code, msg)
}

// writeError writes an OAuth error response (RFC 6749 5.2) in the shape
// the quirks ask for.
func (p *Provider) writeError(w http.ResponseWriter, status int, code, desc string) {
	q := p.opts.Quirks
	body := map[string]any{"error": code, "error_description": desc}
	if q.ErrorsWith200 || status == http.StatusOK {
		status = http.StatusOK
		body["ok"] = false
	}
	w.Header().Set("Cache-Control", "no-store")
	if q.FormEncoded {
		v := url.Values{}
		for k, val := range body {
			v.Set(k, fmt.Sprint(val))
		}
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(v.Encode()))
		return
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "providertest: marshal response", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func acceptsJSON(r *http.Request) bool {
	for _, a := range r.Header.Values("Accept") {
		// application/json, or a type with the +json suffix (RFC 6839),
		// such as GitHub's application/vnd.github+json.
		if strings.Contains(a, "application/json") || strings.Contains(a, "+json") {
			return true
		}
	}
	return false
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// validVerifier checks RFC 7636 4.1: 43-128 unreserved characters.
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for _, c := range v {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.ContainsRune("-._~", c)) {
			return false
		}
	}
	return true
}

// validChallenge checks an S256 challenge: base64url of 32 bytes.
func validChallenge(c string) bool {
	b, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil && len(b) == sha256.Size
}

// splitScopes splits on the delimiter and on whitespace.
func splitScopes(s, delim string) []string {
	var out []string
	for part := range strings.SplitSeq(s, delim) {
		for _, f := range strings.Fields(part) {
			if !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	return out
}

func randomToken(prefix string) string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return prefix + "_" + base64.RawURLEncoding.EncodeToString(b)
}
