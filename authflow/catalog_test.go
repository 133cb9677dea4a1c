package authflow

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/config/catalog"
)

// catalogConfig writes an engine.yaml using every catalog template with
// dummy client credentials, followed by n generated providers, and returns
// its path and the environment its tenant variables need.
func catalogConfig(t testing.TB, n int) (string, func(string) (string, bool)) {
	t.Helper()
	var b strings.Builder
	b.WriteString(generatedConfig(n))
	env := map[string]string{}
	for _, id := range catalog.IDs() {
		fmt.Fprintf(&b, "    - provider_id: %s\n      client_id: dummy-%s-id\n      client_secret: dummy-%s-secret\n", id, id, id)
		for _, v := range catalog.Variables(id) {
			env[v] = catalog.VariableExample(v)
		}
	}
	path := filepath.Join(t.TempDir(), "engine.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, func(name string) (string, bool) { v, ok := env[name]; return v, ok }
}

// TestEveryCatalogEntryCompiles loads every catalog template with dummy
// client credentials and compiles it: templates, placeholders and
// response maps of all of them are valid.
func TestEveryCatalogEntryCompiles(t *testing.T) {
	ids := catalog.IDs()
	if len(ids) < 60 {
		t.Fatalf("the catalog has %d templates, want at least 60", len(ids))
	}
	path, lookup := catalogConfig(t, 0)
	cfg, warnings, err := config.Load(path, config.WithEnvFile(""), config.WithLookupEnv(lookup))
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Fatalf("warnings: %q", warnings)
	}
	ps, err := CompileAll(cfg)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]config.Provider{}
	for _, cp := range cfg.Auth.Providers {
		byID[cp.ID] = cp
	}
	for _, id := range ids {
		p, ok := ps[id]
		if !ok && byID[id].NeedsDiscovery() {
			// An issuer template: its keys come from discovery at start,
			// its endpoints are given, so it compiles as it stands.
			if p, err = Compile(byID[id], cfg.API.RedirectURI()); err != nil {
				t.Errorf("%s: %v", id, err)
				continue
			}
			ok = true
		}
		if !ok {
			t.Errorf("%s: not compiled", id)
			continue
		}
		u := p.AuthorizeURL("state", nil, nil, S256Challenge(NewCodeVerifier()))
		if !strings.HasPrefix(u, "https://") || !strings.Contains(u, "dummy-"+id+"-id") {
			t.Errorf("%s: authorize URL %q does not carry the client id", id, u)
		}
		if strings.Contains(u, "dummy-"+id+"-secret") {
			t.Errorf("%s: the authorize URL carries the client secret", id)
		}
	}
}

// BenchmarkCompileCatalogPlus500 loads and compiles the whole catalog
// plus 500 generated providers, as `serve` does at start.
func BenchmarkCompileCatalogPlus500(b *testing.B) {
	path, lookup := catalogConfig(b, 500)
	b.ReportAllocs()
	for b.Loop() {
		cfg, _, err := config.Load(path, config.WithEnvFile(""), config.WithLookupEnv(lookup))
		if err != nil {
			b.Fatal(err)
		}
		if n := len(cfg.Auth.Providers); n != 500+len(catalog.IDs()) {
			b.Fatalf("loaded %d providers, want the catalog and 500", n)
		}
		// Issuer templates are compiled after discovery, at start.
		want := 0
		for _, p := range cfg.Auth.Providers {
			if !p.NeedsDiscovery() {
				want++
			}
		}
		ps, err := CompileAll(cfg)
		if err != nil || len(ps) != want {
			b.Fatalf("compiled %d providers: %v", len(ps), err)
		}
	}
}

