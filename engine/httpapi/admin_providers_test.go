package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine"
	"github.com/authengine/authengine/engine/httpapi"
	"github.com/authengine/authengine/engine/seal"
	redisstore "github.com/authengine/authengine/engine/store/redis"
	"github.com/authengine/authengine/internal/enginetest"
	"github.com/authengine/authengine/internal/providertest"
	"github.com/authengine/authengine/internal/redistest"
)

const adminSecret = "runtime-client-secret-0123456789-wxyz"

// adminProvider is the Arcade admin provider object for a runtime provider
// pointing at the stand-in idp.
func adminProvider(idp *providertest.Provider, id string) map[string]any {
	c := idp.Config(id)
	o := c.OAuth2
	req := func(r *config.Request) map[string]any {
		out := map[string]any{
			"endpoint": r.Endpoint, "method": r.Method, "auth_method": r.AuthMethod,
			"request_content_type": r.RequestContentType, "response_content_type": r.ResponseContentType,
		}
		if len(r.Params) > 0 {
			out["params"] = r.Params
		}
		if len(r.ResponseMap) > 0 {
			out["response_map"] = r.ResponseMap
		}
		return out
	}
	userInfo := req(o.UserInfoRequest)
	userInfo["triggers"] = map[string]any{"on_token_grant": true, "on_token_refresh": false}
	return map[string]any{
		"id": id, "description": "added at run time", "status": "active", "type": "oauth2",
		"oauth2": map[string]any{
			"client_id": c.ClientID, "client_secret": c.ClientSecret,
			"scope_delimiter": o.ScopeDelimiter,
			"pkce":            map[string]any{"enabled": o.PKCE.Enabled, "code_challenge_method": "S256"},
			"authorize_request": map[string]any{
				"endpoint": o.AuthorizeRequest.Endpoint, "params": o.AuthorizeRequest.Params,
			},
			"token_request":     req(o.TokenRequest),
			"refresh_request":   req(o.RefreshTokenRequest),
			"user_info_request": userInfo,
		},
	}
}

// newIdP starts a strict stand-in demanding client_secret_basic, PKCE and
// the given client secret.
func newIdP(t *testing.T, redirect, secret string) *providertest.Provider {
	return providertest.New(t, providertest.Options{RedirectURI: redirect, ClientAuth: providertest.ClientSecretBasic,
		RequirePKCE: true, ClientSecret: secret, AccessTokenTTL: time.Hour,
		UserInfo: map[string]any{"email": "ada@example.com"}})
}

// adminCall sends an admin request and returns the status and raw body.
func adminCall(t *testing.T, base, method, path string, body any) (int, string) {
	t.Helper()
	var raw json.RawMessage
	code := enginetest.Call(t, nil, base, adminKey, method, path, body, &raw)
	return code, string(raw)
}

func decode[T any](t *testing.T, raw string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}

// providerObject is what the tests read of an admin provider answer.
type providerObject struct {
	ID          string `json:"id"`
	Description string `json:"description"`
	Status      string `json:"status"`
	Source      string `json:"source"`
	RedirectURI string `json:"redirect_uri"`
	CreatedAt   string `json:"created_at"`
	OAuth2      struct {
		ClientID     string `json:"client_id"`
		ClientSecret struct {
			Exists   bool   `json:"exists"`
			Hint     string `json:"hint"`
			Editable bool   `json:"editable"`
		} `json:"client_secret"`
		TokenRequest struct {
			Endpoint   string `json:"endpoint"`
			AuthMethod string `json:"auth_method"`
		} `json:"token_request"`
	} `json:"oauth2"`
}

