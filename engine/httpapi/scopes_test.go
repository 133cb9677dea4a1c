package httpapi_test

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authengine/authengine/config"
)

// TestScopeDelimiterSmugglingPastAllowedScopes: with the built-in github
// template (scopes joined with ",") and allowed_scopes ["read:*"], the
// scope "read:user,delete_repo,admin:org" matched "read:*" whole and
// reached GitHub as three scopes. A requested scope holding the
// provider's delimiter is refused; each scope is checked on its own.
func TestScopeDelimiterSmugglingPastAllowedScopes(t *testing.T) {
	h := newHarness(t, harnessOptions{providers: func(h *harness, redirect string) []config.Provider {
		path := filepath.Join(t.TempDir(), "engine.yaml")
		yaml := "api:\n  development: true\n  public_url: " + h.srv.URL + "\nauth:\n  providers:\n" +
			"    - id: gh\n      provider_id: github\n      client_id: cid\n      client_secret: csecret\n" +
			"      oauth2:\n        allowed_scopes: [\"read:*\"]\n"
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, _, err := config.Load(path, config.WithEnvFile(""))
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Auth.Providers
	}})

	refused := []struct {
		name   string
		scopes []string
		want   string // in the error message
	}{
		{"delimiter-joined scopes in one item", []string{"read:user,delete_repo,admin:org"}, `contains the scope delimiter ","`},
		{"a joined item after a good one", []string{"read:user", "read:org,delete_repo"}, `"read:org,delete_repo"`},
		{"a joined item of allowed scopes only", []string{"read:user,read:org"}, `contains the scope delimiter`},
		{"a scope outside the patterns", []string{"read:user", "delete_repo"}, `scope "delete_repo" is not allowed`},
	}
	for _, tt := range refused {
		t.Run("it refuses "+tt.name, func(t *testing.T) {
			var out apiErr
			code := h.do("POST", "/v1/auth/authorize", authorizeBody("ada", "gh", tt.scopes...), &out)
			if code != 400 || out.Name != "scope_not_allowed" || !strings.Contains(out.Message, tt.want) {
				t.Fatalf("HTTP %d %+v, want 400 scope_not_allowed mentioning %s", code, out, tt.want)
			}
		})
	}

	t.Run("it sends allowed scopes joined with the delimiter", func(t *testing.T) {
		start := h.authorize("ada", "gh", "read:user", "read:org")
		u, err := url.Parse(start.URL)
		if err != nil {
			t.Fatal(err)
		}
		if got := u.Query().Get("scope"); got != "read:user,read:org" {
			t.Fatalf("authorize URL scope = %q, want %q", got, "read:user,read:org")
		}
	})
}
