package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/internal/providertest"
)

// TestNextURIWithExplicitDefaultPort: a next_uri that writes the scheme's
// default port (https://app.example.com:443/x) names the same origin as
// the allowed https://app.example.com and is accepted; another port, or
// the default port of the other scheme, stays refused.
func TestNextURIWithExplicitDefaultPort(t *testing.T) {
	h := newHarness(t, harnessOptions{
		origins: []string{"https://app.example.com", "http://LEGACY.example.com:80"},
		providers: func(h *harness, redirect string) []config.Provider {
			idp := providertest.New(t, providertest.Options{RedirectURI: redirect, ClientAuth: providertest.ClientSecretBasic})
			return []config.Provider{idp.Config("hooli")}
		},
	})
	cases := []struct {
		next string
		ok   bool
	}{
		{"https://app.example.com/done", true},
		{"https://app.example.com:443/done", true},
		{"https://APP.example.com:443/done", true},
		{"http://legacy.example.com/x", true},
		{"http://legacy.example.com:80/x", true},
		{"https://app.example.com:8443/done", false},
		{"http://app.example.com:443/done", false},
		{"https://app.example.com.evil.example/done", false},
	}
	for _, c := range cases {
		t.Run(c.next, func(t *testing.T) {
			body := map[string]any{"user_id": "u", "auth_requirement": map[string]any{"provider_id": "hooli"}, "next_uri": c.next}
			var out apiErr
			code := h.do("POST", "/v1/auth/authorize", body, &out)
			if c.ok && code != http.StatusOK {
				t.Fatalf("HTTP %d %q (%s), want 200", code, out.Name, out.Message)
			}
			if !c.ok && (code != http.StatusBadRequest || out.Name != "invalid_next_uri") {
				t.Fatalf("HTTP %d %q, want 400 invalid_next_uri", code, out.Name)
			}
		})
	}
}