// TestRuntimeProviderCompletesAnAuthorization creates a provider through
// the admin API and authorizes a user through it against the strict
// stand-in; the provider survives a restart.
func TestRuntimeProviderCompletesAnAuthorization(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	idp := newIdP(t, h.redirectURI(), adminSecret)

	code, raw := adminCall(t, h.srv.URL, "POST", "/v1/admin/auth_providers", adminProvider(idp, "acme"))
	if code != http.StatusCreated {
		t.Fatalf("create: HTTP %d %s", code, raw)
	}
	got := decode[providerObject](t, raw)
	if got.ID != "acme" || got.Status != "active" || got.Source != "admin" || got.RedirectURI != h.redirectURI() ||
		got.OAuth2.ClientID != idp.ClientID() || !got.OAuth2.ClientSecret.Exists || got.OAuth2.ClientSecret.Hint != "****wxyz" ||
		!got.OAuth2.ClientSecret.Editable || got.CreatedAt == "" || got.OAuth2.TokenRequest.AuthMethod != "client_secret_basic" {
		t.Errorf("create answered %s", raw)
	}

	done := h.connect(idp, "ada", "acme", "read")
	if done.Token() == "" || !idp.ValidAccessToken(done.Token()) {
		t.Fatalf("authorization through the runtime provider gave no valid token: %+v", done)
	}

	t.Run("the provider is listed and can be read back", func(t *testing.T) {
		code, raw := adminCall(t, h.srv.URL, "GET", "/v1/admin/auth_providers", nil)
		list := decode[struct {
			Items      []providerObject `json:"items"`
			TotalCount int              `json:"total_count"`
		}](t, raw)
		if code != 200 || list.TotalCount != 1 || len(list.Items) != 1 || list.Items[0].ID != "acme" {
			t.Errorf("list: HTTP %d %s", code, raw)
		}
		code, raw = adminCall(t, h.srv.URL, "GET", "/v1/admin/auth_providers/acme", nil)
		if code != 200 || decode[providerObject](t, raw).OAuth2.ClientSecret.Hint != "****wxyz" {
			t.Errorf("get: HTTP %d %s", code, raw)
		}
	})

	t.Run("a restarted engine loads the stored provider", func(t *testing.T) {
		h.store.Close()
		h.start(harnessOptions{dir: h.dir, key: &h.key})
		if err := h.engine.LoadRuntimeProviders(t.Context()); err != nil {
			t.Fatal(err)
		}
		again := h.authorize("ada", "acme", "read")
		if again.Status != "completed" || again.Token() != done.Token() {
			t.Fatalf("after restart: %+v, want completed with the same token", again)
		}
	})

	t.Run("creating the same id again is provider_exists", func(t *testing.T) {
		var e apiErr
		code := enginetest.Call(t, nil, h.srv.URL, adminKey, "POST", "/v1/admin/auth_providers", adminProvider(idp, "acme"), &e)
		if code != http.StatusConflict || e.Name != "provider_exists" {
			t.Errorf("HTTP %d %+v, want 409 provider_exists", code, e)
		}
	})

	t.Run("the app key cannot use the admin API", func(t *testing.T) {
		var e apiErr
		code := enginetest.Call(t, nil, h.srv.URL, apiKey, "GET", "/v1/admin/auth_providers", nil, &e)
		if code != http.StatusUnauthorized {
			t.Errorf("HTTP %d %+v, want 401", code, e)
		}
	})
}

// TestRuntimeProviderSecretNeverLeaks drives every admin call and a full
// authorization with debug logs, and scans every answer, every log line
// and the raw store file for the client secret.
func TestRuntimeProviderSecretNeverLeaks(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	idp := newIdP(t, h.redirectURI(), adminSecret)
	var bodies []string
	call := func(method, path string, body any) int {
		code, raw := adminCall(t, h.srv.URL, method, path, body)
		bodies = append(bodies, raw)
		return code
	}
	if code := call("POST", "/v1/admin/auth_providers", adminProvider(idp, "acme")); code != 201 {
		t.Fatalf("create: HTTP %d %s", code, bodies[len(bodies)-1])
	}
	call("GET", "/v1/admin/auth_providers", nil)
	call("GET", "/v1/admin/auth_providers/acme", nil)
	call("PATCH", "/v1/admin/auth_providers/acme", map[string]any{"description": "renamed"})
	bad := adminProvider(idp, "broken")
	bad["oauth2"].(map[string]any)["token_request"].(map[string]any)["endpoint"] = "not a url"
	call("POST", "/v1/admin/auth_providers", bad)
	call("POST", "/v1/admin/auth_providers", map[string]any{"id": "x", "oauth2": map[string]any{"client_secret": map[string]any{"nested": adminSecret}}})
	h.connect(idp, "ada", "acme", "read")

	h.store.Close()
	file, err := os.ReadFile(filepath.Join(h.dir, "authengine.db"))
	if err != nil {
		t.Fatal(err)
	}
	places := map[string]string{"log lines": h.logs.String(), "raw store file": string(file)}
	for i, b := range bodies {
		places["admin answer "+string(rune('a'+i))] = b
	}
	for where, text := range places {
		for _, form := range []string{adminSecret, base64.StdEncoding.EncodeToString([]byte(adminSecret)), adminSecret[:len(adminSecret)-4]} {
			if strings.Contains(text, form) {
				t.Errorf("%s hold the client secret (or its base64, or its prefix)", where)
			}
		}
	}
	if !strings.Contains(h.logs.String(), "runtime provider created") {
		t.Error("the logs were not captured; the scan proves nothing")
	}
}

