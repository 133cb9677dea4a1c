package httpapi_test

import (
	"bytes"
	"encoding/base64"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/internal/providertest"
)

// TestRestartKeepsSealedTokens restarts the engine on the same data dir:
// the token is still there, and the raw file never holds it in the clear.
func TestRestartKeepsSealedTokens(t *testing.T) {
	var idp *providertest.Provider
	opts := harnessOptions{providers: func(h *harness, redirect string) []config.Provider {
		if idp == nil {
			idp = providertest.New(t, providertest.Options{RedirectURI: redirect, ClientAuth: providertest.ClientSecretBasic, RequirePKCE: true,
				AccessTokenTTL: time.Hour, UserInfo: map[string]any{"email": "ada@example.com"}})
		}
		return []config.Provider{idp.Config("hooli")}
	}}
	h := newHarness(t, opts)
	done := h.connect(idp, "ada", "hooli", "read")
	token := done.Token()

	h.store.Close()
	opts.dir, opts.key = h.dir, &h.key
	h.start(opts)

	again := h.authorize("ada", "hooli", "read")
	if again.Status != "completed" || again.Token() != token {
		t.Fatalf("after restart: %s, want completed with the same token", again.Status)
	}
	h.store.Close()
	raw, err := os.ReadFile(filepath.Join(h.dir, "authengine.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{token, idp.ClientSecret(), "ada@example.com"} {
		for _, form := range []string{secret, base64.StdEncoding.EncodeToString([]byte(secret))} {
			if bytes.Contains(raw, []byte(form)) {
				t.Errorf("the store file holds a secret in the clear (%d bytes)", len(secret))
			}
		}
	}
}

// TestLogsHoldNoSecrets runs a full flow, a refresh and a failure with
// debug logging and scans every log line for secrets.
func TestLogsHoldNoSecrets(t *testing.T) {
	var idp *providertest.Provider
	h := newHarness(t, harnessOptions{providers: func(h *harness, redirect string) []config.Provider {
		idp = providertest.New(t, providertest.Options{RedirectURI: redirect, ClientAuth: providertest.ClientSecretPost, RequirePKCE: true,
			RotateRefreshTokens: true, AccessTokenTTL: time.Hour, Now: h.clock.Now})
		return []config.Provider{idp.Config("hooli")}
	}})
	start := h.authorize("ada", "hooli", "read")
	cb, err := idp.Consent(t.Context(), start.URL)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(cb)
	code, state := u.Query().Get("code"), u.Query().Get("state")
	authURL, _ := url.Parse(start.URL)
	h.browse(cb)
	h.browse(cb) // replay
	var done authResp
	h.do("GET", "/v1/auth/status?id="+start.ID+"&wait=5", nil, &done)
	h.clock.Advance(2 * time.Hour)
	refreshed := h.authorize("ada", "hooli", "read")
	idp.FailNext(1, 400, "invalid_grant")
	h.clock.Advance(2 * time.Hour)
	h.authorize("ada", "hooli", "read")

	logs := h.logs.String()
	if !strings.Contains(logs, "authorization flow completed") || !strings.Contains(logs, "token refreshed") {
		t.Fatalf("the scan saw no flow logs; is debug logging wired? logs:\n%s", logs)
	}
	secrets := map[string]string{
		"client secret":  idp.ClientSecret(),
		"code":           code,
		"state":          state,
		"code challenge": authURL.Query().Get("code_challenge"),
		"access token":   done.Token(),
		"new token":      refreshed.Token(),
	}
	for name, s := range secrets {
		if s == "" {
			t.Fatalf("test setup: %s is empty", name)
		}
		if strings.Contains(logs, s) {
			t.Errorf("the logs hold the %s", name)
		}
	}
}

// TestRefreshFailures: invalid_grant marks the connection needs_reauth (the
// next authorize starts a flow); a 5xx keeps the old state and answers a
// retryable 503.
func TestRefreshFailures(t *testing.T) {
	var idp *providertest.Provider
	h := newHarness(t, harnessOptions{providers: func(h *harness, redirect string) []config.Provider {
		idp = providertest.New(t, providertest.Options{RedirectURI: redirect, ClientAuth: providertest.ClientSecretBasic,
			AccessTokenTTL: time.Hour, Now: h.clock.Now})
		return []config.Provider{idp.Config("hooli")}
	}})
	h.connect(idp, "ada", "hooli")
	h.clock.Advance(2 * time.Hour)

	idp.FailNext(1, 503, "temporarily_unavailable")
	var out apiErr
	if code := h.do("POST", "/v1/auth/authorize", authorizeBody("ada", "hooli"), &out); code != 503 || out.Name != "provider_unavailable" {
		t.Fatalf("refresh on a 503: HTTP %d %+v, want 503 provider_unavailable", code, out)
	}
	ok := h.authorize("ada", "hooli")
	if ok.Status != "completed" || !idp.ValidAccessToken(ok.Token()) {
		t.Fatalf("after the provider recovered: %s, want completed with a refreshed token", ok.Status)
	}

	h.clock.Advance(2 * time.Hour)
	idp.FailNext(1, 400, "invalid_grant")
	next := h.authorize("ada", "hooli")
	if next.Status != "pending" || next.URL == "" {
		t.Fatalf("after invalid_grant: %s, want a new pending flow", next.Status)
	}
	var list struct {
		Items []map[string]any `json:"items"`
	}
	h.doKey(adminKey, "GET", "/v1/admin/user_connections?user_id=ada", nil, &list)
	if len(list.Items) != 1 || list.Items[0]["connection_status"] != "needs_reauth" {
		t.Fatalf("connections after invalid_grant: %v, want one needs_reauth", list.Items)
	}
}

// TestUserVerification: with verification on, a flow completes only when
// the app confirms the same user; a different user fails it and nothing is
// stored.
func TestUserVerification(t *testing.T) {
	var idp *providertest.Provider
	h := newHarness(t, harnessOptions{verifierURL: "https://app.example/verify", providers: func(h *harness, redirect string) []config.Provider {
		idp = providertest.New(t, providertest.Options{RedirectURI: redirect, ClientAuth: providertest.ClientSecretBasic})
		return []config.Provider{idp.Config("hooli")}
	}})
	finish := func(t *testing.T, user string) (authResp, string) {
		before := h.connections()
		start := h.authorize(user, "hooli")
		cb, err := idp.Consent(t.Context(), start.URL)
		if err != nil {
			t.Fatal(err)
		}
		code, _, loc := h.browse(cb)
		if code != 303 || !strings.HasPrefix(loc, "https://app.example/verify?flow_id=") {
			t.Fatalf("callback: HTTP %d to %q, want 303 to the verifier", code, loc)
		}
		var st authResp
		h.do("GET", "/v1/auth/status?id="+start.ID, nil, &st)
		if st.Status != "pending" || h.connections() != before {
			t.Fatalf("before confirmation: %s with %d connections, want pending and none added", st.Status, h.connections())
		}
		return start, strings.TrimPrefix(loc, "https://app.example/verify?flow_id=")
	}

	t.Run("a matching confirmation completes the flow", func(t *testing.T) {
		start, flowID := finish(t, "ada")
		var out map[string]string
		if code := h.do("POST", "/v1/auth/confirm_user", map[string]string{"flow_id": flowID, "user_id": "ada"}, &out); code != 200 || out["auth_id"] != flowID {
			t.Fatalf("confirm: HTTP %d %v", code, out)
		}
		var st authResp
		h.do("GET", "/v1/auth/status?id="+start.ID, nil, &st)
		if st.Status != "completed" || !idp.ValidAccessToken(st.Token()) {
			t.Fatalf("after confirm: %+v, want completed with the token", st)
		}
	})
	t.Run("a mismatching confirmation fails the flow and stores nothing", func(t *testing.T) {
		before := h.connections()
		start, flowID := finish(t, "bo")
		var out apiErr
		if code := h.do("POST", "/v1/auth/confirm_user", map[string]string{"flow_id": flowID, "user_id": "mallory"}, &out); code != 403 || out.Name != "user_mismatch" {
			t.Fatalf("mismatching confirm: HTTP %d %+v, want 403 user_mismatch", code, out)
		}
		var st authResp
		h.do("GET", "/v1/auth/status?id="+start.ID, nil, &st)
		if st.Status != "failed" || h.connections() != before {
			t.Fatalf("after mismatch: %s with %d connections, want failed and none added", st.Status, h.connections())
		}
		if code := h.do("POST", "/v1/auth/confirm_user", map[string]string{"flow_id": flowID, "user_id": "bo"}, &out); code != 409 {
			t.Fatalf("confirming a failed flow: HTTP %d, want 409", code)
		}
	})
}

// TestClientCredentials: a client-credentials provider answers completed
// with the service token and no browser step; 100 concurrent callers cause
// one token request.
func TestClientCredentials(t *testing.T) {
	var idp *providertest.Provider
	h := newHarness(t, harnessOptions{providers: func(h *harness, redirect string) []config.Provider {
		idp = providertest.New(t, providertest.Options{RedirectURI: redirect, ClientAuth: providertest.ClientSecretBasic,
			AccessTokenTTL: time.Hour, Now: h.clock.Now})
		return []config.Provider{idp.ClientCredentialsConfig("hooli-service")}
	}})
	var wg sync.WaitGroup
	tokens := make([]string, 100)
	for i := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out authResp
			h.do("POST", "/v1/auth/authorize", authorizeBody("svc-caller", "hooli-service", "read"), &out)
			tokens[i] = out.Token()
		}()
	}
	wg.Wait()
	if n := idp.Counts().ClientCredentials; n != 1 {
		t.Fatalf("provider saw %d client-credentials grants for 100 callers, want 1", n)
	}
	for _, tok := range tokens {
		if tok == "" || tok != tokens[0] || !idp.ValidAccessToken(tok) {
			t.Fatal("callers did not all get the one service token")
		}
	}
	h.clock.Advance(2 * time.Hour)
	next := h.authorize("svc-caller", "hooli-service", "read")
	if next.Token() == tokens[0] || !idp.ValidAccessToken(next.Token()) || idp.Counts().ClientCredentials != 2 {
		t.Fatal("an expired service token was not replaced by a new one")
	}
}

