package httpapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/internal/providertest"
)

// TestBadInput sends every mistake a caller can make and asserts the status,
// the stable error name, and that nothing was stored.
func TestBadInput(t *testing.T) {
	var idp *providertest.Provider
	h := newHarness(t, harnessOptions{
		disabled: []string{"retired"},
		providers: func(h *harness, redirect string) []config.Provider {
			idp = providertest.New(t, providertest.Options{RedirectURI: redirect, ClientAuth: providertest.ClientSecretBasic})
			p := idp.Config("hooli")
			p.OAuth2.AllowedScopes = []string{"read", "write", "repo:*"}
			return []config.Provider{p}
		},
	})
	big := `{"user_id": "` + strings.Repeat("x", 70<<10) + `"}`
	cases := []struct {
		name    string
		key     string
		method  string
		path    string
		body    any
		status  int
		errName string
	}{
		{"a request without an API key is refused", "", "POST", "/v1/auth/authorize", authorizeBody("u", "hooli"), 401, "unauthorized"},
		{"a request with a wrong API key is refused", "wrong-key", "POST", "/v1/auth/authorize", authorizeBody("u", "hooli"), 401, "unauthorized"},
		{"an admin route with an app key is refused", apiKey, "GET", "/v1/admin/user_connections", nil, 401, "unauthorized"},
		{"a malformed JSON body names the problem", apiKey, "POST", "/v1/auth/authorize", `{"user_id": `, 400, "invalid_json"},
		{"an empty body is refused", apiKey, "POST", "/v1/auth/authorize", "", 400, "invalid_json"},
		{"a field of the wrong type is refused", apiKey, "POST", "/v1/auth/authorize", `{"user_id": 7}`, 400, "invalid_json"},
		{"an oversized body is refused", apiKey, "POST", "/v1/auth/authorize", big, 413, "request_too_large"},
		{"a missing user id is refused", apiKey, "POST", "/v1/auth/authorize", authorizeBody("", "hooli"), 400, "invalid_request"},
		{"a missing provider is refused", apiKey, "POST", "/v1/auth/authorize", authorizeBody("u", ""), 400, "invalid_request"},
		{"an unknown provider is refused", apiKey, "POST", "/v1/auth/authorize", authorizeBody("u", "nope"), 404, "unknown_provider"},
		{"a disabled provider is refused", apiKey, "POST", "/v1/auth/authorize", authorizeBody("u", "retired"), 400, "provider_disabled"},
		{"a scope outside the allowed patterns is refused", apiKey, "POST", "/v1/auth/authorize", authorizeBody("u", "hooli", "admin"), 400, "scope_not_allowed"},
		{"an unsupported provider type is refused", apiKey, "POST", "/v1/auth/authorize", map[string]any{"user_id": "u", "auth_requirement": map[string]any{"provider_id": "hooli", "provider_type": "saml"}}, 400, "unsupported_provider_type"},
		{"a next_uri on a foreign origin is refused", apiKey, "POST", "/v1/auth/authorize", map[string]any{"user_id": "u", "auth_requirement": map[string]any{"provider_id": "hooli"}, "next_uri": "https://evil.example/x"}, 400, "invalid_next_uri"},
		{"a user_id over the length limit is refused (TestAttack_HugeUserIDFillsStore)", apiKey, "POST", "/v1/auth/authorize", authorizeBody(strings.Repeat("u", 257), "hooli"), 400, "field_too_long"},
		{"a next_uri over the length limit is refused", apiKey, "POST", "/v1/auth/authorize", map[string]any{"user_id": "u", "auth_requirement": map[string]any{"provider_id": "hooli"}, "next_uri": h.srv.URL + "/" + strings.Repeat("n", 2100)}, 400, "field_too_long"},
		{"a scope over the length limit is refused", apiKey, "POST", "/v1/auth/authorize", authorizeBody("u", "hooli", "repo:"+strings.Repeat("s", 300)), 400, "field_too_long"},
		{"a provider id longer than any provider's is refused, not echoed (TestAttack_HugeProviderIDEchoedInError)", apiKey, "POST", "/v1/auth/authorize", authorizeBody("u", strings.Repeat("p", 60<<10)), 400, "field_too_long"},
		{"a long unsupported provider type is refused, not echoed", apiKey, "POST", "/v1/auth/authorize", map[string]any{"user_id": "u", "auth_requirement": map[string]any{"provider_id": "hooli", "provider_type": strings.Repeat("t", 60<<10)}}, 400, "unsupported_provider_type"},
		{"more scopes than the limit are refused", apiKey, "POST", "/v1/auth/authorize", authorizeBody("u", "hooli", manyScopes(65)...), 400, "too_many_scopes"},
		{"a runtime provider id over the length limit is refused", adminKey, "POST", "/v1/admin/auth_providers", map[string]any{"id": strings.Repeat("p", 65), "provider_id": "github", "client_id": "c", "client_secret": "s"}, 400, "invalid_provider"},
		{"an unknown flow id is not found", apiKey, "GET", "/v1/auth/status?id=does-not-exist", nil, 404, "flow_not_found"},
		{"a status request without an id is refused", apiKey, "GET", "/v1/auth/status", nil, 400, "invalid_request"},
		{"a negative wait is read as none, as a wait over 59 is read as 59", apiKey, "GET", "/v1/auth/status?id=x&wait=-3", nil, 404, "flow_not_found"},
		{"a wait beyond int64 is clamped, not refused", apiKey, "GET", "/v1/auth/status?id=x&wait=99999999999999999999", nil, 404, "flow_not_found"},
		{"a fractional wait is refused", apiKey, "GET", "/v1/auth/status?id=x&wait=1.5", nil, 400, "invalid_request"},
		{"a non-numeric wait is refused", apiKey, "GET", "/v1/auth/status?id=x&wait=soon", nil, 400, "invalid_request"},
		{"confirm_user without a flow is refused", apiKey, "POST", "/v1/auth/confirm_user", map[string]any{"user_id": "u"}, 400, "invalid_request"},
		{"confirm_user for an unknown flow is not found", apiKey, "POST", "/v1/auth/confirm_user", map[string]any{"flow_id": "nope", "user_id": "u"}, 404, "flow_not_found"},
		{"an unknown route is not found", apiKey, "GET", "/v1/nothing", nil, 404, "not_found"},
		{"deleting an unknown connection is not found", adminKey, "DELETE", "/v1/admin/user_connections/nope", nil, 404, "connection_not_found"},
		{"a bad page limit is refused", adminKey, "GET", "/v1/admin/user_connections?limit=0", nil, 400, "invalid_request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out apiErr
			code := h.doKey(c.key, c.method, c.path, c.body, &out)
			if code != c.status || out.Name != c.errName {
				t.Fatalf("HTTP %d %q (%s), want %d %q", code, out.Name, out.Message, c.status, c.errName)
			}
			if out.Message == "" {
				t.Error("error has no message")
			}
			if len(out.Message) > 1024 {
				t.Errorf("the message is %d bytes: it echoes the input", len(out.Message))
			}
			if n := h.connections(); n != 0 {
				t.Errorf("%d connections stored after a bad request, want 0", n)
			}
		})
	}
	if c := idp.Counts(); c.CodeExchanges+c.Refreshes+c.ClientCredentials != 0 {
		t.Errorf("bad input reached the provider: %+v", c)
	}
	t.Run("the bare API key is accepted, as Arcade's JS client sends it", func(t *testing.T) {
		req, _ := http.NewRequest("GET", h.srv.URL+"/v1/auth/status?id=nope", nil)
		req.Header.Set("Authorization", apiKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Fatalf("bare key: HTTP %d, want 404 flow_not_found (authenticated)", resp.StatusCode)
		}
	})
}

