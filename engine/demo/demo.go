package demo

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// The demo client's credentials. They are public on purpose: the demo
// provider exists only in development mode and guards nothing.
const (
	ClientID     = "authengine-demo"
	ClientSecret = "authengine-demo-secret"
)

// Prefix is the path under which the demo provider's endpoints live.
const Prefix = "/demo/oauth"

// Scopes the demo provider grants. ScopeShortLived asks for access tokens
// that expire after Options.ShortTTL, to watch the engine refresh them.
const (
	ScopeProfile    = "profile"
	ScopeEmail      = "email"
	ScopeShortLived = "short_lived"
)

var knownScopes = []string{ScopeProfile, ScopeEmail, ScopeShortLived}

const (
	consentTTL = 10 * time.Minute
	codeTTL    = time.Minute
	refreshTTL = 30 * 24 * time.Hour
	// maxEntries bounds each of the in-memory tables (pending consents,
	// codes, access tokens, refresh tokens), so requests cannot grow the
	// engine's memory without limit; a full table refuses new entries
	// until old ones expire.
	maxEntries = 10000
	maxLogin   = 64
)

// Options configure a Provider.
type Options struct {
	// RedirectURI is the one registered redirect URI: the engine's
	// <public_url>/oauth/callback. Required.
	RedirectURI string
	// TokenTTL is the access tokens' lifetime (default 1h); ShortTTL the
	// lifetime when the scope short_lived is granted (default 2m).
	TokenTTL, ShortTTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives one line per refused request (default discards).
	Logger *slog.Logger
}

// Provider is the demo provider. Its zero value is not usable; call New.
type Provider struct {
	redirectURI        string
	tokenTTL, shortTTL time.Duration
	now                func() time.Time
	log                *slog.Logger

	mu       sync.Mutex
	consents table[*consent]
	codes    table[*grant]
	access   table[*grant]
	refresh  table[*grant]
}

// consent is an authorization request waiting for the user's decision.
type consent struct {
	state, challenge string
	scopes           []string
}

// grant is what a code or token stands for.
type grant struct {
	login, challenge string
	scopes           []string
}

// New returns a demo provider.
func New(opts Options) *Provider {
	p := &Provider{
		redirectURI: opts.RedirectURI,
		tokenTTL:    opts.TokenTTL,
		shortTTL:    opts.ShortTTL,
		now:         opts.Now,
		log:         opts.Logger,
	}
	if p.tokenTTL <= 0 {
		p.tokenTTL = time.Hour
	}
	if p.shortTTL <= 0 {
		p.shortTTL = 2 * time.Minute
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	return p
}

// Handler serves the demo provider's endpoints, each under Prefix:
//
//	GET  /demo/oauth/authorize   consent page (authorization code, PKCE S256 required)
//	POST /demo/oauth/authorize   the user's decision: Allow redirects back with a code, Deny with access_denied
//	POST /demo/oauth/token       authorization_code and refresh_token (rotating) grants;
//	                             client_secret_basic or client_secret_post
//	GET  /demo/oauth/userinfo    the signed-in demo user, for a bearer access token
func (p *Provider) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Prefix+"/authorize", p.authorize)
	mux.HandleFunc("POST "+Prefix+"/authorize", p.decide)
	mux.HandleFunc("POST "+Prefix+"/token", p.token)
	mux.HandleFunc("GET "+Prefix+"/userinfo", p.userInfo)
	return mux
}

