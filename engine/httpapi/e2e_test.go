package httpapi_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/internal/providertest"
)

// TestEndToEnd drives the whole engine through its HTTP API against strict
// stand-in providers of several real shapes: start, consent in the
// "browser", callback, wait for completion, then expiry and exactly one
// refresh for 100 concurrent callers.
func TestEndToEnd(t *testing.T) {
	shapes := []struct {
		name string
		opts providertest.Options
	}{
		{"a JSON provider with PKCE, Basic client auth and rotating refresh tokens", providertest.Options{
			ClientAuth: providertest.ClientSecretBasic, RequirePKCE: true, RotateRefreshTokens: true}},
		{"a provider nesting the token under data", providertest.Options{
			ClientAuth: providertest.ClientSecretPost, Quirks: providertest.Quirks{NestUnder: "data"}}},
		{"a provider answering form-encoded bodies", providertest.Options{
			ClientAuth: providertest.ClientSecretPost, Quirks: providertest.Quirks{FormEncoded: true}}},
		{"a provider returning scopes as an array", providertest.Options{
			ClientAuth: providertest.ClientSecretBasic, RequirePKCE: true, Quirks: providertest.Quirks{ArrayScopes: true}}},
		{"a provider taking JSON bodies and sending expires_in as a string", providertest.Options{
			ClientAuth: providertest.ClientSecretBasic, Quirks: providertest.Quirks{JSONRequestBody: true, StringExpiresIn: true}}},
		{"a Slack-like provider nesting under authed_user with comma scopes and errors as 200", providertest.Options{
			ClientAuth: providertest.ClientSecretPost, RotateRefreshTokens: true,
			Quirks: providertest.Quirks{NestUnder: "authed_user", ScopeDelimiter: ",", ErrorsWith200: true}}},
	}
	for _, shape := range shapes {
		t.Run(shape.name, func(t *testing.T) {
			var idp *providertest.Provider
			h := newHarness(t, harnessOptions{providers: func(h *harness, redirect string) []config.Provider {
				o := shape.opts
				o.RedirectURI = redirect
				o.AccessTokenTTL = time.Hour
				o.UserInfo = map[string]any{"sub": "u-42", "email": "ada@example.com"}
				o.Now = h.clock.Now
				idp = providertest.New(t, o)
				return []config.Provider{idp.Config("hooli")}
			}})

			done := h.connect(idp, "ada", "hooli", "read", "write")
			first := done.Token()
			if !idp.ValidAccessToken(first) {
				t.Fatalf("wait returned a token the provider did not issue")
			}
			if done.Context.UserInfo["email"] != "ada@example.com" {
				t.Errorf("user_info = %v, want the provider's user info", done.Context.UserInfo)
			}

			again := h.authorize("ada", "hooli", "read")
			if again.Status != "completed" || again.Token() != first {
				t.Fatalf("authorize for a connected user: got %s with a different token, want completed with the stored token", again.Status)
			}

			h.clock.Advance(2 * time.Hour)
			const callers = 100
			tokens := make([]string, callers)
			var wg sync.WaitGroup
			for i := range callers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var out authResp
					if code := h.do("POST", "/v1/auth/authorize", authorizeBody("ada", "hooli", "read"), &out); code != 200 || out.Status != "completed" {
						t.Errorf("concurrent authorize %d: HTTP %d status %q", i, code, out.Status)
						return
					}
					tokens[i] = out.Token()
				}()
			}
			wg.Wait()
			if got := idp.Counts().Refreshes; got != 1 {
				t.Fatalf("provider saw %d refreshes for %d concurrent callers, want exactly 1", got, callers)
			}
			for i, tok := range tokens {
				if tok == first || !idp.ValidAccessToken(tok) || tok != tokens[0] {
					t.Fatalf("caller %d did not get the one refreshed token", i)
				}
			}
			if got := idp.Counts().Replays; got != 0 {
				t.Errorf("provider saw %d replays, want none", got)
			}
		})
	}
}

