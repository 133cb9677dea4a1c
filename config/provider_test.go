package config

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/authengine/authengine/config/catalog"
)

// providerJSON decodes a provider entry the way the admin API receives it.
func providerJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("bad test JSON: %v", err)
	}
	return m
}

// fieldsOf returns the problems of a ParseProvider error, failing the test
// when err is not *Errors.
func fieldsOf(t *testing.T, err error) []FieldError {
	t.Helper()
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error = %v (%T), want *Errors", err, err)
	}
	return errs.Sorted()
}

// hasField reports whether fields holds path with a message starting with
// prefix.
func hasField(fields []FieldError, path, prefix string) bool {
	for _, f := range fields {
		if f.Path == path && strings.HasPrefix(f.Message, prefix) {
			return true
		}
	}
	return false
}

// acmeJSON is a complete hand-written provider that parses cleanly.
const acmeJSON = `{
  "id": "acme", "client_id": "acme-client", "client_secret": "` + secretValue + `",
  "oauth2": {
    "pkce": {"enabled": true},
    "default_scopes": ["read"],
    "allowed_scopes": ["read", "write:*"],
    "authorize_request": {"endpoint": "https://acme.example/authorize",
      "params": {"response_type": "code", "client_id": "<<client_id>>", "redirect_uri": "<<redirect_uri>>", "scope": "<<scopes>>"}},
    "token_request": {"endpoint": "https://acme.example/token", "auth_method": "client_secret_basic",
      "params": {"grant_type": "authorization_code", "redirect_uri": "<<redirect_uri>>"}},
    "refresh_request": {"endpoint": "https://acme.example/token",
      "params": {"grant_type": "refresh_token", "refresh_token": "<<refresh_token>>"}},
    "user_info_request": {"endpoint": "https://acme.example/me"}
  }
}`

func TestParseProviderMergesTheCatalogAndFillsDefaults(t *testing.T) {
	raw := providerJSON(t, `{"provider_id": "github", "client_id": 12345, "client_secret": "`+secretValue+`",
		"oauth2": {"default_scopes": ["repo"], "token_request": {"endpoint": "https://ghe.example/login/oauth/access_token"}}}`)
	before, _ := json.Marshal(raw)
	p, warnings, err := ParseProvider(raw, "")
	if err != nil {
		t.Fatalf("ParseProvider: %v", err)
	}
	t.Run("it gives no warnings", func(t *testing.T) {
		if len(warnings) != 0 {
			t.Fatalf("warnings = %q", warnings)
		}
	})
	t.Run("a provider without an id takes its provider_id", func(t *testing.T) {
		if p.ID != "github" || p.ProviderID != "github" {
			t.Fatalf("id=%q provider_id=%q", p.ID, p.ProviderID)
		}
	})
	t.Run("a JSON number fills a string field", func(t *testing.T) {
		if p.ClientID != "12345" {
			t.Fatalf("client_id = %q", p.ClientID)
		}
	})
	t.Run("an overridden field replaces the template's and its neighbours stay", func(t *testing.T) {
		tr := p.OAuth2.TokenRequest
		if tr.Endpoint != "https://ghe.example/login/oauth/access_token" {
			t.Fatalf("endpoint = %q", tr.Endpoint)
		}
		if tr.Headers["Accept"] != "application/json" || p.OAuth2.ScopeDelimiter != "," {
			t.Fatalf("template fields lost: headers=%v delimiter=%q", tr.Headers, p.OAuth2.ScopeDelimiter)
		}
	})
	t.Run("lists replace the template's lists", func(t *testing.T) {
		if !reflect.DeepEqual(p.OAuth2.DefaultScopes, []string{"repo"}) {
			t.Fatalf("default_scopes = %q", p.OAuth2.DefaultScopes)
		}
	})
	t.Run("defaults are filled in", func(t *testing.T) {
		tr := p.OAuth2.TokenRequest
		if !p.IsEnabled() || p.Enabled == nil || p.Type != ProviderTypeOAuth2 || p.OAuth2.GrantType != GrantAuthorizationCode {
			t.Fatalf("enabled=%v type=%q grant=%q", p.Enabled, p.Type, p.OAuth2.GrantType)
		}
		if tr.Method != "POST" || tr.RequestContentType != ContentTypeForm || tr.ResponseContentType != ContentTypeJSON || tr.AuthMethod == "" {
			t.Fatalf("token request defaults missing: %+v", tr)
		}
		if p.OAuth2.AuthorizeRequest.Method != "GET" {
			t.Fatalf("authorize method = %q", p.OAuth2.AuthorizeRequest.Method)
		}
	})
	t.Run("the caller's document is left unchanged", func(t *testing.T) {
		after, _ := json.Marshal(raw)
		if string(before) != string(after) {
			t.Fatalf("document changed:\nbefore %s\nafter  %s", before, after)
		}
	})
}

