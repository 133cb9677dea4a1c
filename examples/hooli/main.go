// Command hooli is a small stand-in OAuth 2.0 provider ("Hooli") for local
// demos of the engine on one machine. It is not a real identity provider:
// it keeps everything in memory, knows one user and consents on that
// user's behalf as soon as the browser arrives. The load scripts under
// bench/ run it as their provider too.
//
// It serves:
//
//	GET  /oauth/authorize   authorization-code grant with PKCE S256; redirects straight back with a code
//	POST /oauth/token       authorization_code, refresh_token (rotating) and client_credentials grants;
//	                        client_secret_basic
//	GET  /oauth/userinfo    the demo user's profile, for a user token
//	GET  /api/status        service status, for a service token with scope status:read
//
// It is written separately from internal/providertest, which is built on
// httptest and reports protocol violations to a *testing.T; this one is a
// plain server that answers violations with OAuth errors and logs them.
//
// Usage:
//
//	HOOLI_CLIENT_ID=... HOOLI_CLIENT_SECRET=... go run ./examples/hooli [-addr 127.0.0.1:9300]
//	    [-redirect-uri http://localhost:9099/oauth/callback] [-token-ttl 1h] [-user ada@hooli.example]
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	defaultClientID     = "hooli-demo-client"
	defaultClientSecret = "hooli-demo-secret"
	codeTTL             = time.Minute
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(ctx, os.Args[1:], os.Getenv, log); err != nil {
		log.Error("hooli stopped", "err", err.Error())
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, log *slog.Logger) error {
	fs := flag.NewFlagSet("hooli", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:9300", "address to listen on")
	redirect := fs.String("redirect-uri", "http://localhost:9099/oauth/callback", "the one registered redirect URI (the engine's callback)")
	ttl := fs.Duration("token-ttl", time.Hour, "access token lifetime")
	user := fs.String("user", "ada@hooli.example", "the demo user's email")
	if err := fs.Parse(args); err != nil {
		return err
	}
	p := &provider{
		clientID:     envOr(getenv, "HOOLI_CLIENT_ID", defaultClientID),
		clientSecret: envOr(getenv, "HOOLI_CLIENT_SECRET", defaultClientSecret),
		redirectURI:  *redirect,
		ttl:          *ttl,
		user:         *user,
		log:          log,
		codes:        map[string]*grant{},
		access:       map[string]*token{},
		refresh:      map[string]*token{},
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	srv := &http.Server{Handler: p.routes(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(os.Stdout, "Hooli stand-in provider on http://%s (client_id %s, redirect_uri %s, user %s)\n",
		ln.Addr(), p.clientID, p.redirectURI, p.user)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// provider is the in-memory Hooli.
type provider struct {
	clientID, clientSecret, redirectURI, user string
	ttl                                       time.Duration
	log                                       *slog.Logger

	mu      sync.Mutex
	codes   map[string]*grant
	access  map[string]*token
	refresh map[string]*token
}

type grant struct {
	redirectURI, challenge string
	scopes                 []string
	expires                time.Time
}

type token struct {
	service bool // a client-credentials token
	scopes  []string
	expires time.Time
}

func (p *provider) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth/authorize", p.authorize)
	mux.HandleFunc("POST /oauth/token", p.token)
	mux.HandleFunc("GET /oauth/userinfo", p.userInfo)
	mux.HandleFunc("GET /api/status", p.status)
	return mux
}

// authorize validates the request and consents at once on the demo user's
// behalf, redirecting back with a code.
func (p *provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != p.clientID || q.Get("redirect_uri") != p.redirectURI {
		p.log.Warn("authorize refused: unknown client_id or redirect_uri", "redirect_uri", q.Get("redirect_uri"))
		http.Error(w, "unknown client_id or unregistered redirect_uri (check -redirect-uri and HOOLI_CLIENT_ID)", http.StatusBadRequest)
		return
	}
	back, _ := url.Parse(p.redirectURI)
	v := back.Query()
	v.Set("state", q.Get("state"))
	challenge := q.Get("code_challenge")
	switch {
	case q.Get("response_type") != "code":
		v.Set("error", "unsupported_response_type")
	case challenge != "" && q.Get("code_challenge_method") != "S256":
		v.Set("error", "invalid_request")
		v.Set("error_description", "only S256 code challenges are supported")
	default:
		code := random()
		p.mu.Lock()
		p.codes[code] = &grant{redirectURI: p.redirectURI, challenge: challenge, scopes: strings.Fields(q.Get("scope")), expires: time.Now().Add(codeTTL)}
		p.mu.Unlock()
		v.Set("code", code)
		p.log.Info("user consented", "user", p.user, "scope", q.Get("scope"), "pkce", challenge != "")
	}
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// token serves the three grants; the client authenticates with HTTP Basic.
func (p *provider) token(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if ok {
		// RFC 6749 2.3.1: the credentials are form-encoded before Basic.
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	}
	if !ok || !equal(id, p.clientID) || !equal(secret, p.clientSecret) {
		w.Header().Set("WWW-Authenticate", `Basic realm="hooli"`)
		p.fail(w, http.StatusUnauthorized, "invalid_client", "client authentication failed (client_secret_basic expected)")
		return
	}
	if err := r.ParseForm(); err != nil {
		p.fail(w, http.StatusBadRequest, "invalid_request", "the body is not a form")
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		code := r.PostForm.Get("code")
		g, found := p.codes[code]
		delete(p.codes, code) // single use
		switch {
		case !found || time.Now().After(g.expires):
			p.fail(w, http.StatusBadRequest, "invalid_grant", "unknown, used or expired code")
		case r.PostForm.Get("redirect_uri") != g.redirectURI:
			p.fail(w, http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the authorization request")
		case g.challenge != "" && s256(r.PostForm.Get("code_verifier")) != g.challenge:
			p.fail(w, http.StatusBadRequest, "invalid_grant", "PKCE verification failed")
		default:
			p.issue(w, &token{scopes: g.scopes}, true)
		}
	case "refresh_token":
		old := r.PostForm.Get("refresh_token")
		t, found := p.refresh[old]
		if !found {
			p.fail(w, http.StatusBadRequest, "invalid_grant", "unknown or already used refresh token")
			return
		}
		delete(p.refresh, old) // rotating: each refresh token works once
		p.issue(w, &token{scopes: t.scopes}, true)
	case "client_credentials":
		p.issue(w, &token{service: true, scopes: strings.Fields(r.PostForm.Get("scope"))}, false)
	default:
		p.fail(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be authorization_code, refresh_token or client_credentials")
	}
}

// issue mints an access token (and a refresh token); p.mu is held.
func (p *provider) issue(w http.ResponseWriter, t *token, withRefresh bool) {
	t.expires = time.Now().Add(p.ttl)
	at := random()
	p.access[at] = t
	body := map[string]any{
		"access_token": at, "token_type": "Bearer",
		"expires_in": int(p.ttl.Seconds()), "scope": strings.Join(t.scopes, " "),
	}
	if withRefresh {
		rt := random()
		p.refresh[rt] = &token{scopes: t.scopes}
		body["refresh_token"] = rt
	}
	kind := "user"
	if t.service {
		kind = "service"
	}
	p.log.Info("token issued", "kind", kind, "scope", body["scope"], "expires_in", body["expires_in"])
	writeJSON(w, http.StatusOK, body)
}

// bearer returns the valid access token the request carries.
func (p *provider) bearer(r *http.Request) (*token, bool) {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return nil, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	t, found := p.access[raw]
	if !found || time.Now().After(t.expires) {
		return nil, false
	}
	return t, true
}

func (p *provider) userInfo(w http.ResponseWriter, r *http.Request) {
	t, ok := p.bearer(r)
	if !ok || t.service {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		p.fail(w, http.StatusUnauthorized, "invalid_token", "a valid user access token is required")
		return
	}
	name, _, _ := strings.Cut(p.user, "@")
	writeJSON(w, http.StatusOK, map[string]any{
		"sub": "hooli-" + s256(p.user)[:12], "email": p.user, "name": name, "scope": strings.Join(t.scopes, " "),
	})
}

func (p *provider) status(w http.ResponseWriter, r *http.Request) {
	t, ok := p.bearer(r)
	if !ok || !slices.Contains(t.scopes, "status:read") {
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="status:read"`)
		p.fail(w, http.StatusUnauthorized, "invalid_token", "a valid token with scope status:read is required")
		return
	}
	all := map[string]string{"mail": "ok", "search": "degraded", "nucleus": "ok"}
	if s := r.URL.Query().Get("service"); s != "" {
		st, found := all[s]
		if !found {
			p.fail(w, http.StatusNotFound, "not_found", "no such service")
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{s: st})
		return
	}
	writeJSON(w, http.StatusOK, all)
}

func (p *provider) fail(w http.ResponseWriter, status int, code, desc string) {
	p.log.Warn("request refused", "error", code, "description", desc)
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // a client that went away is not our problem
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func random() string {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}
