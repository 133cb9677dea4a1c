package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/labstack/echo/v4"

	"github.com/authengine/authengine/engine/demo"
	"github.com/authengine/authengine/engine/seal"
	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/internal/mcptest"
	"github.com/authengine/authengine/internal/providertest"
	"github.com/authengine/authengine/toolkit"
)

const (
	oasAPIKey       = "openapi-api-key-0123456789"
	oasAdminKey     = "openapi-admin-key-0123456789"
	oasMetricsToken = "openapi-metrics-token-0123456789"
	oasWorkerSecret = "openapi-worker-secret-0123456789-abcdef"
)

// openAPIRig is an engine assembled by cmd exactly as serve assembles it
// (every route serve mounts), in development mode (so the demo provider's
// routes exist), with a strict stand-in provider, a tool worker and user
// verification on, behind a real listener; every call of its client is
// validated against docs/openapi.yaml.
type openAPIRig struct {
	t      *testing.T
	base   string
	inst   *instance
	idp    *providertest.Provider
	doc    *openapi3.T
	router routers.Router
	client *http.Client

	mu sync.Mutex
	// answered holds "METHOD /openapi/path" of every call whose answer
	// (2xx or 3xx) was validated.
	answered map[string]bool
}

func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(filepath.Join(repoRoot(t), "docs", "openapi.yaml"))
	if err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("docs/openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	return doc
}