// TestParseProviderAgreesWithLoad: an entry parsed alone gives the same
// Provider as the same entry in engine.yaml.
func TestParseProviderAgreesWithLoad(t *testing.T) {
	entries := map[string]string{"a hand-written provider": acmeJSON}
	for _, id := range catalog.IDs() {
		if len(catalog.Variables(id)) > 0 {
			continue // TestParseProviderLeavesTenantVariablesAlone
		}
		entries["built-in "+id] = `{"provider_id": "` + id + `", "client_id": "cid", "client_secret": "` + secretValue + `"}`
	}
	for name, entry := range entries {
		t.Run(name+" parses as engine.yaml loads it", func(t *testing.T) {
			raw := providerJSON(t, entry)
			alone, _, err := ParseProvider(raw, "")
			if err != nil {
				t.Fatalf("ParseProvider: %v", err)
			}
			doc := map[string]any{"api": map[string]any{"development": true}, "auth": map[string]any{"providers": []any{raw}}}
			text, err := json.Marshal(doc) // JSON is YAML
			if err != nil {
				t.Fatal(err)
			}
			c, _, err := loadString(t, string(text), nil)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if !reflect.DeepEqual(alone, c.Auth.Providers[0]) {
				t.Fatalf("ParseProvider and Load disagree:\nalone %+v\nload  %+v", alone, c.Auth.Providers[0])
			}
		})
	}
}

func TestParseProviderMistakes(t *testing.T) {
	edit := func(f func(p, o map[string]any)) map[string]any {
		p := providerJSON(t, acmeJSON)
		f(p, p["oauth2"].(map[string]any))
		return p
	}
	cases := []struct {
		name    string
		raw     map[string]any
		path    string
		message string
	}{
		{"a misspelled key is unknown and the closest key is suggested",
			edit(func(p, o map[string]any) { o["tokn_request"] = o["token_request"] }),
			"oauth2.tokn_request", `unknown key (did you mean "token_request"?)`},
		{"a misspelled top-level key is reported at the top level",
			edit(func(p, o map[string]any) { p["client_secert"] = "x" }),
			"client_secert", `unknown key (did you mean "client_secret"?)`},
		{"a string where a boolean belongs is a type error",
			edit(func(p, o map[string]any) { o["pkce"] = map[string]any{"enabled": "yes"} }),
			"oauth2.pkce.enabled", "must be true or false"},
		{"a string where a list belongs is a type error",
			edit(func(p, o map[string]any) { o["default_scopes"] = "read" }),
			"oauth2.default_scopes", "must be a list, not a string"},
		{"a list where a request belongs is a type error",
			edit(func(p, o map[string]any) { o["user_info_request"] = []any{"x"} }),
			"oauth2.user_info_request", "must be a map, not a list"},
		{"refresh_request and refresh_token_request both given is an error",
			edit(func(p, o map[string]any) { o["refresh_token_request"] = o["refresh_request"] }),
			"oauth2.refresh_request", "is an alias of refresh_token_request; give one of them, not both"},
		{"an unknown built-in provider suggests the closest one",
			edit(func(p, o map[string]any) { p["provider_id"] = "githb" }),
			"provider_id", `unknown built-in provider "githb" (did you mean "github"?)`},
		{"a provider-level check runs: a missing client secret",
			edit(func(p, o map[string]any) { delete(p, "client_secret") }),
			"client_secret", "is required by auth_method"},
		{"a request-level check runs: an endpoint that is not a URL",
			edit(func(p, o map[string]any) { o["token_request"].(map[string]any)["endpoint"] = "not a url" }),
			"oauth2.token_request.endpoint", "must be an absolute http:// or https:// URL"},
	}
	cases = append(cases, []struct {
		name    string
		raw     map[string]any
		path    string
		message string
	}{
		{"user_info_from takes two values",
			edit(func(p, o map[string]any) { o["user_info_from"] = "jwt" }),
			"oauth2.user_info_from", `must be user_info_request or id_token, not "jwt"`},
		{"user_info_from id_token needs an issuer",
			edit(func(p, o map[string]any) { o["user_info_from"] = "id_token" }),
			"oauth2.user_info_from", "id_token needs oauth2.issuer"},
		{"user_info_from id_token needs openid among the default scopes",
			edit(func(p, o map[string]any) {
				o["user_info_from"], o["issuer"], o["default_scopes"] = "id_token", "https://id.example.com", []any{"read"}
			}),
			"oauth2.default_scopes", "must include openid"},
	}...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, _, err := ParseProvider(tc.raw, "")
			fields := fieldsOf(t, err)
			if !hasField(fields, tc.path, tc.message) {
				t.Fatalf("problems %v lack %s: %s", fields, tc.path, tc.message)
			}
			if !reflect.DeepEqual(p, Provider{}) {
				t.Errorf("provider = %+v, want the zero Provider on error", p)
			}
			if strings.Contains(err.Error(), secretValue) {
				t.Error("the error holds the client secret")
			}
		})
	}
	t.Run("every problem is reported at once", func(t *testing.T) {
		raw := edit(func(p, o map[string]any) {
			o["tokn_request"] = map[string]any{}
			o["pkce"] = map[string]any{"enabled": "yes"}
			p["id"] = "a/b"
		})
		fields := fieldsOf(t, func() error { _, _, err := ParseProvider(raw, ""); return err }())
		for _, path := range []string{"oauth2.tokn_request", "oauth2.pkce.enabled", "id"} {
			if !hasField(fields, path, "") {
				t.Errorf("problems %v lack %s", fields, path)
			}
		}
	})
}