// TestCallbackFailures covers what can go wrong once the browser comes
// back: forged, replayed and expired state, a denied consent, and provider
// failures. Each ends with a clear answer and nothing stored.
func TestCallbackFailures(t *testing.T) {
	var idp *providertest.Provider
	newEngine := func(t *testing.T, mod func(*config.Provider)) *harness {
		return newHarness(t, harnessOptions{timeout: 500 * time.Millisecond, providers: func(h *harness, redirect string) []config.Provider {
			idp = providertest.New(t, providertest.Options{RedirectURI: redirect, ClientAuth: providertest.ClientSecretBasic, RequirePKCE: true})
			p := idp.Config("hooli")
			if mod != nil {
				mod(&p)
			}
			return []config.Provider{p}
		}})
	}

	t.Run("a forged state gets a 400 page and stores nothing", func(t *testing.T) {
		h := newEngine(t, nil)
		h.authorize("u", "hooli")
		code, page, _ := h.browse(h.srv.URL + "/oauth/callback?code=abc&state=forged")
		if code != 400 || !strings.Contains(page, "expired or already used") {
			t.Fatalf("forged state: HTTP %d %q", code, page)
		}
		if h.connections() != 0 {
			t.Error("a forged callback stored a connection")
		}
	})

	t.Run("a replayed callback is refused and the code is not redeemed twice", func(t *testing.T) {
		h := newEngine(t, nil)
		start := h.authorize("u", "hooli")
		cb, err := idp.Consent(t.Context(), start.URL)
		if err != nil {
			t.Fatal(err)
		}
		if code, _, _ := h.browse(cb); code != 200 {
			t.Fatalf("first callback: HTTP %d", code)
		}
		if code, _, _ := h.browse(cb); code != 400 {
			t.Fatalf("replayed callback: HTTP %d, want 400", code)
		}
		if n := idp.Counts().CodeExchanges; n != 1 {
			t.Errorf("provider saw %d code exchanges, want 1", n)
		}
	})

	t.Run("an expired flow's state is refused", func(t *testing.T) {
		h := newEngine(t, nil)
		start := h.authorize("u", "hooli")
		cb, err := idp.Consent(t.Context(), start.URL)
		if err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(11 * time.Minute)
		if code, _, _ := h.browse(cb); code != 400 {
			t.Fatalf("expired state: HTTP %d, want 400", code)
		}
		if h.connections() != 0 {
			t.Error("an expired flow stored a connection")
		}
	})

	t.Run("TestAttack_ProviderErrorDescriptionOnEngineOrigin: the page shows the engine's wording, the app gets the description", func(t *testing.T) {
		h := newEngine(t, nil)
		start := h.authorize("u", "hooli")
		u, err := url.Parse(start.URL)
		if err != nil {
			t.Fatal(err)
		}
		lure := "Your account is locked. Call 0800 555 0199 to unlock it"
		q := url.Values{"state": {u.Query().Get("state")}, "error": {"access_denied"}, "error_description": {lure}}
		code, page, _ := h.browse(h.srv.URL + "/oauth/callback?" + q.Encode())
		if code != 400 || !strings.Contains(page, "hooli was not connected") || !strings.Contains(page, "declined") {
			t.Fatalf("callback: HTTP %d %q, want the engine's access_denied page", code, page)
		}
		if strings.Contains(page, "0800") || strings.Contains(page, "locked") {
			t.Fatalf("the provider's error_description reached the page: %q", page)
		}
		var st authResp
		if code := h.do("GET", "/v1/auth/status?id="+start.ID, nil, &st); code != 200 || !strings.Contains(st.Reason, lure) {
			t.Fatalf("status: HTTP %d %+v, want the description kept in the flow's reason for the app", code, st)
		}
	})

	failures := []struct {
		name   string
		mod    func(*config.Provider)
		before func(*harness)
		deny   bool
		reason string
	}{
		{name: "a user who denies consent fails the flow with access_denied", deny: true, reason: "access_denied"},
		{name: "a token endpoint answering 500 fails the flow", before: func(*harness) { idp.FailNext(1, 500, "server_error") }, reason: "server_error"},
		{name: "a token endpoint refusing the client fails the flow", before: func(*harness) { idp.FailNext(1, 401, "invalid_client") }, reason: "invalid_client"},
		{name: "a token response without the mapped access token fails the flow", mod: func(p *config.Provider) {
			p.OAuth2.TokenRequest.ResponseMap = map[string]string{"access_token": "$.data.access_token", "expires_in": "$.expires_in"}
		}, reason: "$.data.access_token"},
		{name: "a provider that does not answer in time fails the flow", before: func(*harness) { idp.SetDelay(2 * time.Second) }, reason: "did not answer in time"},
	}
	for _, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			h := newEngine(t, f.mod)
			start := h.authorize("u", "hooli")
			var cb string
			var err error
			if f.deny {
				cb, err = idp.Deny(t.Context(), start.URL)
			} else {
				cb, err = idp.Consent(t.Context(), start.URL)
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.before != nil {
				f.before(h)
			}
			code, page, _ := h.browse(cb)
			if code != 400 || !strings.Contains(page, "hooli was not connected") || !strings.Contains(page, "from the app") {
				t.Fatalf("callback: HTTP %d %q, want the failure page", code, page)
			}
			var st authResp
			if code := h.do("GET", "/v1/auth/status?id="+start.ID, nil, &st); code != 200 || st.Status != "failed" || !strings.Contains(st.Reason, f.reason) {
				t.Fatalf("status: HTTP %d %+v, want failed with a reason containing %q", code, st, f.reason)
			}
			var gone apiErr
			if code := h.do("GET", "/v1/auth/status?id="+start.ID+"&wait=5", nil, &gone); code != 410 || gone.Name != "flow_failed" || !strings.Contains(gone.Message, f.reason) {
				t.Fatalf("wait on a failed flow: HTTP %d %+v, want 410 flow_failed with the reason", code, gone)
			}
			if h.connections() != 0 {
				t.Error("a failed flow stored a connection")
			}
		})
	}
}