// TestConfigProvidersAreReadOnly: engine.yaml ids cannot be created,
// changed or deleted through the admin API, and are listed read-only.
func TestConfigProvidersAreReadOnly(t *testing.T) {
	var idp *providertest.Provider
	h := newHarness(t, harnessOptions{
		providers: func(h *harness, redirect string) []config.Provider {
			idp = newIdP(t, redirect, "yaml-client-secret-abcd-9876")
			return []config.Provider{idp.Config("hooli")}
		},
		disabled: []string{"parked"},
	})
	h.engine.SetConfigProviders([]config.Provider{idp.Config("hooli")})

	cases := []struct {
		name, method, path string
		body               any
	}{
		{"creating an engine.yaml id is refused", "POST", "/v1/admin/auth_providers", adminProvider(idp, "hooli")},
		{"creating a disabled engine.yaml id is refused", "POST", "/v1/admin/auth_providers", adminProvider(idp, "parked")},
		{"patching an engine.yaml provider is refused", "PATCH", "/v1/admin/auth_providers/hooli", map[string]any{"description": "x"}},
		{"deleting an engine.yaml provider is refused", "DELETE", "/v1/admin/auth_providers/hooli", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var e apiErr
			code := enginetest.Call(t, nil, h.srv.URL, adminKey, tc.method, tc.path, tc.body, &e)
			if code != http.StatusConflict || e.Name != "provider_read_only" || !strings.Contains(e.Message, "engine.yaml") {
				t.Errorf("HTTP %d %+v, want 409 provider_read_only naming engine.yaml", code, e)
			}
		})
	}

	t.Run("the engine.yaml provider is listed read-only with a secret hint", func(t *testing.T) {
		code, raw := adminCall(t, h.srv.URL, "GET", "/v1/admin/auth_providers/hooli", nil)
		got := decode[providerObject](t, raw)
		if code != 200 || got.Source != "config" || got.OAuth2.ClientSecret.Editable || got.OAuth2.ClientSecret.Hint != "****9876" ||
			got.OAuth2.TokenRequest.Endpoint != idp.TokenEndpoint() {
			t.Errorf("HTTP %d %s", code, raw)
		}
		if strings.Contains(raw, "yaml-client-secret") {
			t.Error("the answer holds the engine.yaml client secret")
		}
	})
	t.Run("nothing was stored and the engine.yaml provider still works", func(t *testing.T) {
		recs, err := h.store.ListProviders(context.Background())
		if err != nil || len(recs) != 0 {
			t.Fatalf("stored %d records (%v), want none", len(recs), err)
		}
		h.connect(idp, "ada", "hooli", "read")
	})
}

