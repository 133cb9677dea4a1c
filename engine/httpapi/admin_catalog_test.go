package httpapi_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestAdminProviderShowsTheTemplatesGuide: a provider created from a
// built-in template answers with the template's guide_url.
func TestAdminProviderShowsTheTemplatesGuide(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	code, raw := adminCall(t, h.srv.URL, "POST", "/v1/admin/auth_providers", map[string]any{
		"id": "music", "provider_id": "spotify", "status": "active",
		"oauth2": map[string]any{"client_id": "cid", "client_secret": adminSecret},
	})
	if code != http.StatusCreated {
		t.Fatalf("create: HTTP %d %s", code, raw)
	}
	code, raw = adminCall(t, h.srv.URL, "GET", "/v1/admin/auth_providers/music", nil)
	var got struct {
		ProviderID string `json:"provider_id"`
		GuideURL   string `json:"guide_url"`
	}
	if err := json.Unmarshal([]byte(raw), &got); err != nil || code != http.StatusOK {
		t.Fatalf("get: HTTP %d %s (%v)", code, raw, err)
	}
	if got.ProviderID != "spotify" || got.GuideURL != "https://developer.spotify.com/documentation/web-api/concepts/apps" {
		t.Fatalf("got %+v", got)
	}
}
