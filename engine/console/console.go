package console

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/authengine/authengine/engine"
	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/internal/ratelimit"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// contentSecurityPolicy allows the console's own scripts, styles and
// requests only: no inline script, no framing, no form posted elsewhere.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Options configures the console. cmd/authengine builds it from the
// console: block of engine.yaml.
type Options struct {
	Engine *engine.Engine
	// Sessions keeps the console's sessions: the engine's store.
	Sessions store.SessionStore
	// Sealer seals the sessions' secrets: the engine's sealer.
	Sealer engine.Sealer
	// AdminKeys are the keys that may sign in (api.admin_keys).
	AdminKeys []string
	// PublicURL is the engine's public origin; the session cookie is
	// Secure when it is https.
	PublicURL string
	// IdleTimeout and MaxAge end a session (defaults 30m and 12h).
	IdleTimeout time.Duration
	MaxAge      time.Duration
	// SignInAttempts is how many failed sign-ins one client address may
	// make per minute (default 5).
	SignInAttempts int
	Logger         *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Console serves the operator console. Build it with New and serve it
// with Mount (or Handler).
type Console struct {
	engine      *engine.Engine
	sessions    store.SessionStore
	sealer      engine.Sealer
	keys        [][32]byte
	secure      bool
	idle        time.Duration
	maxAge      time.Duration
	redirectURI string
	log         *slog.Logger
	now         func() time.Time
	pages       map[string]*template.Template
	templates   []templateInfo
	mux         *http.ServeMux

	// failures counts failed sign-ins per client address; blocked holds
	// the addresses refused until a time.
	failures  *ratelimit.Limiter
	blockedMu sync.Mutex
	blocked   map[string]time.Time
}

// New returns a Console. It fails only on a missing dependency.
func New(opts Options) (*Console, error) {
	if opts.Engine == nil || opts.Sessions == nil || opts.Sealer == nil {
		return nil, errors.New("console: an engine, a session store and a sealer are required")
	}
	c := &Console{
		engine:      opts.Engine,
		sessions:    opts.Sessions,
		sealer:      opts.Sealer,
		secure:      strings.HasPrefix(strings.ToLower(opts.PublicURL), "https://"),
		idle:        opts.IdleTimeout,
		maxAge:      opts.MaxAge,
		redirectURI: opts.Engine.RedirectURI(),
		log:         opts.Logger,
		now:         opts.Now,
		blocked:     map[string]time.Time{},
	}
	for _, k := range opts.AdminKeys {
		if strings.TrimSpace(k) != "" {
			c.keys = append(c.keys, sha256.Sum256([]byte(k)))
		}
	}
	if c.idle <= 0 {
		c.idle = 30 * time.Minute
	}
	if c.maxAge <= 0 {
		c.maxAge = 12 * time.Hour
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	attempts := opts.SignInAttempts
	if attempts <= 0 {
		attempts = 5
	}
	c.failures = ratelimit.New(attempts, time.Minute, attempts)
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	c.pages = pages
	c.templates = catalogTemplates()
	c.mux = c.routes()
	return c, nil
}

// Handler serves the console's paths (/console and below).
func (c *Console) Handler() http.Handler { return c.mux }

// Mount serves the console on e at /console/, with e's client address
// (echo's IPExtractor, which knows the trusted proxies) for the sign-in
// rate limit.
func (c *Console) Mount(e *echo.Echo) {
	h := func(ec echo.Context) error {
		r := ec.Request()
		r = r.WithContext(context.WithValue(r.Context(), clientAddrKey{}, ec.RealIP()))
		c.mux.ServeHTTP(ec.Response(), r)
		return nil
	}
	// GET and POST only, one route per depth, so a route list (the
	// OpenAPI check) names them; the console's own mux routes within.
	e.GET("/console", h)
	e.GET("/console/", h)
	for _, path := range []string{"/console/:page", "/console/:page/:sub", "/console/:page/:sub/:action"} {
		e.GET(path, h)
		e.POST(path, h)
	}
}

type clientAddrKey struct{}

// clientAddr is the request's client address: the one Mount found, or the
// connection's.
func clientAddr(r *http.Request) string {
	if a, ok := r.Context().Value(clientAddrKey{}).(string); ok && a != "" {
		return a
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (c *Console) routes() *http.ServeMux {
	m := http.NewServeMux()
	static, _ := fs.Sub(staticFiles, "static")
	m.Handle("GET /console/static/", c.headers(http.StripPrefix("/console/static/", http.FileServerFS(static))))
	m.Handle("GET /console/sign-in", c.headers(http.HandlerFunc(c.signInPage)))
	m.Handle("POST /console/sign-in", c.headers(http.HandlerFunc(c.signIn)))
	m.Handle("GET /console", c.headers(http.RedirectHandler("/console/integrations", http.StatusSeeOther)))
	m.Handle("GET /console/{$}", c.headers(http.RedirectHandler("/console/integrations", http.StatusSeeOther)))

	page := func(pattern string, h func(http.ResponseWriter, *http.Request, *session)) {
		m.Handle(pattern, c.headers(c.signedIn(h)))
	}
	page("POST /console/sign-out", c.signOut)
	page("GET /console/providers", c.providersPage)
	page("GET /console/providers/new", c.newProviderPage)
	page("POST /console/providers", c.createProvider)
	page("GET /console/providers/{id}/edit", c.editProviderPage)
	page("POST /console/providers/{id}", c.updateProvider)
	page("GET /console/providers/{id}/delete", c.deleteProviderPage)
	page("POST /console/providers/{id}/delete", c.deleteProvider)
	page("GET /console/integrations", c.integrationsPage)
	page("POST /console/integrations/{id}/connect", c.connect)
	page("POST /console/integrations/{id}/fetch-token", c.fetchToken)
	page("GET /console/connections", c.connectionsPage)
	page("GET /console/connections/{id}/disconnect", c.disconnectPage)
	page("POST /console/connections/{id}/disconnect", c.disconnect)
	page("POST /console/connections/{id}/refresh", c.refresh)
	m.Handle("/console/", c.headers(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.render(w, http.StatusNotFound, "message.html", pageData{Title: "Not found", Message: "There is no console page at this address."})
	})))
	return m
}

// headers sets the security headers every console response carries.
func (c *Console) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		if !strings.HasPrefix(r.URL.Path, "/console/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// signedIn runs h with the request's session; without one, a page
// request goes to the sign-in page and anything else is refused. A
// request that is not GET must carry the session's CSRF token (form field
// csrf or header X-CSRF-Token), else it is refused and nothing changes.
func (c *Console) signedIn(h func(http.ResponseWriter, *http.Request, *session)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := c.loadSession(r)
		if errors.Is(err, errNoSession) {
			http.SetCookie(w, c.cookie(sessionCookie, "", -1))
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/console/sign-in", http.StatusSeeOther)
				return
			}
			c.render(w, http.StatusUnauthorized, "message.html", pageData{Title: "Signed out", Message: "Your console session has ended. Sign in again."})
			return
		}
		if err != nil {
			c.log.Error("console session", "err", err)
			c.render(w, http.StatusServiceUnavailable, "message.html", pageData{Title: "Temporarily unavailable", Message: "The console could not read its session from the store. Try again in a moment."})
			return
		}
		if r.Method != http.MethodGet {
			got := r.Header.Get("X-CSRF-Token")
			if got == "" {
				got = r.PostFormValue("csrf")
			}
			if !validCSRF(s.secrets.CSRF, got) {
				c.render(w, http.StatusForbidden, "message.html", pageData{Title: "Request refused", Message: "The request did not carry the console's CSRF token, so nothing was changed. Reload the page and try again."})
				return
			}
		}
		r = r.WithContext(engine.WithActor(r.Context(), s.secrets.Actor))
		h(w, r, s)
	})
}