// TestInvalidProviderNamesEveryPath: a bad provider is refused with every
// problem and its path, and nothing is stored.
func TestInvalidProviderNamesEveryPath(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	idp := newIdP(t, h.redirectURI(), adminSecret)
	edit := func(f func(p, o map[string]any)) map[string]any {
		p := adminProvider(idp, "acme")
		f(p, p["oauth2"].(map[string]any))
		return p
	}
	req := func(o map[string]any, name string) map[string]any { return o[name].(map[string]any) }
	cases := []struct {
		name  string
		body  map[string]any
		paths []string
	}{
		{"a token endpoint that is not a URL", edit(func(p, o map[string]any) { req(o, "token_request")["endpoint"] = "not a url" }),
			[]string{"oauth2.token_request.endpoint: must be an absolute http:// or https:// URL"}},
		{"an unknown placeholder in a param", edit(func(p, o map[string]any) {
			req(o, "authorize_request")["params"].(map[string]string)["scope"] = "<<scope>>"
		}), []string{"oauth2.authorize_request.params.scope"}},
		{"client_secret in the authorize request (it would reach the browser)", edit(func(p, o map[string]any) {
			req(o, "authorize_request")["params"].(map[string]string)["app_secret_proof"] = "<<client_secret>>"
		}), []string{"oauth2.authorize_request.params.app_secret_proof: <<client_secret>> is not allowed in the authorize request"}},
		{"a misspelled request block", edit(func(p, o map[string]any) { o["tokn_request"] = o["token_request"] }),
			[]string{"oauth2.tokn_request: unknown key"}},
		{"a bad auth method and a missing client secret at once", edit(func(p, o map[string]any) {
			req(o, "token_request")["auth_method"] = "client_secret_jwt"
			req(o, "refresh_request")["auth_method"] = "client_secret_post"
			delete(o, "client_secret")
		}), []string{"oauth2.token_request.auth_method: must be one of", "oauth2.client_secret: is required"}},
		{"a status that is neither active nor inactive", edit(func(p, o map[string]any) { p["status"] = "on" }), []string{"status"}},
		{"an id with a slash", edit(func(p, o map[string]any) { p["id"] = "a/b" }), []string{"id: must contain only"}},
		{"an unknown built-in provider", edit(func(p, o map[string]any) { p["provider_id"] = "githb" }),
			[]string{`provider_id: unknown built-in provider "githb" (did you mean "github"?)`}},
		{"a response map with bad JSONPath", edit(func(p, o map[string]any) {
			req(o, "token_request")["response_map"] = map[string]any{"access_token": "$.[", "expires_in": "$.expires_in"}
		}), []string{"oauth2.token_request.response_map.access_token"}},
		{"a string where a boolean belongs", edit(func(p, o map[string]any) { o["pkce"] = map[string]any{"enabled": "yes"} }),
			[]string{"oauth2.pkce.enabled: must be true or false"}},
		{"no token request", edit(func(p, o map[string]any) { delete(o, "token_request") }),
			[]string{"oauth2.token_request: is required"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var e apiErr
			code := enginetest.Call(t, nil, h.srv.URL, adminKey, "POST", "/v1/admin/auth_providers", tc.body, &e)
			if code != http.StatusBadRequest || e.Name != "invalid_provider" {
				t.Fatalf("HTTP %d %+v, want 400 invalid_provider", code, e)
			}
			for _, p := range tc.paths {
				if !strings.Contains(e.Message, p) {
					t.Errorf("message %q does not name %q", e.Message, p)
				}
			}
			if strings.Contains(e.Message, adminSecret) {
				t.Error("the message holds the client secret")
			}
			recs, err := h.store.ListProviders(context.Background())
			if err != nil || len(recs) != 0 {
				t.Errorf("stored %d records (%v), want none", len(recs), err)
			}
		})
	}

	t.Run("a bad patch leaves the stored provider unchanged", func(t *testing.T) {
		if code, raw := adminCall(t, h.srv.URL, "POST", "/v1/admin/auth_providers", adminProvider(idp, "acme")); code != 201 {
			t.Fatalf("create: HTTP %d %s", code, raw)
		}
		var e apiErr
		patch := map[string]any{"description": "new", "oauth2": map[string]any{"token_request": map[string]any{"endpoint": "ftp://x"}}}
		code := enginetest.Call(t, nil, h.srv.URL, adminKey, "PATCH", "/v1/admin/auth_providers/acme", patch, &e)
		if code != 400 || !strings.Contains(e.Message, "oauth2.token_request.endpoint") {
			t.Fatalf("HTTP %d %+v, want 400 naming the endpoint", code, e)
		}
		_, raw := adminCall(t, h.srv.URL, "GET", "/v1/admin/auth_providers/acme", nil)
		if got := decode[providerObject](t, raw); got.Description != "added at run time" || got.OAuth2.TokenRequest.Endpoint != idp.TokenEndpoint() {
			t.Errorf("after a refused patch: %s", raw)
		}
		h.connect(idp, "ada", "acme", "read")
	})
}