// authorize checks the request and shows the consent page. Until client_id
// and redirect_uri are known good, errors are shown here rather than sent
// to a redirect URI nobody registered (RFC 6749 4.1.2.1).
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != ClientID {
		p.page(w, http.StatusBadRequest, "Unknown application", "client_id is not "+ClientID+".")
		return
	}
	if q.Get("redirect_uri") != p.redirectURI {
		p.page(w, http.StatusBadRequest, "Redirect URI mismatch", "redirect_uri must be "+p.redirectURI+", the engine's callback.")
		return
	}
	scopes := strings.Fields(q.Get("scope"))
	var problem, desc string
	switch {
	case q.Get("response_type") != "code":
		problem, desc = "unsupported_response_type", "response_type must be code"
	case q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256":
		problem, desc = "invalid_request", "PKCE is required: code_challenge with code_challenge_method S256"
	case !known(scopes):
		problem, desc = "invalid_scope", "scopes are profile, email and short_lived"
	}
	if problem != "" {
		p.redirect(w, r, url.Values{"error": {problem}, "error_description": {desc}, "state": {q.Get("state")}})
		return
	}
	id := random()
	now := p.now()
	p.mu.Lock()
	ok := p.consents.put(id, &consent{state: q.Get("state"), challenge: q.Get("code_challenge"), scopes: scopes}, now.Add(consentTTL), now)
	p.mu.Unlock()
	if !ok {
		p.page(w, http.StatusServiceUnavailable, "Too many pending sign-ins", "Try again in a few minutes.")
		return
	}
	secureHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_ = consentPage.Execute(w, map[string]any{"ID": id, "Scopes": scopes, "Path": Prefix + "/authorize"})
}