// TestDisconnect: the admin API lists and deletes a connection; the next
// authorize starts a flow.
func TestDisconnect(t *testing.T) {
	var idp *providertest.Provider
	h := newHarness(t, harnessOptions{providers: func(h *harness, redirect string) []config.Provider {
		idp = providertest.New(t, providertest.Options{RedirectURI: redirect, ClientAuth: providertest.ClientSecretBasic})
		return []config.Provider{idp.Config("hooli")}
	}})
	h.connect(idp, "ada", "hooli")
	var list struct {
		Items      []map[string]any `json:"items"`
		TotalCount int              `json:"total_count"`
	}
	if code := h.doKey(adminKey, "GET", "/v1/admin/user_connections", nil, &list); code != 200 || list.TotalCount != 1 {
		t.Fatalf("list: HTTP %d %+v", code, list)
	}
	for k, v := range list.Items[0] {
		if s, ok := v.(string); ok && idp.ValidAccessToken(s) {
			t.Fatalf("the connection listing exposes the token in %q", k)
		}
	}
	id := list.Items[0]["id"].(string)
	if code := h.doKey(adminKey, "DELETE", "/v1/admin/user_connections/"+id, nil, nil); code != 200 {
		t.Fatalf("delete: HTTP %d", code)
	}
	if got := h.authorize("ada", "hooli"); got.Status != "pending" {
		t.Fatalf("after disconnect: %s, want pending", got.Status)
	}
}