// TestPatchKeepsOrRotatesTheSecret: a patch without client_secret keeps
// the stored one (the strict stand-in checks it); a patch with one
// replaces it.
func TestPatchKeepsOrRotatesTheSecret(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	first := newIdP(t, h.redirectURI(), adminSecret)
	const rotated = "rotated-client-secret-000000-qrst"
	second := newIdP(t, h.redirectURI(), rotated)
	if code, raw := adminCall(t, h.srv.URL, "POST", "/v1/admin/auth_providers", adminProvider(first, "acme")); code != 201 {
		t.Fatalf("create: HTTP %d %s", code, raw)
	}

	t.Run("a patch without client_secret keeps it", func(t *testing.T) {
		code, raw := adminCall(t, h.srv.URL, "PATCH", "/v1/admin/auth_providers/acme", map[string]any{"description": "renamed"})
		got := decode[providerObject](t, raw)
		if code != 200 || got.Description != "renamed" || got.OAuth2.ClientSecret.Hint != "****wxyz" {
			t.Fatalf("HTTP %d %s", code, raw)
		}
		h.connect(first, "ada", "acme", "read")
	})
	t.Run("sending back the secret's description keeps it", func(t *testing.T) {
		_, current := adminCall(t, h.srv.URL, "GET", "/v1/admin/auth_providers/acme", nil)
		body := decode[map[string]any](t, current)
		code, raw := adminCall(t, h.srv.URL, "PATCH", "/v1/admin/auth_providers/acme", body)
		if code != 200 || decode[providerObject](t, raw).OAuth2.ClientSecret.Hint != "****wxyz" {
			t.Fatalf("HTTP %d %s", code, raw)
		}
		h.connect(first, "bob", "acme", "read")
	})
	t.Run("a patch with client_secret rotates it", func(t *testing.T) {
		moved := adminProvider(second, "acme")["oauth2"].(map[string]any)
		patch := map[string]any{"oauth2": map[string]any{
			"client_secret":     rotated,
			"authorize_request": map[string]any{"endpoint": moved["authorize_request"].(map[string]any)["endpoint"]},
			"token_request":     map[string]any{"endpoint": second.TokenEndpoint()},
			"refresh_request":   map[string]any{"endpoint": second.TokenEndpoint()},
			"user_info_request": map[string]any{"endpoint": second.UserInfoEndpoint()},
		}}
		code, raw := adminCall(t, h.srv.URL, "PATCH", "/v1/admin/auth_providers/acme", patch)
		if code != 200 || decode[providerObject](t, raw).OAuth2.ClientSecret.Hint != "****qrst" {
			t.Fatalf("HTTP %d %s", code, raw)
		}
		h.connect(second, "carol", "acme", "read")
	})
	t.Run("patching an unknown id is provider_not_found", func(t *testing.T) {
		var e apiErr
		code := enginetest.Call(t, nil, h.srv.URL, adminKey, "PATCH", "/v1/admin/auth_providers/nope", map[string]any{"description": "x"}, &e)
		if code != 404 || e.Name != "provider_not_found" {
			t.Errorf("HTTP %d %+v", code, e)
		}
	})
	t.Run("the id cannot be patched", func(t *testing.T) {
		var e apiErr
		code := enginetest.Call(t, nil, h.srv.URL, adminKey, "PATCH", "/v1/admin/auth_providers/acme", map[string]any{"id": "other"}, &e)
		if code != 400 || e.Name != "invalid_provider" || !strings.Contains(e.Message, "id: cannot be changed") {
			t.Errorf("HTTP %d %+v", code, e)
		}
	})
}