// decide takes the user's Allow or Deny. The consent id is random and
// single use, so only the browser that was shown the page can decide.
func (p *Provider) decide(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil {
		p.page(w, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	now := p.now()
	p.mu.Lock()
	c, found := p.consents.take(r.PostForm.Get("consent"), now)
	p.mu.Unlock()
	if !found {
		p.page(w, http.StatusBadRequest, "This sign-in has expired", "Go back to the application and start again.")
		return
	}
	if r.PostForm.Get("decision") != "allow" {
		p.redirect(w, r, url.Values{"error": {"access_denied"}, "error_description": {"the user denied access"}, "state": {c.state}})
		return
	}
	login := strings.TrimSpace(r.PostForm.Get("login"))
	if login == "" {
		login = "ada"
	}
	if len(login) > maxLogin {
		login = login[:maxLogin]
	}
	code := random()
	p.mu.Lock()
	ok := p.codes.put(code, &grant{login: login, challenge: c.challenge, scopes: c.scopes}, now.Add(codeTTL), now)
	p.mu.Unlock()
	if !ok {
		p.redirect(w, r, url.Values{"error": {"temporarily_unavailable"}, "state": {c.state}})
		return
	}
	p.redirect(w, r, url.Values{"code": {code}, "state": {c.state}})
}

func (p *Provider) redirect(w http.ResponseWriter, r *http.Request, v url.Values) {
	back, _ := url.Parse(p.redirectURI) // checked equal to the request's redirect_uri
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// token serves the authorization_code and refresh_token grants.
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		p.fail(w, http.StatusBadRequest, "invalid_request", "the body is not a form")
		return
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 2.3.1: the credentials are form-encoded before Basic.
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if !equal(id, ClientID) || !equal(secret, ClientSecret) {
		w.Header().Set("WWW-Authenticate", `Basic realm="authengine-demo"`)
		p.fail(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		g, found := p.codes.take(r.PostForm.Get("code"), now) // single use
		switch {
		case !found:
			p.fail(w, http.StatusBadRequest, "invalid_grant", "unknown, used or expired code")
		case r.PostForm.Get("redirect_uri") != p.redirectURI:
			p.fail(w, http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the authorization request")
		case !equal(s256(r.PostForm.Get("code_verifier")), g.challenge):
			p.fail(w, http.StatusBadRequest, "invalid_grant", "PKCE verification failed")
		default:
			p.issue(w, g, now)
		}
	case "refresh_token":
		// Rotating: each refresh token works once.
		g, found := p.refresh.take(r.PostForm.Get("refresh_token"), now)
		if !found {
			p.fail(w, http.StatusBadRequest, "invalid_grant", "unknown, used or expired refresh token")
			return
		}
		p.issue(w, g, now)
	default:
		p.fail(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token")
	}
}

// issue answers with a new access token and refresh token for g; p.mu is
// held.
func (p *Provider) issue(w http.ResponseWriter, g *grant, now time.Time) {
	ttl := p.tokenTTL
	if slices.Contains(g.scopes, ScopeShortLived) {
		ttl = p.shortTTL
	}
	at, rt := random(), random()
	if !p.access.put(at, g, now.Add(ttl), now) || !p.refresh.put(rt, g, now.Add(refreshTTL), now) {
		p.access.take(at, now)
		p.fail(w, http.StatusServiceUnavailable, "temporarily_unavailable", "too many tokens outstanding")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": at, "token_type": "Bearer", "expires_in": int(ttl.Seconds()),
		"refresh_token": rt, "scope": strings.Join(g.scopes, " "),
	})
}

func (p *Provider) userInfo(w http.ResponseWriter, r *http.Request) {
	raw, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	now := p.now()
	p.mu.Lock()
	g, found := p.access.get(raw, now)
	p.mu.Unlock()
	if raw == "" || !found {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		p.fail(w, http.StatusUnauthorized, "invalid_token", "a valid access token is required")
		return
	}
	info := map[string]any{"sub": "demo-" + s256(g.login)[:12], "name": g.login}
	if slices.Contains(g.scopes, ScopeEmail) {
		info["email"] = g.login + "@demo.authengine.invalid"
	}
	writeJSON(w, http.StatusOK, info)
}

// fail answers an OAuth error. Only the error code and a fixed description
// are logged: never a code, token or secret.
func (p *Provider) fail(w http.ResponseWriter, status int, code, desc string) {
	p.log.Info("demo provider refused a request", "error", code, "description", desc)
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func (p *Provider) page(w http.ResponseWriter, status int, title, text string) {
	p.log.Info("demo provider refused an authorization", "reason", title)
	secureHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = messagePage.Execute(w, map[string]string{"Title": title, "Text": text})
}

// secureHeaders keeps the consent page out of frames (a framed Allow
// button could be clicked by a deceived user) and out of caches.
func secureHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // a client that went away is not ours to report
}

func known(scopes []string) bool {
	for _, s := range scopes {
		if !slices.Contains(knownScopes, s) {
			return false
		}
	}
	return true
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func random() string {
	var b [24]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand documents it)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// table is a bounded map whose entries expire.
type table[V any] struct {
	m map[string]entry[V]
}

type entry[V any] struct {
	v       V
	expires time.Time
}

// put adds k; when the table is full it drops expired entries first and
// reports false if it is still full.
func (t *table[V]) put(k string, v V, expires, now time.Time) bool {
	if t.m == nil {
		t.m = map[string]entry[V]{}
	}
	if len(t.m) >= maxEntries {
		for k, e := range t.m {
			if !now.Before(e.expires) {
				delete(t.m, k)
			}
		}
		if len(t.m) >= maxEntries {
			return false
		}
	}
	t.m[k] = entry[V]{v, expires}
	return true
}

// get returns k's value if it has not expired.
func (t *table[V]) get(k string, now time.Time) (V, bool) {
	e, ok := t.m[k]
	if !ok || !now.Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// take returns k's value if it has not expired and removes it.
func (t *table[V]) take(k string, now time.Time) (V, bool) {
	v, ok := t.get(k, now)
	delete(t.m, k)
	return v, ok
}

var consentPage = template.Must(template.New("consent").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo provider: sign in</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}button{font-size:1rem;padding:.5rem 1.5rem;margin-right:.5rem}</style></head>
<body><h1>authengine demo provider</h1>
<p>An application connected to authengine asks to access your demo account.
This provider is built into authengine for development; it knows no real accounts.</p>
<p>Requested access:{{range .Scopes}} <code>{{.}}</code>{{else}} (none){{end}}</p>
<form method="post" action="{{.Path}}">
<input type="hidden" name="consent" value="{{.ID}}">
<p><label>Sign in as <input name="login" value="ada" maxlength="64"></label></p>
<button name="decision" value="allow" type="submit">Allow</button>
<button name="decision" value="deny" type="submit">Deny</button>
</form></body></html>
`))

var messagePage = template.Must(template.New("message").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo provider: {{.Title}}</title></head>
<body><h1>{{.Title}}</h1><p>{{.Text}}</p></body></html>
`))
