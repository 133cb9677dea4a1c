package tools_test

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authengine/authengine/authflow"
	"github.com/authengine/authengine/authflow/discovery"
	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine"
	"github.com/authengine/authengine/engine/httpapi"
	"github.com/authengine/authengine/engine/tools"
	"github.com/authengine/authengine/engine/workerclient"
	"github.com/authengine/authengine/internal/enginetest"
	"github.com/authengine/authengine/internal/providertest"
	"github.com/authengine/authengine/toolkit"
)

const (
	apiKey       = "tools-test-api-key-0123456789"
	workerSecret = "tools-test-worker-secret-at-least-32-bytes"
)

type (
	clock    = enginetest.Clock
	authResp = enginetest.AuthResponse
	apiErr   = enginetest.APIError
)

// received is what a tool saw in one call.
type received struct {
	Tool     string
	UserID   string
	Token    string
	UserInfo map[string]any
}

// recorder collects what the worker's tools received.
type recorder struct {
	mu    sync.Mutex
	calls []received
}

func (r *recorder) record(tool string, tc toolkit.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, received{Tool: tool, UserID: tc.UserID, Token: tc.Authorization.Token, UserInfo: tc.Authorization.UserInfo})
}

func (r *recorder) all() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.calls...)
}

func (r *recorder) last(t testing.TB) received {
	t.Helper()
	all := r.all()
	if len(all) == 0 {
		t.Fatal("the worker received no call")
	}
	return all[len(all)-1]
}

type whoAmIIn struct {
	// Fail makes the tool fail with this message.
	Fail string `json:"fail,omitempty" desc:"fail with this message"`
}

type statusIn struct {
	Service string `json:"service,omitempty" desc:"only this service"`
}

// hooliTools are the two tools of the test worker: WhoAmI needs a user
// token from "hooli" (authorization code); ServiceStatus needs the service
// token of "hooli-service" (client credentials).
func hooliTools(rec *recorder) []*toolkit.Tool {
	return []*toolkit.Tool{
		toolkit.New(toolkit.Definition{
			Name:         "WhoAmI",
			Description:  "Returns the current user's profile.",
			RequiresAuth: &toolkit.OAuth2{ID: "hooli", Scopes: []string{"profile", "email"}},
		}, func(_ context.Context, tc toolkit.Context, in whoAmIIn) (any, error) {
			rec.record("WhoAmI", tc)
			if in.Fail != "" {
				return nil, errors.New(in.Fail)
			}
			return map[string]any{"user": tc.UserID, "email": tc.Authorization.UserInfo["email"]}, nil
		}),
		toolkit.New(toolkit.Definition{
			Name:         "ServiceStatus",
			Description:  "Reports the status of Hooli's services.",
			RequiresAuth: &toolkit.OAuth2{ProviderID: "hooli-service", Scopes: []string{"status:read"}},
		}, func(_ context.Context, tc toolkit.Context, in statusIn) (any, error) {
			rec.record("ServiceStatus", tc)
			if in.Service != "" {
				return map[string]string{in.Service: "ok"}, nil
			}
			return map[string]string{"mail": "ok", "search": "degraded"}, nil
		}),
	}
}

// oidcIf is an OpenID Connect stand-in's options when on.
func oidcIf(on bool) *providertest.OIDC {
	if on {
		return &providertest.OIDC{}
	}
	return nil
}

// harness is an engine with the tools API behind a real HTTP server, on a
// bolt store with a real sealer, in front of the strict stand-in provider,
// calling a real toolkit worker.
type harness struct {
	t        testing.TB
	srv      *httptest.Server
	worker   *httptest.Server
	idp      *providertest.Provider
	clock    *clock
	engine   *engine.Engine
	registry *workerclient.Registry
	rec      *recorder
	logs     *enginetest.LogSink
	client   *http.Client
}

type harnessOptions struct {
	// tools replaces the worker's tools; nil means hooliTools.
	tools func(*recorder) []*toolkit.Tool
	// workerTimeout and workerRetry configure the worker client.
	workerTimeout time.Duration
	workerRetry   int
	// worker replaces the toolkit worker with another handler.
	worker http.Handler
	// engineSecret, when set, is the secret the engine's client signs
	// with instead of the worker's own (a misconfigured secret); the
	// first catalog read is then expected to fail.
	engineSecret string
	// idTokenUserInfo makes the stand-in an OpenID Connect provider and
	// "hooli" take its user info from the id_token.
	idTokenUserInfo bool
}

