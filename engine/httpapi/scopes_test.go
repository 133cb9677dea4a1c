package httpapi_test

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/internal/providertest"
)

// yamlProvidersHarness is a harness whose providers are the entries of
// an engine.yaml auth.providers list, loaded as the engine loads them.
func yamlProvidersHarness(t *testing.T, entries string) *harness {
	t.Helper()
	return newHarness(t, harnessOptions{providers: func(h *harness, redirect string) []config.Provider {
		path := filepath.Join(t.TempDir(), "engine.yaml")
		yaml := "api:\n  development: true\n  public_url: " + h.srv.URL + "\nauth:\n  providers:\n" + entries
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, _, err := config.Load(path, config.WithEnvFile(""))
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Auth.Providers
	}})
}

// TestScopeDelimiterSmugglingPastAllowedScopes: with the built-in github
// template (scopes joined with ",") and allowed_scopes ["read:*"], the
// scope "read:user,delete_repo,admin:org" matched "read:*" whole and
// reached GitHub as three scopes. A requested scope holding the
// provider's delimiter is refused; each scope is checked on its own.
func TestScopeDelimiterSmugglingPastAllowedScopes(t *testing.T) {
	h := yamlProvidersHarness(t, "    - id: gh\n      provider_id: github\n      client_id: cid\n      client_secret: csecret\n"+
		"      oauth2:\n        allowed_scopes: [\"read:*\"]\n")

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

// TestServiceTokenIsNotWidenedByOtherCallers: the client-credentials
// token used to be one per provider, its scopes the union of every
// caller's: it widened for everyone each time one caller asked for more,
// and once the provider refused one of those scopes, renewing it failed
// for every caller. Each scope set now has its own token, asked for with
// exactly that set.
func TestServiceTokenIsNotWidenedByOtherCallers(t *testing.T) {
	var idp *providertest.Provider
	h := newHarness(t, harnessOptions{providers: func(h *harness, redirect string) []config.Provider {
		idp = providertest.New(t, providertest.Options{RedirectURI: redirect, ClientAuth: providertest.ClientSecretBasic,
			AccessTokenTTL: time.Hour, Now: h.clock.Now})
		return []config.Provider{idp.ClientCredentialsConfig("svc")}
	}})
	granted := func(r authResp) []string {
		t.Helper()
		got := idp.AccessTokenScopes(r.Token())
		slices.Sort(got)
		return got
	}

	reader := h.authorize("app-1", "svc", "read")
	if got := granted(reader); !slices.Equal(got, []string{"read"}) {
		t.Fatalf("first caller's token grants %v, want [read]", got)
	}
	admin := h.authorize("app-2", "svc", "read", "admin")
	if got := granted(admin); !slices.Equal(got, []string{"admin", "read"}) {
		t.Fatalf("second caller's token grants %v, want [admin read]", got)
	}
	again := h.authorize("app-1", "svc", "read")
	if again.Token() != reader.Token() || !slices.Equal(granted(again), []string{"read"}) || !slices.Equal(again.Scopes, []string{"read"}) {
		t.Fatalf("after another caller asked for admin, the read caller got a token granting %v (scopes %v); want its own read-only token",
			granted(again), again.Scopes)
	}
	if n := idp.Counts().ClientCredentials; n != 2 {
		t.Fatalf("provider saw %d client-credentials grants, want 2 (one per scope set)", n)
	}

	// The provider withdraws admin; both tokens expire.
	idp.RefuseScopes("admin")
	h.clock.Advance(2 * time.Hour)
	if renewed := h.authorize("app-1", "svc", "read"); renewed.Status != "completed" || !slices.Equal(granted(renewed), []string{"read"}) {
		t.Fatalf("renewing the read token after admin was withdrawn: %+v granting %v", renewed, granted(renewed))
	}
	var out apiErr
	if code := h.do("POST", "/v1/auth/authorize", authorizeBody("app-2", "svc", "read", "admin"), &out); code != 502 || out.Name != "provider_error" {
		t.Fatalf("renewing the admin token after admin was withdrawn: HTTP %d %+v, want 502 provider_error", code, out)
	}
}

// TestServiceTokensPerScopeSetAreBounded: callers asking for ever new
// scope sets cannot make the engine keep a token for each.
func TestServiceTokensPerScopeSetAreBounded(t *testing.T) {
	var idp *providertest.Provider
	h := newHarness(t, harnessOptions{providers: func(h *harness, redirect string) []config.Provider {
		idp = providertest.New(t, providertest.Options{RedirectURI: redirect, ClientAuth: providertest.ClientSecretBasic, AccessTokenTTL: time.Hour})
		return []config.Provider{idp.ClientCredentialsConfig("svc")}
	}})
	const sets, bound = 40, 32
	// Callers of many scope sets at once: each gets its token although
	// others evict meanwhile.
	var wg sync.WaitGroup
	for i := range sets {
		wg.Go(func() {
			if got := h.authorize("app", "svc", fmt.Sprintf("c%d", i)); got.Status != "completed" || got.Token() == "" {
				t.Errorf("concurrent caller %d: %+v", i, got)
			}
		})
	}
	wg.Wait()
	var last authResp
	for i := range sets {
		last = h.authorize("app", "svc", fmt.Sprintf("s%d", i))
	}
	list, total, err := h.store.ListConnections(t.Context(), store.ConnectionFilter{ProviderID: "svc"}, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if total > bound {
		t.Fatalf("%d service tokens kept for %d scope sets, want at most %d", total, sets, bound)
	}
	if !slices.ContainsFunc(list, func(c store.Connection) bool { return c.ID == last.ID }) {
		t.Fatal("the token just fetched was evicted")
	}
	if again := h.authorize("app", "svc", fmt.Sprintf("s%d", sets-1)); again.Token() != last.Token() {
		t.Fatal("the newest scope set's token was not kept")
	}
}

// TestCatalogScopePatternsRefuseAtAuthorize: a catalog template's own
// allowed_scopes (google, slack) refuse a scope outside them at authorize
// with 400 scope_not_allowed naming the scope and the expected patterns,
// and let the provider's real scopes through.
func TestCatalogScopePatternsRefuseAtAuthorize(t *testing.T) {
	h := yamlProvidersHarness(t, "    - provider_id: google\n      client_id: cid\n      client_secret: csecret\n"+
		"    - provider_id: slack\n      client_id: cid\n      client_secret: csecret\n")
	for _, tt := range []struct{ provider, bad, pattern string }{
		{"google", "https://evil.example.com/auth/drive", "https://www.googleapis.com/auth/*"},
		{"google", "https://www.googleapis.com/auth/../admin/x", "https://www.googleapis.com/auth/*"},
		{"slack", "admin-everything", "*:read"},
	} {
		var out apiErr
		code := h.do("POST", "/v1/auth/authorize", authorizeBody("ada", tt.provider, tt.bad), &out)
		if code != 400 || out.Name != "scope_not_allowed" || !strings.Contains(out.Message, fmt.Sprintf("%q", tt.bad)) ||
			!strings.Contains(out.Message, "expected patterns:") || !strings.Contains(out.Message, tt.pattern) {
			t.Errorf("%s %q: HTTP %d %+v, want 400 scope_not_allowed naming it and the patterns", tt.provider, tt.bad, code, out)
		}
	}
	for provider, good := range map[string]string{"google": "https://www.googleapis.com/auth/calendar.readonly", "slack": "channels:history"} {
		if start := h.authorize("ada", provider, good); start.Status != "pending" || !strings.Contains(start.URL, url.QueryEscape(good)) {
			t.Errorf("%s %q: %+v, want a pending authorization asking for it", provider, good, start)
		}
	}
}
