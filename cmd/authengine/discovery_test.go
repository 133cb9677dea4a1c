package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/authengine/authengine/internal/enginetest"
	"github.com/authengine/authengine/internal/providertest"
)

// TestServeWithAnIssuerOnly: a provider given only its issuer and client
// credentials completes a real authorization through the engine's API;
// a later start while the issuer does not answer uses the metadata kept
// sealed in the store, while check (which has no store) names the field.
func TestServeWithAnIssuerOnly(t *testing.T) {
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	var down atomic.Bool
	var target atomic.Pointer[url.URL]
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		httputil.NewSingleHostReverseProxy(target.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	idp := providertest.New(t, providertest.Options{RedirectURI: base + "/oauth/callback", RequirePKCE: true,
		OIDC: &providertest.OIDC{Issuer: front.URL}, UserInfo: map[string]any{"sub": "ada-at-hooli"}})
	u, _ := url.Parse(idp.URL())
	target.Store(u)

	cfg := serveConfig(t, port, base, fmt.Sprintf(`
    - id: hooli
      client_id: %s
      client_secret: %s
      oauth2: {issuer: %q}`, idp.ClientID(), idp.ClientSecret(), front.URL))

	serveWhile(t, cfg, base, func(key string) {
		var a enginetest.AuthResponse
		if code := enginetest.Call(t, nil, base, key, "POST", "/v1/auth/authorize", enginetest.AuthorizeBody("ada", "hooli"), &a); code != 200 || a.URL == "" {
			t.Fatalf("authorize: HTTP %d %+v", code, a)
		}
		if !strings.HasPrefix(a.URL, idp.AuthorizeEndpoint()+"?") {
			t.Fatalf("authorization URL %s, want the discovered endpoint %s", a.URL, idp.AuthorizeEndpoint())
		}
		callback, err := idp.Consent(t.Context(), a.URL)
		if err != nil {
			t.Fatal(err)
		}
		if code, _, _ := enginetest.Browse(t, callback); code >= 400 {
			t.Fatalf("callback: HTTP %d", code)
		}
		var done enginetest.AuthResponse
		enginetest.Call(t, nil, base, key, "GET", "/v1/auth/status?id="+url.QueryEscape(a.ID)+"&wait=5", nil, &done)
		if done.Status != "completed" || done.Token() == "" || done.Context.UserInfo["sub"] != "ada-at-hooli" {
			t.Fatalf("status = %+v, want completed with a token and the user info", done)
		}
	})

	down.Store(true)
	logs := serveWhile(t, cfg, base, func(key string) {
		var a enginetest.AuthResponse
		if code := enginetest.Call(t, nil, base, key, "POST", "/v1/auth/authorize", enginetest.AuthorizeBody("bob", "hooli"), &a); code != 200 || !strings.HasPrefix(a.URL, idp.AuthorizeEndpoint()+"?") {
			t.Fatalf("authorize with the issuer down: HTTP %d %+v", code, a)
		}
	})
	if !strings.Contains(logs, "using the metadata kept at an earlier start") {
		t.Errorf("the start with the issuer down did not say it used the kept metadata:\n%s", logs)
	}
	code, _, errOut := runCmd(t, "check", "-c", cfg)
	if code == 0 || !strings.Contains(errOut, "auth.providers[hooli].oauth2.issuer") || !strings.Contains(errOut, "could not be fetched") {
		t.Fatalf("check with the issuer down: exit %d, want a failure naming auth.providers[hooli].oauth2.issuer:\n%s", code, errOut)
	}
	if idp.Counts().CodeExchanges != 1 || len(idp.Violations()) > 0 {
		t.Fatalf("stand-in: %+v, violations %v", idp.Counts(), idp.Violations())
	}
}
