// Command standin is a minimal OAuth 2.0 provider for load runs against a
// real engine process: the authorization-code grant with PKCE S256 and
// client_secret_basic, refresh tokens, and a bearer-protected user-info
// endpoint. It checks what a real provider checks (client credentials,
// the registered redirect URI, single-use codes bound to their redirect
// URI and PKCE challenge) and answers an OAuth error otherwise; it is not
// the strict test stand-in (internal/providertest), which needs a
// testing.TB to report protocol violations.
//
// The "browser" consents by GETting /authorize without following the
// redirect: the Location is the engine's callback with code and state.
//
//	standin -addr 127.0.0.1:19100 -redirect-uri http://127.0.0.1:19099/oauth/callback
package main

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

func main() {
	var (
		addr         = flag.String("addr", "127.0.0.1:19100", "listen address")
		clientID     = flag.String("client-id", "bench-client", "registered client id")
		clientSecret = flag.String("client-secret", "bench-secret", "registered client secret")
		redirectURI  = flag.String("redirect-uri", "", "the one registered redirect URI (required)")
		tokenTTL     = flag.Duration("token-ttl", time.Hour, "access token lifetime")
	)
	flag.Parse()
	if *redirectURI == "" {
		fmt.Fprintln(os.Stderr, "standin: -redirect-uri is required")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "standin:", err)
		os.Exit(1)
	}
	p := newProvider(*clientID, *clientSecret, *redirectURI, *tokenTTL)
	fmt.Printf("standin listening on http://%s\n", ln.Addr())
	srv := &http.Server{Handler: p.routes(), ReadHeaderTimeout: 10 * time.Second}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "standin:", err)
		os.Exit(1)
	}
}

// provider is the stand-in's state. Codes and tokens live in memory.
type provider struct {
	clientID, clientSecret, redirectURI string
	tokenTTL                            time.Duration

	mu      sync.Mutex
	codes   map[string]grant
	access  map[string]time.Time // token -> expiry
	refresh map[string][]string  // token -> scopes
}

type grant struct {
	challenge string
	scopes    []string
	expires   time.Time
}

func newProvider(clientID, clientSecret, redirectURI string, ttl time.Duration) *provider {
	return &provider{
		clientID: clientID, clientSecret: clientSecret, redirectURI: redirectURI, tokenTTL: ttl,
		codes: map[string]grant{}, access: map[string]time.Time{}, refresh: map[string][]string{},
	}
}

func (p *provider) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("GET /userinfo", p.userInfo)
	return mux
}

// authorize validates the request and redirects with a code (the user
// always consents). Errors before the redirect URI is trusted are shown,
// never redirected (RFC 6749 4.1.2.1).
func (p *provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case q.Get("client_id") != p.clientID:
		oauthError(w, http.StatusBadRequest, "invalid_request", "unknown client_id")
		return
	case q.Get("redirect_uri") != p.redirectURI:
		oauthError(w, http.StatusBadRequest, "invalid_request", "redirect_uri is not registered")
		return
	}
	back, _ := url.Parse(p.redirectURI)
	params := url.Values{"state": {q.Get("state")}}
	switch {
	case q.Get("response_type") != "code":
		params.Set("error", "unsupported_response_type")
	case q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43:
		params.Set("error", "invalid_request")
		params.Set("error_description", "PKCE S256 is required")
	default:
		code := random()
		p.mu.Lock()
		p.codes[code] = grant{challenge: q.Get("code_challenge"), scopes: strings.Fields(q.Get("scope")), expires: time.Now().Add(time.Minute)}
		p.mu.Unlock()
		params.Set("code", code)
	}
	back.RawQuery = params.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// token serves the authorization_code and refresh_token grants to a client
// authenticating with HTTP Basic.
func (p *provider) token(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if !ok || !equal(id, p.clientID) || !equal(secret, p.clientSecret) {
		w.Header().Set("WWW-Authenticate", `Basic realm="standin"`)
		oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body is not a form")
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		code := r.PostForm.Get("code")
		p.mu.Lock()
		g, found := p.codes[code]
		delete(p.codes, code) // single use, even when the rest is wrong
		p.mu.Unlock()
		switch {
		case !found || time.Now().After(g.expires):
			oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown, expired or used code")
		case r.PostForm.Get("redirect_uri") != p.redirectURI:
			oauthError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the authorization request's")
		case !equal(s256(r.PostForm.Get("code_verifier")), g.challenge):
			oauthError(w, http.StatusBadRequest, "invalid_grant", "PKCE verification failed")
		default:
			p.issue(w, g.scopes)
		}
	case "refresh_token":
		rt := r.PostForm.Get("refresh_token")
		p.mu.Lock()
		scopes, found := p.refresh[rt]
		p.mu.Unlock()
		if !found {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown refresh token")
			return
		}
		p.issue(w, scopes)
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token")
	}
}

func (p *provider) issue(w http.ResponseWriter, scopes []string) {
	at, rt := random(), random()
	p.mu.Lock()
	p.access[at] = time.Now().Add(p.tokenTTL)
	p.refresh[rt] = scopes
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": at, "refresh_token": rt, "token_type": "Bearer",
		"expires_in": int(p.tokenTTL.Seconds()), "scope": strings.Join(scopes, " "),
	})
}

func (p *provider) userInfo(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	p.mu.Lock()
	exp, found := p.access[tok]
	p.mu.Unlock()
	if !ok || !found || time.Now().After(exp) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		oauthError(w, http.StatusUnauthorized, "invalid_token", "unknown or expired access token")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sub": "standin-user", "email": "user@standin.example"})
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func random() string {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}