// TestStatusAndDelete: inactive answers provider_disabled, active again
// works, and after DELETE authorize answers unknown_provider.
func TestStatusAndDelete(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	idp := newIdP(t, h.redirectURI(), adminSecret)
	if code, raw := adminCall(t, h.srv.URL, "POST", "/v1/admin/auth_providers", adminProvider(idp, "acme")); code != 201 {
		t.Fatalf("create: HTTP %d %s", code, raw)
	}
	authorizeError := func() (int, apiErr) {
		var e apiErr
		code := h.do("POST", "/v1/auth/authorize", authorizeBody("ada", "acme", "read"), &e)
		return code, e
	}
	steps := []struct {
		name     string
		method   string
		body     any
		wantCode int
		wantName string // of the following authorize; "" means it succeeds
	}{
		{"an inactive provider is provider_disabled", "PATCH", map[string]any{"status": "inactive"}, 200, "provider_disabled"},
		{"an active provider works again", "PATCH", map[string]any{"status": "active"}, 200, ""},
		{"a deleted provider is unknown_provider", "DELETE", nil, 200, "unknown_provider"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if code, raw := adminCall(t, h.srv.URL, s.method, "/v1/admin/auth_providers/acme", s.body); code != s.wantCode {
				t.Fatalf("%s: HTTP %d %s", s.method, code, raw)
			}
			code, e := authorizeError()
			switch {
			case s.wantName == "" && code != 200:
				t.Errorf("authorize: HTTP %d %+v, want 200", code, e)
			case s.wantName != "" && e.Name != s.wantName:
				t.Errorf("authorize: HTTP %d %+v, want %s", code, e, s.wantName)
			}
		})
	}
	t.Run("a deleted provider is provider_not_found for the admin API", func(t *testing.T) {
		for _, method := range []string{"GET", "DELETE"} {
			var e apiErr
			if code := enginetest.Call(t, nil, h.srv.URL, adminKey, method, "/v1/admin/auth_providers/acme", nil, &e); code != 404 || e.Name != "provider_not_found" {
				t.Errorf("%s: HTTP %d %+v", method, code, e)
			}
		}
	})
}

// redisNode is one engine on a shared Redis, behind its own server.
type redisNode struct {
	srv    *httptest.Server
	engine *engine.Engine
}