// TestStoreUnavailable shows a store that stopped answering gives 503
// store_unavailable on the API and on health.
func TestStoreUnavailable(t *testing.T) {
	h := newHarness(t, harnessOptions{providers: func(h *harness, redirect string) []config.Provider {
		idp := providertest.New(t, providertest.Options{RedirectURI: redirect, ClientAuth: providertest.ClientSecretBasic})
		return []config.Provider{idp.Config("hooli")}
	}})
	h.store.Close()
	var out apiErr
	if code := h.do("POST", "/v1/auth/authorize", authorizeBody("u", "hooli"), &out); code != 503 || out.Name != "store_unavailable" {
		t.Fatalf("authorize on a closed store: HTTP %d %+v, want 503 store_unavailable", code, out)
	}
	var health map[string]any
	if code := h.do("GET", "/v1/health", nil, &health); code != 503 || health["healthy"] != false {
		t.Fatalf("health on a closed store: HTTP %d %v", code, health)
	}
}

func manyScopes(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("repo:%d", i)
	}
	return out
}

// TestBadBodiesAnsweredAlike: the authorize route reads its body with
// bindPlainJSON (a reused buffer and json.Unmarshal), the others with a
// json.Decoder; a bad body gets the same answer on both.
func TestBadBodiesAnsweredAlike(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	for _, body := range []string{"", "   \n", `{"user_id": `, `{"user_id": 7}`, `[1]`, `"x"`, `{"user_id": "u"} {}`, `{"user_id": x}`, `{"user_id" "u"}`} {
		var plain, decoded apiErr
		pc := h.do("POST", "/v1/auth/authorize", body, &plain)
		dc := h.do("POST", "/v1/auth/confirm_user", body, &decoded)
		if pc != 400 || dc != 400 || plain != decoded {
			t.Errorf("body %q: authorize HTTP %d %+v, confirm_user HTTP %d %+v, want the same 400", body, pc, plain, dc, decoded)
		}
	}
}