func TestParseProviderAliasAloneIsFolded(t *testing.T) {
	p, _, err := ParseProvider(providerJSON(t, acmeJSON), "")
	if err != nil {
		t.Fatalf("ParseProvider: %v", err)
	}
	r := p.OAuth2.RefreshTokenRequest
	if p.OAuth2.RefreshRequest != nil || r == nil || r.Params["grant_type"] != "refresh_token" {
		t.Fatalf("refresh_token_request = %+v, refresh_request = %+v", r, p.OAuth2.RefreshRequest)
	}
	if r.AuthMethod != AuthClientSecretBasic {
		t.Fatalf("refresh auth_method = %q, want the token request's %q", r.AuthMethod, AuthClientSecretBasic)
	}
}

func TestParseProviderPathPrefix(t *testing.T) {
	raw := providerJSON(t, `{"id": "acme", "oauth2": {"grant_type": "client_credentials", "scope_delimter": ",",
		"token_request": {"endpoint": "ftp://acme.example/token"}}}`)
	cases := []struct {
		name   string
		prefix string
		want   []string
	}{
		{"an empty path gives paths relative to the entry", "",
			[]string{"client_id", "client_secret", "oauth2.scope_delimter", "oauth2.token_request.endpoint"}},
		{"a path is put before every problem's path", "auth.providers[acme]",
			[]string{"auth.providers[acme].client_id", "auth.providers[acme].client_secret",
				"auth.providers[acme].oauth2.scope_delimter", "auth.providers[acme].oauth2.token_request.endpoint"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ParseProvider(raw, tc.prefix)
			fields := fieldsOf(t, err)
			var got []string
			for _, f := range fields {
				got = append(got, f.Path)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("paths = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseProviderWarnings(t *testing.T) {
	raw := providerJSON(t, `{"id": "svc", "client_id": "c", "client_secret": "`+secretValue+`",
		"oauth2": {"grant_type": "client_credentials",
		  "authorize_request": {"endpoint": "https://svc.example/authorize"},
		  "token_request": {"endpoint": "https://svc.example/token"}}}`)
	p, warnings, err := ParseProvider(raw, "")
	if err != nil {
		t.Fatalf("ParseProvider: %v", err)
	}
	if p.ID != "svc" {
		t.Fatalf("id = %q", p.ID)
	}
	want := []string{"oauth2.authorize_request: is not used with grant_type client_credentials"}
	if !reflect.DeepEqual(warnings, want) {
		t.Fatalf("warnings = %q, want %q", warnings, want)
	}
}

// TestUserInfoFromIDTokenLeavesTheRequestUnused: a user_info_request
// beside user_info_from id_token is valid but warned about, as it is not
// used.
func TestUserInfoFromIDTokenLeavesTheRequestUnused(t *testing.T) {
	raw := map[string]any{"id": "hooli", "client_id": "c", "client_secret": "s", "oauth2": map[string]any{
		"issuer": "https://id.example.com", "user_info_from": "id_token",
		"user_info_request": map[string]any{"endpoint": "https://id.example.com/me"},
	}}
	p, warnings, err := ParseProvider(raw, "")
	if err != nil || p.OAuth2.UserInfoFrom != UserInfoFromIDToken {
		t.Fatalf("ParseProvider = %v, user_info_from %q", err, p.OAuth2.UserInfoFrom)
	}
	want := []string{"oauth2.user_info_request: is not used: oauth2.user_info_from is id_token"}
	if !reflect.DeepEqual(warnings, want) {
		t.Fatalf("warnings = %q, want %q", warnings, want)
	}
}

// TestParseProviderTakesReferencesLiterally: an API caller's document
// cannot read the engine's environment or files.
func TestParseProviderTakesReferencesLiterally(t *testing.T) {
	t.Setenv("AUTHENGINE_PARSE_PROVIDER_TEST", secretValue)
	raw := providerJSON(t, acmeJSON)
	raw["client_id"] = "$<env:AUTHENGINE_PARSE_PROVIDER_TEST>"
	raw["client_secret"] = "$<file:/etc/hostname>"
	p, _, err := ParseProvider(raw, "")
	if err != nil {
		t.Fatalf("ParseProvider: %v", err)
	}
	if p.ClientID != "$<env:AUTHENGINE_PARSE_PROVIDER_TEST>" || p.ClientSecret != "$<file:/etc/hostname>" {
		t.Fatalf("references were resolved: client_id=%q", p.ClientID)
	}
}

// TestIssuerReplacesTheRequestBlocks: a provider giving oauth2.issuer
// needs no request blocks (discovery fills them in at start) and says it
// needs discovery; without the issuer the same entry lacks them.
func TestIssuerReplacesTheRequestBlocks(t *testing.T) {
	raw := map[string]any{"id": "hooli", "client_id": "c", "client_secret": "s", "oauth2": map[string]any{"issuer": "https://id.example.com/realms/a"}}
	p, _, err := ParseProvider(raw, "")
	if err != nil || !p.NeedsDiscovery() {
		t.Fatalf("ParseProvider = %v, needs discovery %v; want a valid provider that needs discovery", err, p.NeedsDiscovery())
	}
	delete(raw["oauth2"].(map[string]any), "issuer")
	_, _, err = ParseProvider(raw, "")
	if err == nil || !strings.Contains(err.Error(), "oauth2.authorize_request: is required") {
		t.Fatalf("ParseProvider without issuer = %v, want authorize_request required", err)
	}
}

// TestMCPNeedsOnlyItsURL: a type mcp entry with only its url is valid
// (no client id, no request blocks) and needs discovery.
func TestMCPNeedsOnlyItsURL(t *testing.T) {
	p, _, err := ParseProvider(map[string]any{"id": "files", "type": "mcp", "mcp": map[string]any{"url": "https://mcp.example.com/mcp"}}, "")
	if err != nil || !p.NeedsDiscovery() || p.MCP.URL != "https://mcp.example.com/mcp" {
		t.Fatalf("ParseProvider = %+v, %v; want a valid MCP provider that needs discovery", p, err)
	}
}

// TestMetadataBaseURLEndpoint: a user-info, refresh or revocation
// endpoint may start with a token metadata value that is a whole base URL
// (<<metadata.instance_url>>/...); the token request, sent before there is
// any metadata, may not.
func TestMetadataBaseURLEndpoint(t *testing.T) {
	raw := func(block string) map[string]any {
		o := map[string]any{
			"authorize_request": map[string]any{"endpoint": "https://id.example.com/authorize"},
			"token_request":     map[string]any{"endpoint": "https://id.example.com/token"},
		}
		o[block] = map[string]any{"endpoint": "<<metadata.instance_url>>/services/oauth2/userinfo"}
		return map[string]any{"id": "sf", "client_id": "c", "client_secret": "s", "oauth2": o}
	}
	for _, block := range []string{"user_info_request", "refresh_token_request", "revocation_request"} {
		if _, _, err := ParseProvider(raw(block), ""); err != nil {
			t.Errorf("%s: %v", block, err)
		}
	}
	fields := fieldsOf(t, func() error { _, _, err := ParseProvider(raw("token_request"), ""); return err }())
	if !hasField(fields, "oauth2.token_request.endpoint", "must be an absolute") {
		t.Errorf("token_request from metadata: %v, want refused", fields)
	}
}