func (c *Console) signInPage(w http.ResponseWriter, r *http.Request) {
	if s, err := c.loadSession(r); err == nil && s != nil {
		http.Redirect(w, r, "/console/integrations", http.StatusSeeOther)
		return
	}
	c.renderSignIn(w, http.StatusOK, "")
}

func (c *Console) renderSignIn(w http.ResponseWriter, status int, problem string) {
	token := randomToken()
	http.SetCookie(w, c.cookie(signInCookie, token, 0))
	c.render(w, status, "signin.html", pageData{Title: "Sign in", CSRF: token, Error: problem, NoKeys: len(c.keys) == 0})
}

// signIn checks the admin key. Failed attempts are counted per client
// address; past the limit the address is answered 429 with Retry-After,
// whatever key it sends, until its bucket refills.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	ck, err := r.Cookie(signInCookie)
	if err != nil || !validCSRF(ck.Value, r.PostFormValue("csrf")) {
		c.render(w, http.StatusForbidden, "message.html", pageData{Title: "Request refused", Message: "The sign-in form was not the console's own (its CSRF token is missing). Open the sign-in page and try again."})
		return
	}
	addr, now := clientAddr(r), c.now()
	if wait, blocked := c.isBlocked(addr, now); blocked {
		c.tooManySignIns(w, wait)
		return
	}
	key := strings.TrimSpace(r.PostFormValue("admin_key"))
	digest := sha256.Sum256([]byte(key))
	ok := 0
	for _, k := range c.keys {
		ok |= subtle.ConstantTimeCompare(digest[:], k[:])
	}
	if key == "" || ok != 1 {
		c.log.Warn("console sign-in refused", "client", addr)
		if allowed, wait := c.failures.Allow(addr, now); !allowed {
			c.block(addr, now.Add(wait))
			c.tooManySignIns(w, wait)
			return
		}
		c.renderSignIn(w, http.StatusUnauthorized, "That admin key is not valid.")
		return
	}
	// The actor names the key as the admin API does (kind and the first
	// 12 hex digits of its SHA-256), never the key itself.
	actor := "admin_key:" + hex.EncodeToString(digest[:6])
	value, err := c.startSession(r.Context(), actor)
	if err != nil {
		c.log.Error("console sign-in", "err", err)
		c.renderSignIn(w, http.StatusServiceUnavailable, "The session could not be stored. Try again in a moment.")
		return
	}
	c.log.Info("console sign-in", "actor", actor, "client", addr)
	http.SetCookie(w, c.cookie(signInCookie, "", -1))
	http.SetCookie(w, c.cookie(sessionCookie, value, 0))
	http.Redirect(w, r, "/console/integrations", http.StatusSeeOther)
}

