package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/authengine/authengine/config/catalog"
	yamlv3 "go.yaml.in/yaml/v3"
)

func noEnv(string) (string, bool) { return "", false }

func TestDotEnvLayering(t *testing.T) {
	envFile := writeFile(t, "test.env", strings.Join([]string{
		"# comment",
		"",
		"export FROM_FILE=file-value",
		"BOTH=file-loses",
		`QUOTED="line one\nline two"`,
		"SINGLE='kept $<env:NOT_EXPANDED> literally'",
		"BARE=bare value # trailing comment",
	}, "\n"))
	cfg := writeFile(t, "engine.yaml", `
api:
  development: true
  api_keys:
    - $<env:FROM_FILE>
    - $<env:BOTH>
    - $<env:QUOTED>
    - $<env:SINGLE>
    - $<env:BARE>
`)
	real := map[string]string{"BOTH": "real-wins"}
	c, _, err := Load(cfg, WithEnvFile(envFile), WithLookupEnv(lookupIn(real)))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"file-value", "real-wins", "line one\nline two", "kept $<env:NOT_EXPANDED> literally", "bare value"}
	if !reflect.DeepEqual(c.API.APIKeys, want) {
		t.Fatalf("api_keys = %q, want %q", c.API.APIKeys, want)
	}
}

func TestDotEnvInWorkingDirectoryIsReadByDefault(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeAt(t, filepath.Join(dir, ".env"), "DEV_KEY=from-dot-env-file\n")
	writeAt(t, filepath.Join(dir, "engine.yaml"), "api: {development: true, api_keys: [$<env:DEV_KEY>]}\n")
	c, _, err := Load("engine.yaml", WithLookupEnv(noEnv))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.API.APIKeys; len(got) != 1 || got[0] != "from-dot-env-file" {
		t.Fatalf("api_keys = %q", got)
	}
}

func TestMissingExplicitEnvFileIsAnError(t *testing.T) {
	cfg := writeFile(t, "engine.yaml", "api: {development: true}\n")
	_, _, err := Load(cfg, WithEnvFile(filepath.Join(t.TempDir(), "nope.env")), WithLookupEnv(noEnv))
	if err == nil || !strings.Contains(err.Error(), "env file") {
		t.Fatalf("want an env file error, got %v", err)
	}
}

func TestMalformedEnvFileNamesTheLineNotTheValue(t *testing.T) {
	envFile := writeFile(t, "bad.env", "GOOD=1\nthis line has no equals sign "+secretValue+"\n")
	cfg := writeFile(t, "engine.yaml", "api: {development: true}\n")
	_, _, err := Load(cfg, WithEnvFile(envFile), WithLookupEnv(noEnv))
	if err == nil || !strings.Contains(err.Error(), "bad.env:2") {
		t.Fatalf("want an error naming bad.env:2, got %v", err)
	}
	if strings.Contains(err.Error(), secretValue) {
		t.Fatalf("env file content leaked: %v", err)
	}
}

