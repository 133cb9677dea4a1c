package console_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authengine/authengine/authflow"
	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine"
	"github.com/authengine/authengine/engine/console"
	"github.com/authengine/authengine/engine/httpapi"
	"github.com/authengine/authengine/engine/keyring"
	"github.com/authengine/authengine/engine/seal"
	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/internal/enginetest"
)

const adminKey = "ae_admin_console-test-key-0123456789"

// harness is an engine with its HTTP API and the console mounted, as
// serve wires them, on a real listener.
type harness struct {
	t       testing.TB
	srv     *httptest.Server
	handler atomic.Pointer[http.Handler]
	clock   *enginetest.Clock
	store   store.Store
	engine  *engine.Engine
	console *console.Console
	logs    *enginetest.LogSink
	key     seal.Key
}

type harnessOptions struct {
	// providers builds engine.yaml providers once the redirect URI is known.
	providers func(redirectURI string) []config.Provider
	// store, when set, is the store (else a bolt store in a temp dir).
	store store.Store
	// key, when set, is the root key (to share one between instances).
	key *seal.Key
	// publicURL, when set, replaces the server's own URL as public_url.
	publicURL string
	clock     *enginetest.Clock
	idle, max time.Duration
	attempts  int
}

func newHarness(t testing.TB, opts harnessOptions) *harness {
	t.Helper()
	h := &harness{t: t, clock: opts.clock, logs: &enginetest.LogSink{}}
	if h.clock == nil {
		h.clock = &enginetest.Clock{}
	}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*h.handler.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(h.srv.Close)
	h.start(opts)
	return h
}

func (h *harness) start(opts harnessOptions) {
	t := h.t
	st := opts.store
	if st == nil {
		st = enginetest.BoltStore(t, h.clock.Now)
	}
	if opts.key != nil {
		h.key = *opts.key
	} else {
		k, _, err := seal.GenerateKey("k1")
		if err != nil {
			t.Fatal(err)
		}
		h.key = k
	}
	root, err := seal.New([]seal.Key{h.key})
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := keyring.Open(context.Background(), root, st, keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	public := h.srv.URL
	if opts.publicURL != "" {
		public = opts.publicURL
	}
	redirect := public + "/oauth/callback"
	compiled := map[string]*authflow.Provider{}
	var yaml []config.Provider
	if opts.providers != nil {
		yaml = opts.providers(redirect)
		for _, pc := range yaml {
			p, err := authflow.Compile(pc, redirect)
			if err != nil {
				t.Fatalf("compile provider %s: %v", pc.ID, err)
			}
			compiled[pc.ID] = p
		}
	}
	log := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	eng, err := engine.New(engine.Options{
		Providers: compiled, Store: st, Sealer: sealer, PublicURL: public, AllowPrivateEndpoints: true,
		Logger: log, Now: h.clock.Now, FlowTTL: 10 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	eng.SetConfigProviders(yaml)
	if err := eng.LoadRuntimeProviders(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close(context.Background()) })
	con, err := console.New(console.Options{
		Engine: eng, Sessions: st, Sealer: sealer, AdminKeys: []string{adminKey}, PublicURL: public,
		IdleTimeout: opts.idle, MaxAge: opts.max, SignInAttempts: opts.attempts, Logger: log, Now: h.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	e := httpapi.New(httpapi.Options{Engine: eng, APIKeys: []string{"ae_api_console-test"}, AdminKeys: []string{adminKey}, Logger: log})
	con.Mount(e)
	var handler http.Handler = e
	h.handler.Store(&handler)
	h.store, h.engine, h.console = st, eng, con
}

// client is a cookie-keeping HTTP client that does not follow redirects.
func (h *harness) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// get fetches a console path and returns the status and body.
func (h *harness) get(c *http.Client, path string) (*http.Response, string) {
	h.t.Helper()
	resp, err := c.Get(h.srv.URL + path)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// post submits a form to a console path.
func (h *harness) post(c *http.Client, path string, form url.Values) (*http.Response, string) {
	h.t.Helper()
	resp, err := c.PostForm(h.srv.URL+path, form)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// csrfOf reads the CSRF token a page's forms carry.
func csrfOf(t testing.TB, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the page carries no CSRF token:\n%s", body)
	}
	return m[1]
}

// signIn signs c in with key and returns the sign-in answer.
func (h *harness) signIn(c *http.Client, key string) (*http.Response, string) {
	h.t.Helper()
	_, page := h.get(c, "/console/sign-in")
	return h.post(c, "/console/sign-in", url.Values{"csrf": {csrfOf(h.t, page)}, "admin_key": {key}})
}

// mustSignIn signs a new client in and returns it.
func (h *harness) mustSignIn() *http.Client {
	h.t.Helper()
	c := h.client()
	resp, body := h.signIn(c, adminKey)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/integrations" {
		h.t.Fatalf("sign-in: HTTP %d to %q:\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	return c
}

func sessionCookieOf(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == "authengine_console" {
			return c
		}
	}
	return nil
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