func newOpenAPIRig(t *testing.T) *openAPIRig {
	t.Helper()
	r := &openAPIRig{t: t, doc: loadOpenAPI(t), answered: map[string]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.base = "http://" + ln.Addr().String()
	port := ln.Addr().(*net.TCPAddr).Port
	r.idp = providertest.New(t, providertest.Options{
		RedirectURI: r.base + "/oauth/callback", ClientAuth: providertest.ClientSecretBasic, RequirePKCE: true,
		AccessTokenTTL: time.Hour, RotateRefreshTokens: true, UserInfo: map[string]any{"sub": "ada-1", "email": "ada@example.com"},
	})

	w, err := toolkit.NewWorker(toolkit.WorkerOptions{Toolkit: toolkit.ToolkitDefinition{Name: "Util", Version: "1.0.0"}, Secret: oasWorkerSecret})
	if err != nil {
		t.Fatal(err)
	}
	type text struct {
		Text string `json:"text"`
	}
	if err := w.Register(toolkit.New(toolkit.Definition{Name: "Echo", Description: "Says the text back."},
		func(_ context.Context, _ toolkit.Context, in text) (any, error) { return in.Text, nil })); err != nil {
		t.Fatal(err)
	}
	if err := w.Register(toolkit.New(toolkit.Definition{Name: "Whoami", Description: "Names the user at hooli.",
		RequiresAuth: &toolkit.OAuth2{ID: "hooli", Scopes: []string{"read"}}},
		func(_ context.Context, tc toolkit.Context, _ struct{}) (any, error) { return tc.UserID, nil })); err != nil {
		t.Fatal(err)
	}
	worker := &http.Server{Handler: w, ReadHeaderTimeout: 5 * time.Second}
	wln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go worker.Serve(wln)
	t.Cleanup(func() { worker.Close() })

	// A webhook receiver that refuses: events stay in the outbox.
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	t.Cleanup(hook.Close)

	_, rootKey, err := seal.GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	demoProvider := fmt.Sprintf(`{id: demo, client_id: %s, client_secret: %s, oauth2: {grant_type: authorization_code, pkce: {enabled: true},
  default_scopes: [profile], allowed_scopes: [profile, email],
  authorize_request: {endpoint: "%[3]s%[4]s/authorize", params: {response_type: code, client_id: "<<client_id>>", redirect_uri: "<<redirect_uri>>", scope: "<<scopes>>"}},
  token_request: {endpoint: "%[3]s%[4]s/token", auth_method: client_secret_basic, params: {grant_type: authorization_code, redirect_uri: "<<redirect_uri>>"}}}}`,
		demo.ClientID, demo.ClientSecret, r.base, demo.Prefix)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "engine.yaml")
	cfg := fmt.Sprintf(`
data_dir: %s
api: {development: true, host: 127.0.0.1, port: %d, public_url: %q, api_keys: [%s], admin_keys: [%s]}
security: {root_keys: [{id: k1, value: %q}], allow_private_endpoints: true}
store: {type: embedded}
telemetry: {log: {level: debug, format: json}, metrics: {bearer_token: %s}}
tools: {workers: [{id: util, http: {uri: %q, secret: %q}}]}
webhooks: [{url: %q, secret: %q, events: [connection.created]}]
auth:
  user_verification: {enabled: true, verifier_url: "http://app.example/verify"}
  providers:
    - %s
    - %s
    - {id: files, type: mcp, mcp: {url: %q}}
`, filepath.Join(dir, "data"), port, r.base, oasAPIKey, oasAdminKey, rootKey, oasMetricsToken,
		"http://"+wln.Addr().String(), oasWorkerSecret, hook.URL, "whsec_"+base64.StdEncoding.EncodeToString([]byte("openapi-webhook-key-0123456789")), providerYAML(t, r.idp.Config("hooli")), demoProvider,
		mcptest.New(t, mcptest.Options{RedirectURI: r.base + "/oauth/callback"}).URL())
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs syncWriter
	l, err := load(cfgPath, "", &logs)
	if err != nil {
		t.Fatalf("load: %v\n%s", err, logs.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	inst, err := assemble(ctx, l, newLogger(l.cfg.Telemetry.Log, &logs), false, &logs)
	if err != nil {
		t.Fatalf("assemble: %v\n%s", err, logs.String())
	}
	r.inst = inst
	srv := &http.Server{Handler: inst.handler, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Close()
		inst.engine.Drain()
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ccancel()
		inst.engine.Close(cctx)
		cancel()
		inst.close()
	})

	r.doc.Servers = openapi3.Servers{{URL: r.base}}
	if r.router, err = gorillamux.NewRouter(r.doc); err != nil {
		t.Fatal(err)
	}
	r.client = &http.Client{
		Timeout:   10 * time.Second,
		Transport: validatingTransport{r},
		// The browser's part is played step by step.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return r
}

// validatingTransport checks every call and its answer against the
// document: the answer's status must be listed for the operation and its
// body must match the schema; a call answered 2xx or 3xx must itself
// match the document's parameters and request body.
type validatingTransport struct{ r *openAPIRig }

func (v validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t := v.r.t
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	respBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(respBody))

	if resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("%s %s: the answer has no X-Request-Id", req.Method, req.URL.Path)
	}
	check := req.Clone(req.Context())
	check.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := v.r.router.FindRoute(check)
	if err != nil {
		t.Errorf("%s %s answered %d but docs/openapi.yaml has no operation for it: %v", req.Method, req.URL.Path, resp.StatusCode, err)
		return resp, nil
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}
	in := &openapi3filter.RequestValidationInput{Request: check, PathParams: params, Route: route, Options: opts}
	name := req.Method + " " + route.Path
	if resp.StatusCode < 400 {
		if err := openapi3filter.ValidateRequest(req.Context(), in); err != nil {
			t.Errorf("%s: the call does not match docs/openapi.yaml: %v", name, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode,
		Header: resp.Header, Body: io.NopCloser(bytes.NewReader(respBody)), Options: opts}
	if err := openapi3filter.ValidateResponse(req.Context(), out); err != nil {
		t.Errorf("%s answered %d, which docs/openapi.yaml does not describe: %v\nbody: %.400s", name, resp.StatusCode, err, respBody)
	} else if resp.StatusCode < 400 {
		v.r.mu.Lock()
		v.r.answered[name] = true
		v.r.mu.Unlock()
	}
	return resp, nil
}

// call sends a request with key (none when empty) and a JSON or form body
// and returns the status and the decoded JSON answer (nil when not JSON).
func (r *openAPIRig) call(key, method, path string, body any) (int, map[string]any, http.Header) {
	r.t.Helper()
	var rd io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, ctype = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	target := path
	if !strings.HasPrefix(path, "http") {
		target = r.base + path
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		r.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", ctype)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	if out == nil && strings.Contains(resp.Header.Get("Content-Type"), "html") {
		out = map[string]any{"html": string(raw)}
	}
	return resp.StatusCode, out, resp.Header
}

func (r *openAPIRig) want(code, want int, what string, body map[string]any) {
	r.t.Helper()
	if code != want {
		r.t.Fatalf("%s: HTTP %d, want %d: %v", what, code, want, body)
	}
}

// openAPIPath is the OpenAPI form of an echo route path (/x/:id → /x/{id}).
func openAPIPath(p string) string {
	return regexp.MustCompile(`:([A-Za-z_]+)`).ReplaceAllString(p, "{$1}")
}

// TestOpenAPIDescribesEveryRoute checks docs/openapi.yaml against the
// engine serve assembles: every route registered on its HTTP servers has
// an operation in the document (and the document describes no route the
// engine does not serve), and every route answers, in a real scenario on
// the strict stand-in provider, with a status the document lists and a
// body matching its schema.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
	r := newOpenAPIRig(t)

	served := map[string]bool{}
	for _, e := range []*echo.Echo{r.inst.handler, r.inst.admin, r.inst.metrics} {
		if e == nil {
			continue
		}
		for _, rt := range e.Routes() {
			if rt.Method == echo.RouteNotFound {
				continue
			}
			served[rt.Method+" "+openAPIPath(rt.Path)] = true
		}
	}
	documented := map[string]bool{}
	for path, item := range r.doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	for _, route := range sortedKeys(served) {
		if !documented[route] {
			t.Errorf("the engine serves %s, which docs/openapi.yaml does not describe: document it in docs/openapi.yaml", route)
		}
	}
	for _, op := range sortedKeys(documented) {
		if !served[op] {
			t.Errorf("docs/openapi.yaml describes %s, which the engine does not serve", op)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	r.scenario()

	for _, route := range sortedKeys(served) {
		if !r.answered[route] {
			t.Errorf("%s was not called with a successful answer in TestOpenAPIDescribesEveryRoute's scenario: add a call there, so its answers are checked against docs/openapi.yaml", route)
		}
	}
	if v := r.idp.Violations(); len(v) > 0 {
		t.Errorf("the stand-in provider saw protocol violations: %v", v)
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// scenario calls every route: successes, and the errors an app meets.
func (r *openAPIRig) scenario() {
	t := r.t
	// Health and metrics.
	for _, p := range []string{"/v1/health", "/v1/health/ready", "/v1/health/live"} {
		code, body, _ := r.call("", "GET", p, nil)
		r.want(code, 200, p, body)
	}
	code, body, _ := r.call("", "GET", "/metrics", nil)
	r.want(code, 401, "metrics without the token", body)
	code, body, _ = r.call(oasMetricsToken, "GET", "/metrics", nil)
	r.want(code, 200, "metrics", body)

	// An authorization at the stand-in, held for user verification, then
	// confirmed.
	authorize := func(user, provider string, scopes ...string) map[string]any {
		t.Helper()
		code, body, _ := r.call(oasAPIKey, "POST", "/v1/auth/authorize", map[string]any{"user_id": user,
			"auth_requirement": map[string]any{"provider_id": provider, "oauth2": map[string]any{"scopes": scopes}}})
		r.want(code, 200, "authorize "+user+" at "+provider, body)
		return body
	}
	code, body, _ = r.call("", "POST", "/v1/auth/authorize", map[string]any{"user_id": "ada"})
	r.want(code, 401, "authorize without a key", body)
	code, body, _ = r.call(oasAPIKey, "POST", "/v1/auth/authorize", map[string]any{"user_id": "ada",
		"auth_requirement": map[string]any{"provider_id": "nobody"}})
	r.want(code, 404, "authorize at an unknown provider", body)
	code, body, _ = r.call(oasAPIKey, "POST", "/v1/auth/authorize", "not an object")
	r.want(code, 400, "authorize with a string body", body)
	start := authorize("ada", "hooli", "read")
	id, _ := start["id"].(string)
	code, body, _ = r.call(oasAPIKey, "GET", "/v1/auth/status?id="+url.QueryEscape(id)+"&wait=0", nil)
	r.want(code, 200, "status while pending", body)
	code, body, _ = r.call(oasAPIKey, "GET", "/v1/auth/status?id=nope", nil)
	r.want(code, 404, "status of an unknown flow", body)
	cb, err := r.idp.Consent(context.Background(), start["url"].(string))
	if err != nil {
		t.Fatal(err)
	}
	code, body, hdr := r.call("", "GET", cb, nil)
	r.want(code, 303, "callback (to the user verifier)", body)
	if !strings.HasPrefix(hdr.Get("Location"), "http://app.example/verify?") {
		t.Fatalf("callback redirected to %q, want the verifier", hdr.Get("Location"))
	}
	code, body, _ = r.call("", "GET", "/oauth/callback?state=forged&code=x", nil)
	r.want(code, 400, "callback with an unknown state", body)
	code, body, _ = r.call("", "GET", "/oauth/client-metadata/files", nil)
	r.want(code, 200, "an MCP provider's client metadata document", body)
	code, body, _ = r.call("", "GET", "/oauth/client-metadata/hooli", nil)
	r.want(code, 404, "the client metadata document of a provider that is not an MCP server", body)
	code, body, _ = r.call(oasAPIKey, "POST", "/v1/auth/confirm_user", map[string]any{"flow_id": id, "user_id": "ada"})
	r.want(code, 200, "confirm_user", body)
	code, body, _ = r.call(oasAPIKey, "POST", "/v1/auth/confirm_user", map[string]any{"flow_id": id, "user_id": "ada"})
	r.want(code, 409, "confirm_user again", body)
	code, body, _ = r.call(oasAPIKey, "GET", "/v1/auth/status?id="+url.QueryEscape(id), nil)
	r.want(code, 200, "status when completed", body)
	if body["status"] != "completed" {
		t.Fatalf("status after confirm_user: %v, want completed", body)
	}
	if done := authorize("ada", "hooli", "read"); done["status"] != "completed" {
		t.Fatalf("authorize when connected: %v, want completed", done)
	}

	// The demo provider, played as a browser and as a client.
	r.demo()

	// The operator console, through its forms.
	r.console()

	// Tools.
	code, body, _ = r.call(oasAPIKey, "GET", "/v1/tools?limit=10", nil)
	r.want(code, 200, "list tools", body)
	code, body, _ = r.call(oasAPIKey, "GET", "/v1/tools?limit=1000", nil)
	r.want(code, 400, "list tools with a limit too large", body)
	code, body, _ = r.call(oasAPIKey, "GET", "/v1/tools/Util.Whoami", nil)
	r.want(code, 200, "get a tool", body)
	code, body, _ = r.call(oasAPIKey, "GET", "/v1/tools/Util.Nothing", nil)
	r.want(code, 404, "get an unknown tool", body)
	code, body, _ = r.call(oasAPIKey, "POST", "/v1/tools/authorize", map[string]any{"tool_name": "Util.Whoami", "user_id": "ada"})
	r.want(code, 200, "tool authorization for a connected user", body)
	code, body, _ = r.call(oasAPIKey, "POST", "/v1/tools/execute", map[string]any{"tool_name": "Util.Echo", "user_id": "ada", "input": map[string]any{"text": "hi"}})
	r.want(code, 200, "execute a tool", body)
	code, body, _ = r.call(oasAPIKey, "POST", "/v1/tools/execute", map[string]any{"tool_name": "Util.Whoami", "user_id": "bob"})
	r.want(code, 403, "execute a tool the user has not authorized", body)

	// Admin: connections and providers.
	code, body, _ = r.call(oasAPIKey, "GET", "/v1/admin/user_connections", nil)
	r.want(code, 401, "admin with an app key", body)
	code, body, _ = r.call(oasAdminKey, "GET", "/v1/admin/user_connections?user_id=ada", nil)
	r.want(code, 200, "list connections", body)
	items, _ := body["items"].([]any)
	if len(items) == 0 {
		t.Fatalf("no connection listed for ada: %v", body)
	}
	connID, _ := items[0].(map[string]any)["id"].(string)
	code, body, _ = r.call(oasAdminKey, "GET", "/v1/admin/user_connections?status=connected&provider_id=hooli", nil)
	r.want(code, 200, "list connections by status", body)
	code, body, _ = r.call(oasAdminKey, "GET", "/v1/admin/user_connections?status=broken", nil)
	r.want(code, 400, "list connections by an unknown status", body)
	code, body, _ = r.call(oasAdminKey, "GET", "/v1/admin/user_connections/"+url.PathEscape(connID), nil)
	r.want(code, 200, "get a connection", body)
	code, body, _ = r.call(oasAdminKey, "GET", "/v1/admin/user_connections/nope", nil)
	r.want(code, 404, "get an unknown connection", body)
	code, body, _ = r.call(oasAdminKey, "POST", "/v1/admin/user_connections/"+url.PathEscape(connID)+"/refresh", nil)
	r.want(code, 200, "force a refresh", body)
	code, body, _ = r.call(oasAdminKey, "POST", "/v1/admin/user_connections/nope/refresh", nil)
	r.want(code, 404, "force a refresh of an unknown connection", body)
	code, body, _ = r.call(oasAPIKey, "GET", "/v1/auth/connections?user_id=ada", nil)
	r.want(code, 200, "the user's connections", body)
	code, body, _ = r.call(oasAPIKey, "GET", "/v1/auth/connections", nil)
	r.want(code, 400, "connections without user_id", body)
	runtime := map[string]any{"id": "acme", "description": "added at run time", "status": "active", "type": "oauth2",
		"oauth2": map[string]any{"client_id": "acme-client", "client_secret": "acme-secret-0123456789",
			"authorize_request": map[string]any{"endpoint": r.idp.AuthorizeEndpoint(), "params": map[string]any{
				"response_type": "code", "client_id": "<<client_id>>", "redirect_uri": "<<redirect_uri>>", "scope": "<<scopes>>"}},
			"token_request": map[string]any{"endpoint": r.idp.TokenEndpoint(), "auth_method": "client_secret_basic",
				"params": map[string]any{"grant_type": "authorization_code", "redirect_uri": "<<redirect_uri>>"}}}}
	code, body, _ = r.call(oasAdminKey, "POST", "/v1/admin/auth_providers", runtime)
	r.want(code, 201, "create a provider", body)
	code, body, _ = r.call(oasAdminKey, "POST", "/v1/admin/auth_providers", runtime)
	r.want(code, 409, "create it again", body)
	code, body, _ = r.call(oasAdminKey, "POST", "/v1/admin/auth_providers", map[string]any{"id": "broken", "oauth2": map[string]any{}})
	r.want(code, 400, "create an invalid provider", body)
	code, body, _ = r.call(oasAdminKey, "GET", "/v1/admin/auth_providers", nil)
	r.want(code, 200, "list providers", body)
	code, body, _ = r.call(oasAdminKey, "GET", "/v1/admin/auth_providers/acme", nil)
	r.want(code, 200, "get a provider", body)
	code, body, _ = r.call(oasAdminKey, "GET", "/v1/admin/auth_providers/hooli", nil)
	r.want(code, 200, "get an engine.yaml provider", body)
	code, body, _ = r.call(oasAdminKey, "PATCH", "/v1/admin/auth_providers/acme", map[string]any{"description": "changed"})
	r.want(code, 200, "patch a provider", body)
	code, body, _ = r.call(oasAdminKey, "PATCH", "/v1/admin/auth_providers/hooli", map[string]any{"description": "changed"})
	r.want(code, 409, "patch an engine.yaml provider", body)
	code, body, _ = r.call(oasAdminKey, "DELETE", "/v1/admin/auth_providers/acme", nil)
	r.want(code, 200, "delete a provider", body)
	code, body, _ = r.call(oasAdminKey, "GET", "/v1/admin/auth_providers/acme", nil)
	r.want(code, 404, "get a deleted provider", body)
	// Webhook events: ada's connection.created waits in the outbox; its
	// attempts are made to run out, as a receiver that keeps refusing
	// would, and it is replayed.
	code, body, _ = r.call(oasAdminKey, "GET", "/v1/admin/webhook_events?status=pending", nil)
	r.want(code, 200, "list pending webhook events", body)
	events, _ := body["items"].([]any)
	if len(events) == 0 {
		t.Fatalf("no pending webhook event listed: %v", body)
	}
	eventID, _ := events[0].(map[string]any)["id"].(string)
	if _, err := r.inst.store.UpdateEvent(context.Background(), eventID, func(ev store.Event) (store.Event, error) {
		ev.Status, ev.LastError = store.EventFailed, "HTTP 503"
		return ev, nil
	}); err != nil {
		t.Fatal(err)
	}
	code, body, _ = r.call(oasAdminKey, "POST", "/v1/admin/webhook_events/"+url.PathEscape(eventID)+"/replay", nil)
	r.want(code, 200, "replay a failed webhook event", body)
	code, body, _ = r.call(oasAdminKey, "POST", "/v1/admin/webhook_events/"+url.PathEscape(eventID)+"/replay", nil)
	r.want(code, 409, "replay it again while pending", body)
	code, body, _ = r.call(oasAdminKey, "GET", "/v1/admin/audit?limit=5", nil)
	r.want(code, 200, "list the audit log", body)
	if items, _ := body["items"].([]any); len(items) == 0 {
		t.Fatalf("the audit log is empty after admin changes: %v", body)
	}
	code, body, _ = r.call(oasAdminKey, "GET", "/v1/admin/audit?since=yesterday", nil)
	r.want(code, 400, "list the audit log with a bad time", body)
	code, body, _ = r.call(oasAdminKey, "GET", "/v1/admin/webhook_events?status=bogus", nil)
	if code != 200 && code != 400 {
		t.Fatalf("list webhook events with an unknown status: HTTP %d %v", code, body)
	}

	code, body, _ = r.call(oasAdminKey, "DELETE", "/v1/admin/user_connections/"+url.PathEscape(connID), nil)
	r.want(code, 200, "delete a connection", body)
	code, body, _ = r.call(oasAdminKey, "DELETE", "/v1/admin/user_connections/"+url.PathEscape(connID), nil)
	r.want(code, 404, "delete it again", body)
}

// demo plays the demo provider's authorization-code flow with PKCE, as a
// browser (consent page, Allow) and as the client (token, user info).
func (r *openAPIRig) demo() {
	t := r.t
	verifier := "openapi-verifier-0123456789-0123456789-0123456789"
	sum := sha256.Sum256([]byte(verifier))
	redirect := r.base + "/oauth/callback"
	q := url.Values{"client_id": {demo.ClientID}, "redirect_uri": {redirect}, "response_type": {"code"},
		"scope": {"profile email"}, "state": {"s1"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"}}
	code, body, _ := r.call("", "GET", demo.Prefix+"/authorize?"+q.Encode(), nil)
	r.want(code, 200, "demo consent page", body)
	m := regexp.MustCompile(`name="consent" value="([^"]+)"`).FindStringSubmatch(fmt.Sprint(body["html"]))
	if m == nil {
		t.Fatalf("demo consent page has no consent id: %v", body)
	}
	bad := url.Values{}
	for k, v := range q {
		bad[k] = v
	}
	bad.Set("redirect_uri", "http://elsewhere.example/cb")
	code, body, _ = r.call("", "GET", demo.Prefix+"/authorize?"+bad.Encode(), nil)
	r.want(code, 400, "demo authorize with a foreign redirect URI", body)
	code, body, hdr := r.call("", "POST", demo.Prefix+"/authorize", url.Values{"consent": {m[1]}, "decision": {"allow"}, "login": {"grace"}})
	r.want(code, 302, "demo Allow", body)
	loc, _ := url.Parse(hdr.Get("Location"))
	if loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("demo Allow redirected to %q, want a code", hdr.Get("Location"))
	}
	code, body, _ = r.call("", "POST", demo.Prefix+"/authorize", url.Values{"consent": {m[1]}, "decision": {"allow"}})
	r.want(code, 400, "demo Allow twice", body)
	tokenForm := url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "redirect_uri": {redirect},
		"code_verifier": {verifier}, "client_id": {demo.ClientID}, "client_secret": {demo.ClientSecret}}
	code, body, _ = r.call("", "POST", demo.Prefix+"/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {"x"}, "client_secret": {"y"}})
	r.want(code, 401, "demo token with wrong client credentials", body)
	code, body, _ = r.call("", "POST", demo.Prefix+"/token", tokenForm)
	r.want(code, 200, "demo token", body)
	access, _ := body["access_token"].(string)
	code, body, _ = r.call(access, "GET", demo.Prefix+"/userinfo", nil)
	r.want(code, 200, "demo user info", body)
	code, body, _ = r.call("", "GET", demo.Prefix+"/userinfo", nil)
	r.want(code, 401, "demo user info without a token", body)
}
