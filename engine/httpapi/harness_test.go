package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authengine/authengine/authflow"
	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine"
	"github.com/authengine/authengine/engine/httpapi"
	"github.com/authengine/authengine/engine/seal"
	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/bolt"
	"github.com/authengine/authengine/internal/providertest"
)

const (
	apiKey   = "test-api-key-0123456789"
	adminKey = "test-admin-key-0123456789"
)

// clock is a shared fake clock: real time plus an offset tests advance.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// harness is one engine behind a real HTTP server, on a bolt store, in front
// of one or more strict stand-in providers.
type harness struct {
	t       testing.TB
	srv     *httptest.Server
	handler atomic.Pointer[http.Handler]
	clock   *clock
	dir     string
	key     seal.Key
	store   store.Store
	engine  *engine.Engine
	logs    *syncBuffer
}

type harnessOptions struct {
	// providers builds the providers once the engine's redirect URI is known.
	providers func(h *harness, redirectURI string) []config.Provider
	// disabled provider ids.
	disabled    []string
	verifierURL string
	dir         string
	key         *seal.Key
	timeout     time.Duration
	origins     []string
}

func newHarness(t testing.TB, opts harnessOptions) *harness {
	t.Helper()
	h := &harness{t: t, clock: &clock{}, dir: opts.dir, logs: &syncBuffer{}}
	if h.dir == "" {
		h.dir = t.TempDir()
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
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*h.handler.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(h.srv.Close)
	h.start(opts)
	return h
}

func (h *harness) redirectURI() string { return h.srv.URL + "/oauth/callback" }

// start (re)builds the engine on the harness's data dir.
func (h *harness) start(opts harnessOptions) {
	t := h.t
	st, err := bolt.Open(filepath.Join(h.dir, "authengine.db"), bolt.Options{Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sealer, err := seal.New([]seal.Key{h.key})
	if err != nil {
		t.Fatal(err)
	}
	compiled := map[string]*authflow.Provider{}
	if opts.providers != nil {
		for _, pc := range opts.providers(h, h.redirectURI()) {
			p, err := authflow.Compile(pc, h.redirectURI())
			if err != nil {
				t.Fatalf("compile provider %s: %v", pc.ID, err)
			}
			compiled[pc.ID] = p
		}
	}
	log := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	eng, err := engine.New(engine.Options{
		Providers:              compiled,
		DisabledProviders:      opts.disabled,
		Store:                  st,
		Sealer:                 sealer,
		ProviderTimeout:        opts.timeout,
		FlowTTL:                10 * time.Minute,
		RefreshMargin:          time.Minute,
		PublicURL:              h.srv.URL,
		AllowedRedirectOrigins: opts.origins,
		VerifierURL:            opts.verifierURL,
		Logger:                 log,
		Now:                    h.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	var handler http.Handler = httpapi.New(httpapi.Options{
		Engine: eng, APIKeys: []string{apiKey}, AdminKeys: []string{adminKey},
		MaxBodyBytes: 64 << 10, Logger: log,
	})
	h.handler.Store(&handler)
	h.store, h.engine = st, eng
}

// do sends a request with the API key and decodes a JSON answer into out.
func (h *harness) do(method, path string, body any, out any) int {
	h.t.Helper()
	return h.doKey(apiKey, method, path, body, out)
}

func (h *harness) doKey(key, method, path string, body any, out any) int {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" && ct != "application/json; charset=UTF-8" {
		h.t.Errorf("%s %s: Content-Type %q, want application/json (body %s)", method, path, ct, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			h.t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode
}

// authResp is the AuthorizationResponse as a client decodes it.
type authResp struct {
	ID         string   `json:"id"`
	Status     string   `json:"status"`
	URL        string   `json:"url"`
	Scopes     []string `json:"scopes"`
	ProviderID string   `json:"provider_id"`
	UserID     string   `json:"user_id"`
	Reason     string   `json:"reason"`
	Context    *struct {
		Token    string         `json:"token"`
		UserInfo map[string]any `json:"user_info"`
	} `json:"context"`
}

func (a authResp) token() string {
	if a.Context == nil {
		return ""
	}
	return a.Context.Token
}

type apiErr struct {
	Name          string    `json:"name"`
	Message       string    `json:"message"`
	Authorization *authResp `json:"authorization"`
}

func authorizeBody(user, provider string, scopes ...string) map[string]any {
	req := map[string]any{"provider_id": provider, "provider_type": "oauth2"}
	if scopes != nil {
		req["oauth2"] = map[string]any{"scopes": scopes}
	}
	return map[string]any{"user_id": user, "auth_requirement": req}
}

func (h *harness) authorize(user, provider string, scopes ...string) authResp {
	h.t.Helper()
	var out authResp
	if code := h.do("POST", "/v1/auth/authorize", authorizeBody(user, provider, scopes...), &out); code != 200 {
		h.t.Fatalf("authorize %s/%s: HTTP %d %+v", user, provider, code, out)
	}
	return out
}

// browse follows a callback URL like a browser would (without following
// the engine's own redirect) and returns the status and page.
func (h *harness) browse(callbackURL string) (int, string, string) {
	h.t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(callbackURL)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw), resp.Header.Get("Location")
}

// connect runs a whole authorization for user at idp and returns the
// completed response from the status wait.
func (h *harness) connect(idp *providertest.Provider, user, provider string, scopes ...string) authResp {
	h.t.Helper()
	start := h.authorize(user, provider, scopes...)
	if start.Status != "pending" || start.URL == "" || start.ID == "" {
		h.t.Fatalf("authorize: want pending with url and id, got %+v", start)
	}
	cb, err := idp.Consent(context.Background(), start.URL)
	if err != nil {
		h.t.Fatal(err)
	}
	if code, page, _ := h.browse(cb); code != 200 {
		h.t.Fatalf("callback: HTTP %d: %s", code, page)
	}
	var done authResp
	if code := h.do("GET", "/v1/auth/status?id="+url.QueryEscape(start.ID)+"&wait=5", nil, &done); code != 200 || done.Status != "completed" {
		h.t.Fatalf("status after callback: HTTP %d %+v", code, done)
	}
	return done
}

func (h *harness) connections() int {
	h.t.Helper()
	_, total, err := h.store.ListConnections(context.Background(), store.ConnectionFilter{}, 0, 100)
	if err != nil {
		h.t.Fatal(err)
	}
	return total
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func mustSealer(t testing.TB, h *harness) *seal.Sealer {
	t.Helper()
	s, err := seal.New([]seal.Key{h.key})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