func (c *Console) tooManySignIns(w http.ResponseWriter, wait time.Duration) {
	secs := max(int((wait+time.Second-1)/time.Second), 1)
	w.Header().Set("Retry-After", fmt.Sprint(secs))
	c.renderSignIn(w, http.StatusTooManyRequests, fmt.Sprintf("Too many failed sign-ins from your address. Try again in %d seconds.", secs))
}

func (c *Console) isBlocked(addr string, now time.Time) (time.Duration, bool) {
	c.blockedMu.Lock()
	defer c.blockedMu.Unlock()
	until, ok := c.blocked[addr]
	if !ok {
		return 0, false
	}
	if !now.Before(until) {
		delete(c.blocked, addr)
		return 0, false
	}
	return until.Sub(now), true
}

func (c *Console) block(addr string, until time.Time) {
	c.blockedMu.Lock()
	defer c.blockedMu.Unlock()
	if len(c.blocked) >= ratelimit.DefaultMaxKeys {
		for a, t := range c.blocked {
			if !t.After(until) {
				delete(c.blocked, a)
			}
		}
	}
	c.blocked[addr] = until
}

func (c *Console) signOut(w http.ResponseWriter, r *http.Request, _ *session) {
	c.endSession(r)
	http.SetCookie(w, c.cookie(sessionCookie, "", -1))
	http.Redirect(w, r, "/console/sign-in", http.StatusSeeOther)
}