func TestFileReferences(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"one trailing newline is removed", "secret\n", "secret"},
		{"only one trailing newline is removed", "secret\n\n", "secret\n"},
		{"a CRLF line ending is removed", "secret\r\n", "secret"},
		{"a file without a newline is taken whole", "secret", "secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secretFile := writeFile(t, "secret", tt.content)
			c, _, err := loadString(t, "api: {development: true, api_keys: [\"$<file:"+secretFile+">\"]}\n", nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.API.APIKeys[0]; got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReferencesInsideLongerStrings(t *testing.T) {
	c, _, err := loadString(t, `
api:
  development: true
  public_url: https://$<env:HOST>:$<env:PORT>/auth
`, map[string]string{"HOST": "auth.example.com", "PORT": "8443"})
	if err != nil {
		t.Fatal(err)
	}
	if c.API.PublicURL != "https://auth.example.com:8443/auth" {
		t.Fatalf("public_url = %q", c.API.PublicURL)
	}
}

func TestSubstitutedValuesAreNotExpandedAgain(t *testing.T) {
	c, _, err := loadString(t, "api: {development: true, api_keys: [$<env:A>]}\n",
		map[string]string{"A": "$<env:B>", "B": "must-not-appear"})
	if err != nil {
		t.Fatal(err)
	}
	if c.API.APIKeys[0] != "$<env:B>" {
		t.Fatalf("value expanded twice: %q", c.API.APIKeys[0])
	}
}

func TestNumericStringsFromTheEnvironmentDecode(t *testing.T) {
	c, _, err := loadString(t, `
api: {development: true, port: $<env:PORT>}
tools:
  workers:
    - id: w
      enabled: $<env:WORKER_ON>
      http: {uri: http://127.0.0.1:8002, secret: $<env:WS>, retry: $<env:RETRY>}
`, map[string]string{"PORT": "8080", "WORKER_ON": "false", "RETRY": "5"})
	if err != nil {
		t.Fatal(err)
	}
	if c.API.Port != 8080 || c.Tools.Workers[0].HTTP.Retry != 5 || c.Tools.Workers[0].IsEnabled() {
		t.Fatalf("port=%d retry=%d enabled=%v", c.API.Port, c.Tools.Workers[0].HTTP.Retry, c.Tools.Workers[0].IsEnabled())
	}
}

func TestMissingVariableInDisabledProviderIsAWarning(t *testing.T) {
	c, warnings, err := loadString(t, `
api: {development: true}
auth:
  providers:
    - id: parked
      enabled: false
      provider_id: github
      client_id: $<env:PARKED_ID>
      client_secret: $<env:PARKED_SECRET>
`, nil)
	if err != nil {
		t.Fatalf("a disabled provider's missing variables must not fail the load: %v", err)
	}
	if c.Auth.Providers[0].IsEnabled() {
		t.Fatal("provider should be disabled")
	}
	want := []string{
		"auth.providers[parked].client_id: environment variable PARKED_ID is not set (ignored: disabled)",
		"auth.providers[parked].client_secret: environment variable PARKED_SECRET is not set (ignored: disabled)",
	}
	if !reflect.DeepEqual(warnings, want) {
		t.Fatalf("warnings = %q\nwant %q", warnings, want)
	}
}

func TestCredentialsSentTwiceAreAWarning(t *testing.T) {
	doc := baseDoc(t)
	params := at(hooliOAuth(doc), "token_request", "params")
	params["client_id"] = "<<client_id>>"
	params["client_secret"] = "<<client_secret>>"
	text, _ := yamlMarshal(t, doc)
	_, warnings, err := loadString(t, text, testEnv)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"client_id", "client_secret"} {
		prefix := "auth.providers[hooli].oauth2.token_request.params." + key + ": "
		if !containsPrefix(warnings, prefix) {
			t.Errorf("no warning starting %q in %q", prefix, warnings)
		}
	}
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func TestDefaults(t *testing.T) {
	c, _, err := loadString(t, `
api: {development: true}
auth:
  providers:
    - id: p
      client_id: id
      client_secret: secret
      oauth2:
        pkce: {enabled: true}
        authorize_request: {endpoint: https://p.example/authorize}
        token_request: {endpoint: https://p.example/token, auth_method: client_secret_basic}
        refresh_request: {endpoint: https://p.example/token}
        user_info_request: {endpoint: https://p.example/me}
tools:
  workers:
    - id: w
      http: {uri: http://127.0.0.1:8002, secret: s}
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"data_dir", c.DataDir, "./data"},
		{"api.host", c.API.Host, "127.0.0.1"},
		{"api.port", c.API.Port, 9099},
		{"api.public_url", c.API.PublicURL, "http://localhost:9099"},
		{"api.max_body_bytes", c.API.MaxBodyBytes, int64(1 << 20)},
		{"store.type", c.Store.Type, "embedded"},
		{"store.embedded.path", c.Store.Embedded.Path, filepath.Join("data", "authengine.db")},
		{"store.redis.key_prefix", c.Store.Redis.KeyPrefix, "authengine:"},
		{"auth.flow_ttl", c.Auth.FlowTTL, 10 * time.Minute},
		{"auth.refresh_margin", c.Auth.RefreshMargin, 60 * time.Second},
		{"telemetry.log.level", c.Telemetry.Log.Level, "info"},
		{"telemetry.log.format", c.Telemetry.Log.Format, "json"},
		{"telemetry.metrics.enabled", *c.Telemetry.Metrics.Enabled, true},
		{"telemetry.metrics.path", c.Telemetry.Metrics.Path, "/metrics"},
		{"provider enabled", c.Auth.Providers[0].IsEnabled(), true},
		{"provider type", c.Auth.Providers[0].Type, "oauth2"},
		{"grant_type", c.Auth.Providers[0].OAuth2.GrantType, "authorization_code"},
		{"scope_delimiter", c.Auth.Providers[0].OAuth2.ScopeDelimiter, " "},
		{"pkce method", c.Auth.Providers[0].OAuth2.PKCE.CodeChallengeMethod, "S256"},
		{"authorize method", c.Auth.Providers[0].OAuth2.AuthorizeRequest.Method, "GET"},
		{"token method", c.Auth.Providers[0].OAuth2.TokenRequest.Method, "POST"},
		{"token request content type", c.Auth.Providers[0].OAuth2.TokenRequest.RequestContentType, "application/x-www-form-urlencoded"},
		{"token response content type", c.Auth.Providers[0].OAuth2.TokenRequest.ResponseContentType, "application/json"},
		{"refresh alias folded", c.Auth.Providers[0].OAuth2.RefreshRequest == nil, true},
		{"refresh method", c.Auth.Providers[0].OAuth2.RefreshTokenRequest.Method, "POST"},
		{"refresh auth_method follows token_request", c.Auth.Providers[0].OAuth2.RefreshTokenRequest.AuthMethod, "client_secret_basic"},
		{"user info method", c.Auth.Providers[0].OAuth2.UserInfoRequest.Method, "GET"},
		{"user info auth_method", c.Auth.Providers[0].OAuth2.UserInfoRequest.AuthMethod, "bearer_access_token"},
		{"user info on_token_grant", c.Auth.Providers[0].OAuth2.UserInfoRequest.Triggers.OnTokenGrant, true},
		{"worker enabled", c.Tools.Workers[0].IsEnabled(), true},
		{"worker timeout", c.Tools.Workers[0].HTTP.Timeout, 30 * time.Second},
		{"worker retry", c.Tools.Workers[0].HTTP.Retry, 3},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %#v, want %#v", ch.name, ch.got, ch.want)
		}
	}
}

func TestExplicitZeroRetryIsKept(t *testing.T) {
	c, _, err := loadString(t, `
api: {development: true}
tools: {workers: [{id: w, http: {uri: "http://127.0.0.1:1", secret: s, retry: 0}}]}
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Tools.Workers[0].HTTP.Retry != 0 {
		t.Fatalf("retry = %d, want the explicit 0", c.Tools.Workers[0].HTTP.Retry)
	}
}

func TestCatalogMerge(t *testing.T) {
	c, _, err := loadString(t, `
api: {development: true}
auth:
  providers:
    - provider_id: github
      client_id: id
      client_secret: secret
      oauth2:
        default_scopes: [repo]
        token_request:
          endpoint: https://github.enterprise.example/login/oauth/access_token
    - id: google-work
      provider_id: google
      client_id: id
      client_secret: secret
      oauth2:
        refresh_request:
          endpoint: https://oauth2.googleapis.com/token
          auth_method: client_secret_basic
          params: {grant_type: refresh_token, refresh_token: <<refresh_token>>}
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	gh := c.Auth.Providers[0]
	t.Run("a provider without an id takes its provider_id", func(t *testing.T) {
		if gh.ID != "github" || gh.ProviderID != "github" {
			t.Fatalf("id=%q provider_id=%q", gh.ID, gh.ProviderID)
		}
	})
	t.Run("an overridden field replaces the template's", func(t *testing.T) {
		if got := gh.OAuth2.TokenRequest.Endpoint; got != "https://github.enterprise.example/login/oauth/access_token" {
			t.Fatalf("endpoint = %q", got)
		}
	})
	t.Run("fields beside an override keep the template's values", func(t *testing.T) {
		tr := gh.OAuth2.TokenRequest
		if tr.Headers["Accept"] != "application/json" || tr.Params["redirect_uri"] != "<<redirect_uri>>" {
			t.Fatalf("template fields lost: headers=%v params=%v", tr.Headers, tr.Params)
		}
		if gh.OAuth2.ScopeDelimiter != "," {
			t.Fatalf("scope_delimiter = %q", gh.OAuth2.ScopeDelimiter)
		}
	})
	t.Run("lists replace the template's lists", func(t *testing.T) {
		if !reflect.DeepEqual(gh.OAuth2.DefaultScopes, []string{"repo"}) {
			t.Fatalf("default_scopes = %q", gh.OAuth2.DefaultScopes)
		}
	})
	t.Run("the refresh_request alias overrides the template's refresh_token_request", func(t *testing.T) {
		g := c.Auth.Providers[1]
		if g.OAuth2.RefreshRequest != nil || g.OAuth2.RefreshTokenRequest == nil || g.OAuth2.RefreshTokenRequest.AuthMethod != "client_secret_basic" {
			t.Fatalf("refresh = %+v alias = %+v", g.OAuth2.RefreshTokenRequest, g.OAuth2.RefreshRequest)
		}
		if g.OAuth2.AuthorizeRequest.Params["access_type"] != "offline" {
			t.Fatalf("template authorize params lost")
		}
	})
}

func TestEveryCatalogProviderLoads(t *testing.T) {
	for _, id := range catalog.IDs() {
		t.Run(id+" loads with only client credentials and its tenant variables given", func(t *testing.T) {
			c, warnings, err := loadString(t, `
api: {development: true}
auth:
  providers:
    - provider_id: `+id+`
      client_id: example-id
      client_secret: example-secret
`, catalogTenantEnv(t, id))
			if err != nil {
				t.Fatal(err)
			}
			if len(warnings) != 0 {
				t.Fatalf("warnings: %q", warnings)
			}
			p := c.Auth.Providers[0]
			if p.OAuth2.AuthorizeRequest == nil || p.OAuth2.TokenRequest == nil || p.Description == "" {
				t.Fatalf("template incomplete: %+v", p)
			}
		})
	}
}

func TestCatalogProviderQuirks(t *testing.T) {
	load := func(t *testing.T, id string) Provider {
		t.Helper()
		c, _, err := loadString(t, "api: {development: true}\nauth: {providers: [{provider_id: "+id+", client_id: i, client_secret: s}]}\n", nil)
		if err != nil {
			t.Fatal(err)
		}
		return c.Auth.Providers[0]
	}
	t.Run("github asks for JSON and splits scopes on commas", func(t *testing.T) {
		p := load(t, "github")
		if p.OAuth2.TokenRequest.Headers["Accept"] != "application/json" || p.OAuth2.ScopeDelimiter != "," {
			t.Fatalf("%+v", p.OAuth2)
		}
	})
	t.Run("google asks for offline access with PKCE", func(t *testing.T) {
		p := load(t, "google")
		ap := p.OAuth2.AuthorizeRequest.Params
		if ap["access_type"] != "offline" || ap["prompt"] != "consent" || !p.OAuth2.PKCE.Enabled || p.OAuth2.RefreshTokenRequest == nil {
			t.Fatalf("%+v", p.OAuth2)
		}
	})
	t.Run("slack reads the user token under authed_user", func(t *testing.T) {
		p := load(t, "slack")
		if p.OAuth2.TokenRequest.ResponseMap["access_token"] != "$.authed_user.access_token" || p.OAuth2.ScopeDelimiter != "," {
			t.Fatalf("%+v", p.OAuth2.TokenRequest)
		}
		if _, ok := p.OAuth2.AuthorizeRequest.Params["user_scope"]; !ok {
			t.Fatal("no user_scope param")
		}
	})
	t.Run("microsoft uses the common tenant and asks for offline_access", func(t *testing.T) {
		p := load(t, "microsoft")
		if !strings.Contains(p.OAuth2.TokenRequest.Endpoint, "/common/") || !contains(p.OAuth2.DefaultScopes, "offline_access") {
			t.Fatalf("%+v", p.OAuth2)
		}
	})
	t.Run("notion uses basic auth, a JSON body and owner=user", func(t *testing.T) {
		p := load(t, "notion")
		tr := p.OAuth2.TokenRequest
		if tr.AuthMethod != "client_secret_basic" || tr.RequestContentType != "application/json" || p.OAuth2.AuthorizeRequest.Params["owner"] != "user" {
			t.Fatalf("%+v", p.OAuth2)
		}
	})
	t.Run("twitch joins an array of scopes", func(t *testing.T) {
		p := load(t, "twitch")
		if p.OAuth2.TokenRequest.ResponseMap["scope"] != "join('$.scope', ' ')" {
			t.Fatalf("%+v", p.OAuth2.TokenRequest.ResponseMap)
		}
	})
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func TestShippedConfigsLoad(t *testing.T) {
	t.Run("the default engine.yaml loads with no environment at all", func(t *testing.T) {
		empty := writeFile(t, "empty.env", "")
		c, _, err := Load("../engine.yaml", WithEnvFile(empty), WithLookupEnv(noEnv))
		if err != nil {
			t.Fatal(err)
		}
		if !c.API.Development || c.Store.Type != StoreEmbedded || !*c.Telemetry.Metrics.Enabled {
			t.Fatalf("unexpected default config: %+v", c.API)
		}
		if len(c.Auth.Providers) == 0 || c.Auth.Providers[0].IsEnabled() {
			t.Fatal("the default config should carry a disabled example provider")
		}
	})
	examples, err := filepath.Glob("../examples/providers/*.yaml")
	if err != nil || len(examples) < 7 {
		t.Fatalf("examples: %v %v", examples, err)
	}
	for _, path := range examples {
		t.Run(filepath.Base(path)+" loads with example.env", func(t *testing.T) {
			c, warnings, err := Load(path, WithEnvFile("../examples/providers/example.env"), WithLookupEnv(noEnv))
			if err != nil {
				t.Fatal(err)
			}
			if len(warnings) != 0 {
				t.Fatalf("warnings: %q", warnings)
			}
			if len(c.Auth.Providers) == 0 || !c.Auth.Providers[0].IsEnabled() {
				t.Fatal("an example should show an enabled provider")
			}
		})
	}
}

func TestValidateOnConfigsBuiltInCode(t *testing.T) {
	t.Run("the development defaults are valid", func(t *testing.T) {
		c := Default()
		c.API.Development = true
		if err := Validate(c); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("the production defaults lack keys", func(t *testing.T) {
		err := Validate(Default())
		var errs *Errors
		if !errors.As(err, &errs) || len(errs.Fields) != 2 {
			t.Fatalf("want two errors (api keys, root keys), got %v", err)
		}
	})
}

func TestInvalidDocuments(t *testing.T) {
	tests := []struct{ name, text, want string }{
		{"broken YAML is reported as such", "api: [unclosed", "invalid YAML"},
		{"a document that is a list is reported as not a map", "- a\n- b\n", "must be a map"},
		{"a document that is a scalar is reported as not a map", secretValue + "\n", "must be a map"},
		{"a key given twice names the key and both lines", "api:\n  port: 8080\n  development: true\n  port: 9090\n",
			`invalid YAML: key "port" is given twice in one mapping, at line 2 and at line 4: keep one`},
		{"a tab in the indentation says to use spaces", "api:\n\tport: 8080\n",
			"line 2: found character that cannot start any token: the line is indented with a tab; YAML indents with spaces only"},
		{"another syntax error names the line and what to check", "api:\n  development: true\n  api_keys: [\"" + secretValue + "\n",
			"check the indentation, the colon after each key and the quotes on that line and the one before"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := loadString(t, tt.text, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want %q, got %v", tt.want, err)
			}
			if strings.Contains(err.Error(), secretValue) {
				t.Fatalf("file content leaked: %v", err)
			}
		})
	}
}

func TestEmptyFileIsADevelopmentErrorNotAPanic(t *testing.T) {
	_, _, err := loadString(t, "", nil)
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("an empty file in production mode should fail validation, got %v", err)
	}
}

func writeAt(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func yamlMarshal(t *testing.T, doc map[string]any) (string, error) {
	t.Helper()
	b, err := yamlv3.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), nil
}

func TestAdminListenIsValidated(t *testing.T) {
	tests := []struct{ value, want string }{
		{"127.0.0.1:9098", ""},
		{"[::1]:9098", ""},
		{":9098", ""},
		{"127.0.0.1", "api.admin_listen: must be host:port"},
		{"127.0.0.1:0", "api.admin_listen: must be host:port"},
		{"127.0.0.1:http", "api.admin_listen: must be host:port"},
		{"127.0.0.1:9099", "api.admin_listen: must differ from the main listener 127.0.0.1:9099"},
		{"0.0.0.0:9099", "api.admin_listen: must differ from the main listener"},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			_, _, err := loadString(t, strings.Replace(baseYAML, "  development: false\n", "  development: false\n  admin_listen: \""+tt.value+"\"\n", 1), testEnv)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestMetricsListenAndTokenAreValidated(t *testing.T) {
	tests := []struct{ metrics, want, warning string }{
		{`{listen: "127.0.0.1:9100", bearer_token: "a-long-scrape-token-0123"}`, "", ""},
		{`{listen: ":9100"}`, "", ""},
		{`{listen: "127.0.0.1"}`, "telemetry.metrics.listen: must be host:port", ""},
		{`{listen: "127.0.0.1:99999"}`, "telemetry.metrics.listen: must be host:port", ""},
		{`{listen: "127.0.0.1:9099"}`, "telemetry.metrics.listen: must differ from the main listener 127.0.0.1:9099", ""},
		{`{listen: "0.0.0.0:9099"}`, "telemetry.metrics.listen: must differ from the main listener", ""},
		{`{listen: "127.0.0.1:9098"}`, "telemetry.metrics.listen: must differ from api.admin_listen", ""},
		{`{bearer_token: "short"}`, "", "telemetry.metrics.bearer_token: token is shorter than 16 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.metrics, func(t *testing.T) {
			doc := strings.Replace(baseYAML, "  development: false\n", "  development: false\n  admin_listen: \"127.0.0.1:9098\"\n", 1)
			doc += "telemetry:\n  metrics: " + tt.metrics + "\n"
			_, warnings, err := loadString(t, doc, testEnv)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if tt.warning != "" && !strings.Contains(strings.Join(warnings, "\n"), tt.warning) {
				t.Fatalf("warnings %q lack %q", warnings, tt.warning)
			}
		})
	}
}

// An Arcade engine.yaml section moves over unchanged: its ${env:NAME} and
// ${file:PATH} references resolve like $<env:NAME> and $<file:PATH>, and a
// top-level $schema key is accepted.
func TestArcadeReferencesAndSchemaKey(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "key")
	writeAt(t, secretFile, "from-a-file\n")
	c, _, err := loadString(t, `
$schema: https://example.com/engine.schema.json
api:
  development: true
  public_url: https://${env:HOST}:$<env:PORT>/auth
  api_keys: ["${file:`+secretFile+`}"]
`, map[string]string{"HOST": "auth.example.com", "PORT": "8443"})
	if err != nil {
		t.Fatal(err)
	}
	if c.API.PublicURL != "https://auth.example.com:8443/auth" {
		t.Fatalf("public_url = %q", c.API.PublicURL)
	}
	if c.API.APIKeys[0] != "from-a-file" {
		t.Fatalf("api key = %q", c.API.APIKeys[0])
	}
}
