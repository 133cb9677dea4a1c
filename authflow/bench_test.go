package authflow

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authengine/authengine/config"
)

// BenchmarkAuthorizeURL renders the authorize URL of a typical provider:
// four templated params, merged scopes, state and a PKCE challenge.
func BenchmarkAuthorizeURL(b *testing.B) {
	p, err := Compile(hooli(), goldenRedirect)
	if err != nil {
		b.Fatal(err)
	}
	scopes, existing := []string{"openid", "profile"}, []string{"read:mail"}
	state, challenge := NewState(), S256Challenge(NewCodeVerifier())
	b.ReportAllocs()
	for b.Loop() {
		if p.AuthorizeURL(state, scopes, existing, challenge) == "" {
			b.Fatal("empty URL")
		}
	}
}

// BenchmarkCompile500 loads a generated engine.yaml of 500 providers with
// config.Load and compiles them all with CompileAll, as `serve` and `check`
// do at startup.
func BenchmarkCompile500(b *testing.B) {
	path := filepath.Join(b.TempDir(), "engine.yaml")
	if err := os.WriteFile(path, []byte(generatedConfig(500)), 0o600); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		cfg, _, err := config.Load(path, config.WithEnvFile(""))
		if err != nil {
			b.Fatal(err)
		}
		ps, err := CompileAll(cfg)
		if err != nil || len(ps) != 500 {
			b.Fatalf("compiled %d providers: %v", len(ps), err)
		}
	}
}

// generatedConfig writes a development-mode engine.yaml with n providers,
// each with every request block, templates and a response map.
func generatedConfig(n int) string {
	var b strings.Builder
	b.WriteString("api:\n  development: true\n  public_url: https://engine.example\nauth:\n  providers:\n")
	for i := range n {
		fmt.Fprintf(&b, `    - id: p%[1]d
      client_id: client-%[1]d
      client_secret: secret-%[1]d
      oauth2:
        scope_delimiter: " "
        default_scopes: [openid]
        allowed_scopes: ["openid", "profile", "read:*"]
        pkce: {enabled: true}
        authorize_request:
          endpoint: https://p%[1]d.example/oauth/authorize
          params:
            response_type: code
            client_id: <<client_id>>
            redirect_uri: <<redirect_uri>>
            scope: <<scopes>> <<existing_scopes>>
        token_request:
          endpoint: https://p%[1]d.example/oauth/token
          auth_method: client_secret_basic
          params: {grant_type: authorization_code, redirect_uri: <<redirect_uri>>}
          response_map:
            access_token: "$.data.access_token"
            expires_in: "$.data.expires_in"
            refresh_token: "$.data.refresh_token"
            scope: "join('$.data.scope', ' ')"
        refresh_token_request:
          endpoint: https://p%[1]d.example/oauth/token
          auth_method: client_secret_basic
          params: {grant_type: refresh_token, refresh_token: <<refresh_token>>}
        user_info_request:
          endpoint: https://api.p%[1]d.example/me
          triggers: {on_token_grant: true}
`, i)
	}
	return b.String()
}

// BenchmarkCompileAll500 compiles 500 already-loaded providers: the
// authflow share of BenchmarkCompile500.
func BenchmarkCompileAll500(b *testing.B) {
	path := filepath.Join(b.TempDir(), "engine.yaml")
	if err := os.WriteFile(path, []byte(generatedConfig(500)), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg, _, err := config.Load(path, config.WithEnvFile(""))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CompileAll(cfg); err != nil {
			b.Fatal(err)
		}
	}
}
