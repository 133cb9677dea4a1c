package httpapi_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authengine/authengine/authflow"
	"github.com/authengine/authengine/authflow/discovery"
	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine"
	"github.com/authengine/authengine/engine/httpapi"
	"github.com/authengine/authengine/engine/keyring"
	"github.com/authengine/authengine/engine/seal"
	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/bolt"
	"github.com/authengine/authengine/internal/enginetest"
	"github.com/authengine/authengine/internal/netguard"
	"github.com/authengine/authengine/internal/providertest"
)

const (
	apiKey   = "test-api-key-0123456789"
	adminKey = "test-admin-key-0123456789"
)

// harness is one engine behind a real HTTP server, on a bolt store, in front
// of one or more strict stand-in providers.
type harness struct {
	t       testing.TB
	srv     *httptest.Server
	handler atomic.Pointer[http.Handler]
	clock   *enginetest.Clock
	dir     string
	key     seal.Key
	store   store.Store
	engine  *engine.Engine
	logs    *enginetest.LogSink
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
	lease       time.Duration
	origins     []string
	// clock, when set, is shared with another harness.
	clock *enginetest.Clock
	// rootKeys, when set, replace key as the engine's root keys.
	rootKeys []seal.Key
	// openStore replaces the bolt store in the harness's dir.
	openStore func(now func() time.Time) (store.Store, error)
	// guardPrivate keeps runtime providers off private addresses, as
	// production does; other harnesses allow them, since every stand-in
	// listens on loopback. resolver replaces the system resolver for the
	// write-time check.
	guardPrivate bool
	resolver     netguard.Resolver
	// limits, flowsPerUser, flowsPerAPIKey and apiKeys (beside apiKey)
	// set the request limits.
	limits                       httpapi.RateLimits
	flowsPerUser, flowsPerAPIKey int
	apiKeys                      []string
	// eventTypes are the lifecycle events the engine records.
	eventTypes []string
}

func newHarness(t testing.TB, opts harnessOptions) *harness {
	t.Helper()
	h := &harness{t: t, clock: opts.clock, dir: opts.dir, logs: &enginetest.LogSink{}}
	if h.clock == nil {
		h.clock = &enginetest.Clock{}
	}
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
	var st store.Store
	var err error
	if opts.openStore != nil {
		st, err = opts.openStore(h.clock.Now)
	} else {
		st, err = bolt.Open(filepath.Join(h.dir, "authengine.db"), bolt.Options{Now: h.clock.Now})
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	roots := []seal.Key{h.key}
	if opts.rootKeys != nil {
		roots = opts.rootKeys
	}
	root, err := seal.New(roots)
	if err != nil {
		t.Fatal(err)
	}
	// The production shape: records sealed with data keys the root keys
	// wrap.
	sealer, err := keyring.Open(context.Background(), root, st, keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	compiled := map[string]*authflow.Provider{}
	if opts.providers != nil {
		for _, pc := range opts.providers(h, h.redirectURI()) {
			var p *authflow.Provider
			var err error
			if pc.NeedsDiscovery() {
				// An issuer provider, as the engine's start completes it.
				var res *discovery.Resolved
				res, err = (&discovery.Resolver{RedirectURI: h.redirectURI(), AllowPrivate: true, Now: h.clock.Now}).Resolve(context.Background(), pc)
				if res != nil {
					p = res.Provider
				}
			} else {
				p, err = authflow.Compile(pc, h.redirectURI())
			}
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
		RefreshLease:           opts.lease,
		FlowTTL:                10 * time.Minute,
		RefreshMargin:          time.Minute,
		PublicURL:              h.srv.URL,
		AllowedRedirectOrigins: opts.origins,
		VerifierURL:            opts.verifierURL,
		AllowPrivateEndpoints:  !opts.guardPrivate,
		Resolver:               opts.resolver,
		Logger:                 log,
		Now:                    h.clock.Now,
		FlowsPerUser:           opts.flowsPerUser,
		FlowsPerAPIKey:         opts.flowsPerAPIKey,
		EventTypes:             opts.eventTypes,
	})
	if err != nil {
		t.Fatal(err)
	}
	var handler http.Handler = httpapi.New(httpapi.Options{
		Engine: eng, APIKeys: append([]string{apiKey}, opts.apiKeys...), AdminKeys: []string{adminKey},
		MaxBodyBytes: 64 << 10, Logger: log, Limits: opts.limits,
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
	return enginetest.Call(h.t, nil, h.srv.URL, key, method, path, body, out)
}

type (
	authResp = enginetest.AuthResponse
	apiErr   = enginetest.APIError
)

var authorizeBody = enginetest.AuthorizeBody

func (h *harness) authorize(user, provider string, scopes ...string) authResp {
	h.t.Helper()
	var out authResp
	if code := h.do("POST", "/v1/auth/authorize", authorizeBody(user, provider, scopes...), &out); code != 200 {
		h.t.Fatalf("authorize %s/%s: HTTP %d %+v", user, provider, code, out)
	}
	return out
}

// browse follows a callback URL like a browser would (without following
// the engine's own redirect) and returns the status, page and Location.
func (h *harness) browse(callbackURL string) (int, string, string) {
	h.t.Helper()
	return enginetest.Browse(h.t, callbackURL)
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

func mustSealer(t testing.TB, h *harness) *seal.Sealer {
	t.Helper()
	s, err := seal.New([]seal.Key{h.key})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