// startRedisNode builds an engine on the Redis store at prefix, with
// publicURL as its public origin, and loads the runtime providers.
func startRedisNode(t *testing.T, redisURL, prefix, publicURL string, key seal.Key, srv *httptest.Server, handler *http.Handler) *redisNode {
	t.Helper()
	st, err := redisstore.Open(redisstore.Config{URL: redisURL, KeyPrefix: prefix}, redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sealer, err := seal.New([]seal.Key{key})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Store: st, Sealer: sealer, PublicURL: publicURL, AllowPrivateEndpoints: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := eng.LoadRuntimeProviders(ctx); err != nil {
		t.Fatal(err)
	}
	*handler = httpapi.New(httpapi.Options{Engine: eng, APIKeys: []string{apiKey}, AdminKeys: []string{adminKey}})
	return &redisNode{srv: srv, engine: eng}
}

// TestRuntimeProvidersReachEveryInstance: two engines share one Redis; a
// provider created, deactivated and deleted on A is seen by B within a
// second, and a flow started on B completes through A's callback.
func TestRuntimeProvidersReachEveryInstance(t *testing.T) {
	redisURL, prefix := redistest.URL(t), redistest.Prefix(t)
	key, _, err := seal.GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	var handlerA, handlerB http.Handler
	srvA := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handlerA.ServeHTTP(w, r) }))
	t.Cleanup(srvA.Close)
	srvB := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handlerB.ServeHTTP(w, r) }))
	t.Cleanup(srvB.Close)
	// Both engines share A's public URL, as instances behind one load
	// balancer do; the provider's callback lands on A.
	a := startRedisNode(t, redisURL, prefix, srvA.URL, key, srvA, &handlerA)
	b := startRedisNode(t, redisURL, prefix, srvA.URL, key, srvB, &handlerB)
	idp := newIdP(t, srvA.URL+"/oauth/callback", adminSecret)

	authorizeOn := func(n *redisNode) (int, authResp, apiErr) {
		var raw json.RawMessage
		code := enginetest.Call(t, nil, n.srv.URL, apiKey, "POST", "/v1/auth/authorize", authorizeBody("ada", "acme", "read"), &raw)
		var ok authResp
		var e apiErr
		_ = json.Unmarshal(raw, &ok)
		_ = json.Unmarshal(raw, &e)
		return code, ok, e
	}
	// within polls B until cond holds, for at most one second.
	within := func(what string, cond func() bool) {
		t.Helper()
		start := time.Now()
		for !cond() {
			if time.Since(start) > time.Second {
				t.Fatalf("engine B did not see %s within a second", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Logf("engine B saw %s after %v", what, time.Since(start).Round(time.Millisecond))
	}

	if code, _, e := authorizeOn(b); code != 404 || e.Name != "unknown_provider" {
		t.Fatalf("before create, B: HTTP %d %+v", code, e)
	}
	if code, raw := adminCall(t, a.srv.URL, "POST", "/v1/admin/auth_providers", adminProvider(idp, "acme")); code != 201 {
		t.Fatalf("create on A: HTTP %d %s", code, raw)
	}
	var started authResp
	within("the created provider", func() bool {
		code, resp, _ := authorizeOn(b)
		started = resp
		return code == 200 && resp.Status == "pending"
	})

	t.Run("a flow started on B completes through A's callback", func(t *testing.T) {
		cb, err := idp.Consent(context.Background(), started.URL)
		if err != nil {
			t.Fatal(err)
		}
		if code, page, _ := enginetest.Browse(t, cb); code != 200 {
			t.Fatalf("callback on A: HTTP %d %s", code, page)
		}
		var done authResp
		code := enginetest.Call(t, nil, b.srv.URL, apiKey, "GET", "/v1/auth/status?id="+url.QueryEscape(started.ID)+"&wait=5", nil, &done)
		if code != 200 || done.Status != "completed" || !idp.ValidAccessToken(done.Token()) {
			t.Fatalf("status on B: HTTP %d %+v", code, done)
		}
	})
	t.Run("deactivating on A reaches B", func(t *testing.T) {
		if code, raw := adminCall(t, a.srv.URL, "PATCH", "/v1/admin/auth_providers/acme", map[string]any{"status": "inactive"}); code != 200 {
			t.Fatalf("patch on A: HTTP %d %s", code, raw)
		}
		within("the deactivation", func() bool { _, _, e := authorizeOn(b); return e.Name == "provider_disabled" })
	})
	t.Run("deleting on A reaches B", func(t *testing.T) {
		if code, raw := adminCall(t, a.srv.URL, "DELETE", "/v1/admin/auth_providers/acme", nil); code != 200 {
			t.Fatalf("delete on A: HTTP %d %s", code, raw)
		}
		within("the deletion", func() bool { _, _, e := authorizeOn(b); return e.Name == "unknown_provider" })
	})
}

// TestConfigProvidersWinOverRuntimeProviders: a stored provider whose id
// an engine.yaml provider took is ignored, and a provider_id lookup finds
// an engine.yaml provider before any runtime one.
func TestConfigProvidersWinOverRuntimeProviders(t *testing.T) {
	var yamlIdP *providertest.Provider
	withYAML := false
	opts := harnessOptions{providers: func(h *harness, redirect string) []config.Provider {
		if !withYAML {
			return nil
		}
		yamlIdP = newIdP(t, redirect, "yaml-client-secret-abcd-9876")
		p := yamlIdP.Config("hooli")
		p.ProviderID = "github"
		return []config.Provider{p}
	}}
	h := newHarness(t, opts)
	runtimeIdP := newIdP(t, h.redirectURI(), adminSecret)

	// Runtime providers: one on the id engine.yaml takes later (as if the
	// operator added hooli to engine.yaml after it was created through the
	// admin API), one built on the github template (the provider_id the
	// engine.yaml one will have) and one on notion.
	for id, catalogID := range map[string]string{"hooli": "", "gh-runtime": "github", "notion-runtime": "notion"} {
		body := adminProvider(runtimeIdP, id)
		body["provider_id"] = catalogID
		if code, raw := adminCall(t, h.srv.URL, "POST", "/v1/admin/auth_providers", body); code != 201 {
			t.Fatalf("create %s: HTTP %d %s", id, code, raw)
		}
	}
	h.store.Close()
	withYAML, opts.dir, opts.key = true, h.dir, &h.key
	h.start(opts)
	if err := h.engine.LoadRuntimeProviders(t.Context()); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name, provider string
		idp            *providertest.Provider
	}{
		{"the engine.yaml id wins over a stored record with the same id", "hooli", yamlIdP},
		{"a provider_id shared by both finds the engine.yaml provider", "github", yamlIdP},
		{"a provider_id only a runtime provider has finds it", "notion", runtimeIdP},
		{"a runtime provider is found by its id", "gh-runtime", runtimeIdP},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := h.authorize("ada-"+tc.provider, tc.provider, "read:user")
			if !strings.HasPrefix(got.URL, tc.idp.AuthorizeEndpoint()+"?") {
				t.Errorf("authorize %s went to %s, want %s", tc.provider, got.URL, tc.idp.AuthorizeEndpoint())
			}
		})
	}
	t.Run("the shadowed record is not listed", func(t *testing.T) {
		_, raw := adminCall(t, h.srv.URL, "GET", "/v1/admin/auth_providers", nil)
		list := decode[struct {
			Items []providerObject `json:"items"`
		}](t, raw)
		var ids []string
		for _, it := range list.Items {
			ids = append(ids, it.ID+"/"+it.Source)
		}
		if strings.Join(ids, ",") != "hooli/config,gh-runtime/admin,notion-runtime/admin" {
			t.Errorf("listed %v", ids)
		}
	})
}

