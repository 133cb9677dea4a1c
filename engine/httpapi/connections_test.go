package httpapi_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/internal/providertest"
)

type connectionItem struct {
	ID             string   `json:"id"`
	UserID         string   `json:"user_id"`
	ProviderID     string   `json:"provider_id"`
	Status         string   `json:"status"`
	Scopes         []string `json:"scopes"`
	ExpiresAt      string   `json:"expires_at"`
	Account        string   `json:"account"`
	DeclinedScopes []string `json:"declined_scopes"`
}

type connectionPage struct {
	Items      []connectionItem `json:"items"`
	TotalCount int              `json:"total_count"`
}

// TestConnectionStatusesOverTheAPI walks connections through every status
// against the strict stand-in and reads them back through the app route and
// the admin API, with forced refreshes on the way.
func TestConnectionStatusesOverTheAPI(t *testing.T) {
	var hooli, plain *providertest.Provider
	h := newHarness(t, harnessOptions{providers: func(h *harness, redirect string) []config.Provider {
		hooli = providertest.New(t, providertest.Options{RedirectURI: redirect, AccessTokenTTL: time.Hour, RotateRefreshTokens: true, Now: h.clock.Now})
		plain = providertest.New(t, providertest.Options{RedirectURI: redirect, AccessTokenTTL: time.Hour, NoRefreshTokens: true, Now: h.clock.Now})
		return []config.Provider{hooli.Config("hooli"), plain.Config("plain")}
	}})
	ada := h.connect(hooli, "ada", "hooli")
	bob := h.connect(hooli, "bob", "hooli")
	cleo := h.connect(hooli, "cleo", "hooli")
	adaPlain := h.connect(plain, "ada", "plain")
	tokens := []string{ada.Token(), bob.Token(), cleo.Token(), adaPlain.Token()}
	adaID, bobID, cleoID, adaPlainID := store.ConnectionID("hooli", "ada"), store.ConnectionID("hooli", "bob"), store.ConnectionID("hooli", "cleo"), store.ConnectionID("plain", "ada")

	admin := func(method, path string, out any) int {
		t.Helper()
		return h.doKey(adminKey, method, path, nil, out)
	}
	statusOf := func(id string) string {
		t.Helper()
		var c connectionItem
		if code := admin("GET", "/v1/admin/user_connections/"+id, &c); code != 200 {
			t.Fatalf("get connection %s: HTTP %d", id, code)
		}
		return c.Status
	}

	t.Run("the app route lists the user's connections without tokens", func(t *testing.T) {
		var raw map[string]any
		var out struct {
			Items []connectionItem `json:"items"`
		}
		if code := h.do("GET", "/v1/auth/connections?user_id=ada", nil, &out); code != 200 || len(out.Items) != 2 {
			t.Fatalf("HTTP %d, %d items; want 200 with ada's two connections", code, len(out.Items))
		}
		for _, c := range out.Items {
			if c.Status != "connected" || c.ExpiresAt == "" || c.ProviderID == "" {
				t.Errorf("item %+v; want connected with provider and expiry", c)
			}
		}
		h.do("GET", "/v1/auth/connections?user_id=ada", nil, &raw)
		b, _ := json.Marshal(raw)
		body := string(b)
		for _, tok := range tokens {
			if strings.Contains(body, tok) {
				t.Fatal("the connection listing holds an access token")
			}
		}
		var e apiErr
		if code := h.do("GET", "/v1/auth/connections", nil, &e); code != 400 || e.Name != "invalid_request" {
			t.Errorf("without user_id: HTTP %d %+v; want 400 invalid_request", code, e)
		}
		if code := h.doKey(adminKey, "GET", "/v1/auth/connections?user_id=ada", nil, &e); code != 401 {
			t.Errorf("with the admin key instead of an API key: HTTP %d; want 401", code)
		}
	})

	t.Run("a forced refresh answers the new expiry and refreshes once at the provider", func(t *testing.T) {
		before := hooli.Counts().Refreshes
		h.clock.Advance(10 * time.Minute)
		var out struct {
			ConnectionID string `json:"connection_id"`
			ExpiresAt    string `json:"expires_at"`
		}
		if code := admin("POST", "/v1/admin/user_connections/"+adaID+"/refresh", &out); code != 200 {
			t.Fatalf("HTTP %d; want 200", code)
		}
		exp, err := time.Parse(time.RFC3339, out.ExpiresAt)
		if err != nil || exp.Before(h.clock.Now().Add(59*time.Minute)) {
			t.Fatalf("expires_at %q; want about an hour from now", out.ExpiresAt)
		}
		if got := hooli.Counts().Refreshes - before; got != 1 {
			t.Fatalf("provider refreshes = %d, want 1", got)
		}
		again := h.authorize("ada", "hooli")
		if again.Status != "completed" || again.Token() == ada.Token() {
			t.Fatalf("authorize after the forced refresh: %+v; want completed with the new token", again)
		}
		if !strings.Contains(h.logs.String(), `"action":"connection.refresh"`) {
			t.Error("the forced refresh left no audit record")
		}
	})

	t.Run("invalid_grant on a forced refresh answers the provider's error and leaves needs_reauth", func(t *testing.T) {
		hooli.FailNext(1, 400, "invalid_grant")
		var e apiErr
		if code := admin("POST", "/v1/admin/user_connections/"+bobID+"/refresh", &e); code != 409 || e.Name != "needs_reauth" || !strings.Contains(e.Message, "invalid_grant") {
			t.Fatalf("HTTP %d %+v; want 409 needs_reauth naming invalid_grant", code, e)
		}
		if got := statusOf(bobID); got != "needs_reauth" {
			t.Fatalf("status %q, want needs_reauth", got)
		}
	})

	t.Run("a grant the provider revoked leaves revoked", func(t *testing.T) {
		hooli.RevokeGrants()
		var e apiErr
		if code := admin("POST", "/v1/admin/user_connections/"+cleoID+"/refresh", &e); code != 409 || e.Name != "needs_reauth" || !strings.Contains(e.Message, "revoked") {
			t.Fatalf("HTTP %d %+v; want 409 naming the revocation", code, e)
		}
		if got := statusOf(cleoID); got != "revoked" {
			t.Fatalf("status %q, want revoked", got)
		}
	})

	t.Run("a token without a refresh token cannot be forced, and expires", func(t *testing.T) {
		var e apiErr
		if code := admin("POST", "/v1/admin/user_connections/"+adaPlainID+"/refresh", &e); code != 409 || e.Name != "refresh_not_possible" {
			t.Fatalf("HTTP %d %+v; want 409 refresh_not_possible", code, e)
		}
		h.clock.Advance(2 * time.Hour)
		if code := admin("POST", "/v1/admin/user_connections/"+adaPlainID+"/refresh", &e); code != 409 || e.Name != "needs_reauth" {
			t.Fatalf("after expiry: HTTP %d %+v; want 409 needs_reauth", code, e)
		}
		if got := statusOf(adaPlainID); got != "expired" {
			t.Fatalf("status %q, want expired", got)
		}
	})

	t.Run("the admin listing filters by status", func(t *testing.T) {
		for status, want := range map[string]string{"connected": adaID, "needs_reauth": bobID, "revoked": cleoID, "expired": adaPlainID} {
			var p connectionPage
			if code := admin("GET", "/v1/admin/user_connections?status="+status, &p); code != 200 || p.TotalCount != 1 || len(p.Items) != 1 || p.Items[0].ID != want {
				t.Errorf("status=%s: HTTP %d %+v; want only %s", status, code, p, want)
			}
		}
		var e apiErr
		if code := admin("GET", "/v1/admin/user_connections?status=broken", &e); code != 400 || !strings.Contains(e.Message, "needs_reauth") {
			t.Errorf("an unknown status: HTTP %d %+v; want 400 naming the statuses", code, e)
		}
	})

	t.Run("a connection in any status but connected starts a new flow, and completing it reconnects", func(t *testing.T) {
		h.connect(hooli, "bob", "hooli")
		if got := statusOf(bobID); got != "connected" {
			t.Fatalf("status %q after a new authorization, want connected", got)
		}
	})

	t.Run("refreshing an unknown connection is 404", func(t *testing.T) {
		var e apiErr
		if code := admin("POST", "/v1/admin/user_connections/"+url.PathEscape("nope")+"/refresh", &e); code != 404 || e.Name != "connection_not_found" {
			t.Fatalf("HTTP %d %+v; want 404 connection_not_found", code, e)
		}
	})
}