func newHarness(t testing.TB, opts harnessOptions) *harness {
	t.Helper()
	h := &harness{t: t, clock: &clock{}, rec: &recorder{}, logs: &enginetest.LogSink{}}
	var handler atomic.Pointer[http.Handler]
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*handler.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(h.srv.Close)
	h.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
	t.Cleanup(h.client.CloseIdleConnections)
	redirect := h.srv.URL + "/oauth/callback"

	h.idp = providertest.New(t, providertest.Options{
		RedirectURI:         redirect,
		RequirePKCE:         true,
		ClientAuth:          providertest.ClientSecretBasic,
		RotateRefreshTokens: true,
		AccessTokenTTL:      time.Hour,
		UserInfo:            map[string]any{"sub": "u-42", "email": "ada@hooli.example"},
		Now:                 h.clock.Now,
		OIDC:                oidcIf(opts.idTokenUserInfo),
	})
	compiled := map[string]*authflow.Provider{}
	for _, pc := range []config.Provider{h.idp.Config("hooli"), h.idp.ClientCredentialsConfig("hooli-service")} {
		p, err := authflow.Compile(pc, redirect)
		if pc.ID == "hooli" && opts.idTokenUserInfo {
			var res *discovery.Resolved
			res, err = (&discovery.Resolver{RedirectURI: redirect, AllowPrivate: true, Now: h.clock.Now}).Resolve(context.Background(), h.idp.IDTokenConfig("hooli"))
			if err == nil {
				p = res.Provider
			}
		}
		if err != nil {
			t.Fatalf("compile provider %s: %v", pc.ID, err)
		}
		compiled[pc.ID] = p
	}
	log := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var err error
	h.engine, err = engine.New(engine.Options{
		Providers: compiled, Store: enginetest.BoltStore(t, h.clock.Now), Sealer: enginetest.Sealer(t),
		FlowTTL: 10 * time.Minute, RefreshMargin: time.Minute,
		PublicURL: h.srv.URL, Logger: log, Now: h.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}

	workerHandler := opts.worker
	if workerHandler == nil {
		w, err := toolkit.NewWorker(toolkit.WorkerOptions{
			Toolkit: toolkit.ToolkitDefinition{Name: "Hooli", Description: "Hooli tools", Version: "1.0.0"},
			Secret:  workerSecret,
		})
		if err != nil {
			t.Fatal(err)
		}
		build := opts.tools
		if build == nil {
			build = hooliTools
		}
		if err := w.Register(build(h.rec)...); err != nil {
			t.Fatal(err)
		}
		workerHandler = w
	}
	h.worker = httptest.NewServer(workerHandler)
	t.Cleanup(h.worker.Close)
	h.registry = workerclient.NewRegistry(workerclient.RegistryOptions{
		Workers: []*workerclient.Client{workerclient.New(workerclient.Options{
			ID: "local", URI: h.worker.URL, Secret: cmp.Or(opts.engineSecret, workerSecret),
			Timeout: opts.workerTimeout, Retry: opts.workerRetry, RetryBackoff: 10 * time.Millisecond,
		})},
		Logger: log,
	})
	if err := h.registry.Refresh(context.Background()); err != nil && opts.engineSecret == "" {
		t.Fatal(err)
	}
	svc := tools.New(tools.Options{Engine: h.engine, Registry: h.registry, Logger: log, Now: h.clock.Now})
	e := httpapi.New(httpapi.Options{Engine: h.engine, APIKeys: []string{apiKey}, Logger: log})
	httpapi.MountTools(e, svc, httpapi.NewKeys([]string{apiKey}, nil), httpapi.RateLimits{})
	var hh http.Handler = e
	handler.Store(&hh)
	return h
}

// do sends a request with the API key (bare, as Arcade's JS client does)
// and decodes the JSON answer into out. It returns the response.
func (h *harness) do(method, path string, body any, out any) *http.Response {
	h.t.Helper()
	return enginetest.Do(h.t, h.client, h.srv.URL, apiKey, method, path, body, out)
}

// execResp is an ExecuteToolResponse as a client decodes it.
type execResp struct {
	ID            string   `json:"id"`
	ExecutionID   string   `json:"execution_id"`
	ExecutionType string   `json:"execution_type"`
	Status        string   `json:"status"`
	Success       bool     `json:"success"`
	Duration      *float64 `json:"duration"`
	FinishedAt    string   `json:"finished_at"`
	RunAt         string   `json:"run_at"`
	Output        struct {
		Value any `json:"value"`
		Error *struct {
			Message    string `json:"message"`
			Kind       string `json:"kind"`
			CanRetry   bool   `json:"can_retry"`
			Stacktrace string `json:"stacktrace"`
		} `json:"error"`
		Logs []any `json:"logs"`
	} `json:"output"`
	// Name and Message are set when the call failed with an API error.
	Name          string    `json:"name"`
	Message       string    `json:"message"`
	Authorization *authResp `json:"authorization"`
}

func executeBody(user, tool string, input map[string]any) map[string]any {
	return map[string]any{"tool_name": tool, "user_id": user, "input": input}
}

// execute posts /v1/tools/execute and returns the status and the body.
func (h *harness) execute(body map[string]any) (int, execResp) {
	h.t.Helper()
	var out execResp
	resp := h.do("POST", "/v1/tools/execute", body, &out)
	return resp.StatusCode, out
}

// connect runs the browser part of an authorization: consent at the
// stand-in, then the callback on the engine.
func (h *harness) connect(authorizeURL string) {
	h.t.Helper()
	cb, err := h.idp.Consent(context.Background(), authorizeURL)
	if err != nil {
		h.t.Fatal(err)
	}
	if code, page, _ := enginetest.Browse(h.t, cb); code != http.StatusOK {
		h.t.Fatalf("callback: HTTP %d: %s", code, page)
	}
}