// TestRuntimeProvidersLoadOnceTheStoreAnswers: an engine started while its
// Redis does not answer starts anyway (LoadRuntimeProviders is no error),
// and loads the stored runtime providers once Redis is back, without a
// change being announced.
func TestRuntimeProvidersLoadOnceTheStoreAnswers(t *testing.T) {
	rs := redistest.Private(t, redistest.PrivateOptions{AppendOnly: true})
	prefix := redistest.Prefix(t)
	key, _, err := seal.GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	var handlerA, handlerB http.Handler
	srvA := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handlerA.ServeHTTP(w, r) }))
	t.Cleanup(srvA.Close)
	srvB := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handlerB.ServeHTTP(w, r) }))
	t.Cleanup(srvB.Close)
	a := startRedisNode(t, rs.URL(), prefix, srvA.URL, key, srvA, &handlerA)
	idp := newIdP(t, srvA.URL+"/oauth/callback", adminSecret)
	if code, raw := adminCall(t, a.srv.URL, "POST", "/v1/admin/auth_providers", adminProvider(idp, "acme")); code != 201 {
		t.Fatalf("create on A: HTTP %d %s", code, raw)
	}

	rs.Stop()
	b := startRedisNode(t, rs.URL(), prefix, srvA.URL, key, srvB, &handlerB) // fails t if LoadRuntimeProviders errs
	var e apiErr
	if code := enginetest.Call(t, nil, b.srv.URL, apiKey, "POST", "/v1/auth/authorize", authorizeBody("ada", "acme", "read"), &e); code != 503 || e.Name != "store_unavailable" {
		t.Fatalf("authorize for a runtime provider not loaded yet, store down: HTTP %d %+v, want 503 store_unavailable", code, e)
	}
	rs.Start()
	deadline := time.Now().Add(30 * time.Second) // generous: the retry pause grows to 10 s
	for {
		var ok authResp
		code := enginetest.Call(t, nil, b.srv.URL, apiKey, "POST", "/v1/auth/authorize", authorizeBody("ada", "acme", "read"), &ok)
		if code == 200 && ok.Status == "pending" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("B did not load the runtime provider after the store came back: HTTP %d", code)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