// TestTenantCatalogEntriesTakeConnectionVariables: without their
// environment variables, the templates whose host differs per customer
// compile with per-connection variables; each variable's example is
// accepted and fills the authorize URL's host, and a host outside the
// pattern is refused.
func TestTenantCatalogEntriesTakeConnectionVariables(t *testing.T) {
	tenants := 0
	for _, id := range catalog.IDs() {
		tmpl, err := config.CatalogProvider(id)
		if err != nil {
			t.Fatal(err)
		}
		if len(tmpl.OAuth2.ConnectionVariables) == 0 {
			continue
		}
		tenants++
		tmpl.ClientID, tmpl.ClientSecret = "dummy-id", "dummy-secret"
		p, err := Compile(tmpl, "https://engine.example/oauth/callback")
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		examples := map[string]string{}
		for name, v := range p.Variables() {
			examples[name] = v.Example
		}
		for name := range examples {
			bad := maps.Clone(examples)
			bad[name] = "evil.example/"
			var ve *VariableError
			if _, err := p.ConnectionValues(bad); !errors.As(err, &ve) || ve.Name != name {
				t.Errorf("%s: %s accepts a value outside its pattern (%v)", id, name, err)
			}
		}
		values, err := p.ConnectionValues(examples)
		if err != nil {
			t.Fatalf("%s: the examples are refused: %v", id, err)
		}
		u := p.WithConnection(values).AuthorizeURL("state", nil, nil, "")
		for _, v := range values {
			if !strings.Contains(u, v) {
				t.Errorf("%s: authorize URL %q does not carry %q", id, u, v)
			}
		}
		if !p.RemoteHosts() {
			t.Errorf("%s: its hosts are not sent through the guarded client", id)
		}
	}
	if tenants < 6 {
		t.Fatalf("%d tenant templates, want okta, auth0, keycloak, zendesk, shopify and gitea", tenants)
	}
}

// catalogScopeSamples are real scopes of some templates, each of which
// their allowed_scopes must accept.
var catalogScopeSamples = map[string][]string{
	"google":     {"https://www.googleapis.com/auth/drive.readonly", "https://www.googleapis.com/auth/gmail.send", "https://mail.google.com/", "profile"},
	"github":     {"repo", "read:org", "user:email", "admin:repo_hook", "workflow"},
	"slack":      {"channels:read", "chat:write", "users:read.email", "im:history", "identity.basic"},
	"microsoft":  {"User.Read", "Mail.Send", "Files.ReadWrite.All", "Calendars.ReadWrite", "https://graph.microsoft.com/.default"},
	"atlassian":  {"read:jira-work", "write:confluence-content", "manage:jira-project"},
	"shopify":    {"read_products", "write_orders"},
	"patreon":    {"identity[email]", "campaigns.members[email]"},
	"salesforce": {"api", "refresh_token", "chatter_api"},
	"x":          {"tweet.read", "offline.access"},
}

// TestCatalogScopePatterns: every template that sends scopes carries
// allowed_scopes; its default scopes pass them, the samples above pass
// them, and a scope outside them is refused with a *ScopeError whose
// message names the scope and the expected patterns.
func TestCatalogScopePatterns(t *testing.T) {
	for sample := range catalogScopeSamples {
		if _, ok := catalog.Lookup(sample); !ok {
			t.Errorf("sample for %s, which is not in the catalog", sample)
		}
	}
	checked := 0
	defer func() {
		if checked < 50 {
			t.Errorf("only %d templates with scope patterns checked", checked)
		}
	}()
	for _, id := range catalog.IDs() {
		tmpl, err := config.CatalogProvider(id)
		if err != nil {
			t.Fatal(err)
		}
		sendsScopes := false
		for _, v := range tmpl.OAuth2.AuthorizeRequest.Params {
			sendsScopes = sendsScopes || strings.Contains(v, "<<scopes>>")
		}
		if !sendsScopes {
			// The provider takes its scopes from the app's settings.
			continue
		}
		if len(tmpl.OAuth2.AllowedScopes) == 0 {
			t.Errorf("%s: sends scopes but has no allowed_scopes", id)
			continue
		}
		checked++
		tmpl.ClientID, tmpl.ClientSecret = "dummy-id", "dummy-secret"
		if tmpl.NeedsDiscovery() {
			tmpl.OAuth2.Issuer = ""
		}
		p, err := Compile(tmpl, "https://engine.example/oauth/callback")
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if _, err := p.Scopes(tmpl.OAuth2.DefaultScopes); err != nil {
			t.Errorf("%s: default scopes refused: %v", id, err)
		}
		for _, s := range catalogScopeSamples[id] {
			if _, err := p.Scopes([]string{s}); err != nil {
				t.Errorf("%s: real scope refused: %v", id, err)
			}
		}
		const bad = "not/a/scope"
		_, err = p.Scopes([]string{bad})
		se, ok := errors.AsType[*ScopeError](err)
		if !ok || se.Scope != bad {
			t.Errorf("%s: scope %q gave %v, want a *ScopeError naming it", id, bad, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, `"`+bad+`"`) || !strings.Contains(msg, "expected patterns: "+tmpl.OAuth2.AllowedScopes[0]) {
			t.Errorf("%s: error %q does not name the scope and the expected patterns", id, msg)
		}
	}
}