// TestWaitHoldsUntilCallback shows a status wait returns as soon as the
// callback completes the flow, and a wait that times out answers pending.
func TestWaitHoldsUntilCallback(t *testing.T) {
	var idp *providertest.Provider
	h := newHarness(t, harnessOptions{providers: func(h *harness, redirect string) []config.Provider {
		idp = providertest.New(t, providertest.Options{RedirectURI: redirect, RequirePKCE: true, ClientAuth: providertest.ClientSecretBasic})
		return []config.Provider{idp.Config("hooli")}
	}})
	start := h.authorize("bo", "hooli")

	var timedOut authResp
	began := time.Now()
	if code := h.do("GET", "/v1/auth/status?id="+start.ID+"&wait=1", nil, &timedOut); code != 200 || timedOut.Status != "pending" || timedOut.URL == "" {
		t.Fatalf("wait that times out: HTTP %d %+v, want 200 pending with url", code, timedOut)
	}
	if time.Since(began) < 900*time.Millisecond {
		t.Errorf("wait=1 returned after %s, want it held about a second", time.Since(began))
	}

	result := make(chan authResp, 1)
	go func() {
		var out authResp
		h.do("GET", "/v1/auth/status?id="+start.ID+"&wait=30", nil, &out)
		result <- out
	}()
	time.Sleep(100 * time.Millisecond)
	cb, err := idp.Consent(t.Context(), start.URL)
	if err != nil {
		t.Fatal(err)
	}
	completedAt := time.Now()
	h.browse(cb)
	select {
	case out := <-result:
		if out.Status != "completed" || !idp.ValidAccessToken(out.Token()) {
			t.Fatalf("waiter got %+v, want completed with the issued token", out)
		}
		if d := time.Since(completedAt); d > 2*time.Second {
			t.Errorf("waiter returned %s after the callback", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiter did not return after the callback completed the flow")
	}
}

// TestMoreScopesStartUnionFlow shows asking for more scopes than held
// starts a flow for the union.
func TestMoreScopesStartUnionFlow(t *testing.T) {
	var idp *providertest.Provider
	h := newHarness(t, harnessOptions{providers: func(h *harness, redirect string) []config.Provider {
		idp = providertest.New(t, providertest.Options{RedirectURI: redirect, ClientAuth: providertest.ClientSecretBasic})
		return []config.Provider{idp.Config("hooli")}
	}})
	h.connect(idp, "cy", "hooli", "read")
	more := h.authorize("cy", "hooli", "write")
	if more.Status != "pending" {
		t.Fatalf("asking for an unheld scope: status %s, want pending", more.Status)
	}
	if fmt.Sprint(more.Scopes) != "[write read]" {
		t.Errorf("flow scopes = %v, want the union [write read]", more.Scopes)
	}
}

// TestProviderLookup: a provider is found by its id, or else by its
// built-in catalog id; default scopes are always requested.
func TestProviderLookup(t *testing.T) {
	var idp *providertest.Provider
	h := newHarness(t, harnessOptions{providers: func(h *harness, redirect string) []config.Provider {
		idp = providertest.New(t, providertest.Options{RedirectURI: redirect, ClientAuth: providertest.ClientSecretBasic})
		p := idp.Config("my-github")
		p.ProviderID = "github"
		p.OAuth2.DefaultScopes = []string{"openid"}
		return []config.Provider{p}
	}})
	byCatalog := h.authorize("ada", "github", "repo")
	if byCatalog.Status != "pending" || byCatalog.ProviderID != "my-github" {
		t.Fatalf("lookup by catalog id: %+v, want a pending flow on my-github", byCatalog)
	}
	if fmt.Sprint(byCatalog.Scopes) != "[openid repo]" {
		t.Errorf("scopes = %v, want the default scope first, then the requested one", byCatalog.Scopes)
	}
	var out authResp
	body := map[string]any{"user_id": "ada", "auth_requirement": map[string]any{"id": "my-github", "provider_id": "github"}}
	if code := h.do("POST", "/v1/auth/authorize", body, &out); code != 200 || out.ProviderID != "my-github" {
		t.Fatalf("lookup by id with provider_id set too: HTTP %d %+v", code, out)
	}
}
