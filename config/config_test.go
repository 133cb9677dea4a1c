package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	yamlv3 "go.yaml.in/yaml/v3"
)

// secretValue is what every environment variable holds in these tests; no
// error or warning may ever contain it.
const secretValue = "s3cr3t-VALUE-do-not-print"

// rootKeyValue is a valid root key (32 bytes of 'k', base64).
const rootKeyValue = "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s="

// baseYAML is a complete production-shape configuration that loads
// without errors; the mistakes table changes one thing in it per row.
const baseYAML = `
api:
  development: false
  public_url: https://auth.example.com
  api_keys: [$<env:AUTHENGINE_API_KEY>]
  admin_keys: [$<env:AUTHENGINE_ADMIN_KEY>]
security:
  root_keys:
    - id: k1
      value: ` + rootKeyValue + `
store:
  type: embedded
auth:
  user_verification: {enabled: true, verifier_url: https://app.example.com/verify}
  providers:
    - id: hooli
      client_id: $<env:HOOLI_CLIENT_ID>
      client_secret: $<env:HOOLI_CLIENT_SECRET>
      oauth2:
        pkce: {enabled: true}
        default_scopes: [openid]
        allowed_scopes: [openid, "read:*"]
        authorize_request:
          endpoint: https://hooli.example/oauth/authorize
          params: {response_type: code, client_id: <<client_id>>, redirect_uri: <<redirect_uri>>, scope: <<scopes>>}
        token_request:
          endpoint: https://hooli.example/oauth/token
          auth_method: client_secret_basic
          params: {grant_type: authorization_code, redirect_uri: <<redirect_uri>>}
          response_map:
            access_token: $.data.access_token
            expires_in: $.data.expires_in
        refresh_token_request:
          endpoint: https://hooli.example/oauth/token
          params: {grant_type: refresh_token, refresh_token: <<refresh_token>>}
        user_info_request:
          endpoint: https://hooli.example/oauth/userinfo
tools:
  workers:
    - id: local
      http:
        uri: http://127.0.0.1:8002
        secret: $<env:AUTHENGINE_WORKER_SECRET>
`

// testEnv is the environment of the base configuration.
var testEnv = map[string]string{
	"AUTHENGINE_API_KEY":       secretValue + "-api",
	"AUTHENGINE_ADMIN_KEY":     secretValue + "-admin",
	"HOOLI_CLIENT_ID":          secretValue + "-id",
	"HOOLI_CLIENT_SECRET":      secretValue + "-secret",
	"AUTHENGINE_WORKER_SECRET": secretValue + "-worker",
}

func lookupIn(env map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
}

// writeFile writes content to name in a fresh temp dir and returns the path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// loadString loads YAML text with the given environment and no .env file.
func loadString(t *testing.T, text string, env map[string]string) (*Config, []string, error) {
	t.Helper()
	path := writeFile(t, "engine.yaml", text)
	empty := writeFile(t, "empty.env", "")
	return Load(path, WithEnvFile(empty), WithLookupEnv(lookupIn(env)))
}

// baseDoc returns the base configuration as a raw tree to change.
func baseDoc(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := yamlv3.Unmarshal([]byte(baseYAML), &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// at walks a raw tree by keys and list indexes ("auth", "providers", 0, ...).
func at(doc map[string]any, keys ...any) map[string]any {
	var cur any = doc
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			cur = cur.(map[string]any)[k]
		case int:
			cur = cur.([]any)[k]
		}
	}
	return cur.(map[string]any)
}

func hooli(doc map[string]any) map[string]any { return at(doc, "auth", "providers", 0) }
func hooliOAuth(doc map[string]any) map[string]any {
	return at(doc, "auth", "providers", 0, "oauth2")
}

// TestLinkPhishingWarning: with development off and user verification
// off, whoever opens an authorization link connects their own account to
// the link's user; the configuration says so (check prints it, serve logs
// it at start), and says nothing in development mode.
func TestLinkPhishingWarning(t *testing.T) {
	for _, dev := range []bool{false, true} {
		doc := baseDoc(t)
		delete(at(doc, "auth"), "user_verification")
		at(doc, "api")["development"] = dev
		out, err := yamlv3.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		_, warnings, err := loadString(t, string(out), testEnv)
		if err != nil {
			t.Fatalf("development=%v: %v", dev, err)
		}
		found := false
		for _, w := range warnings {
			if strings.HasPrefix(w, "auth.user_verification: ") && strings.Contains(w, "connects their own account") {
				found = true
			}
		}
		if found == dev {
			t.Errorf("development=%v: link-phishing warning present=%v in %q", dev, found, warnings)
		}
	}
}

func TestBaseConfigLoadsCleanly(t *testing.T) {
	c, warnings, err := loadString(t, baseYAML, testEnv)
	if err != nil {
		t.Fatalf("base config: %v", err)
	}
	if len(warnings) != 0 {
		t.Fatalf("base config warnings: %v", warnings)
	}
	if got := c.Auth.Providers[0].ClientSecret; got != testEnv["HOOLI_CLIENT_SECRET"] {
		t.Fatalf("client_secret not interpolated: got %d bytes", len(got))
	}
}

func TestConfigMistakes(t *testing.T) {
	tests := []struct {
		name     string
		mutate   func(doc map[string]any)
		env      map[string]string // nil: testEnv
		wantPath string
		wantMsg  string
		// only: the error is the only one reported (its follow-ons, such
		// as "is required" for the field it left empty, are dropped).
		only bool
	}{
		{
			name: "a typo in a request key is reported with the closest valid key",
			mutate: func(d map[string]any) {
				o := hooliOAuth(d)
				o["tokn_request"] = o["token_request"]
				delete(o, "token_request")
			},
			wantPath: "auth.providers[hooli].oauth2.tokn_request",
			wantMsg:  `unknown key (did you mean "token_request"?)`,
		},
		{
			name:     "a typo in a top-level section is reported with a suggestion",
			mutate:   func(d map[string]any) { d["telemtry"] = map[string]any{} },
			wantPath: "telemtry",
			wantMsg:  `did you mean "telemetry"?`,
		},
		{
			name:     "a public_url that already ends in the callback path is an error",
			mutate:   func(d map[string]any) { at(d, "api")["public_url"] = "https://auth.example.com/oauth/callback/" },
			wantPath: "api.public_url",
			wantMsg:  "must be the engine's base URL, without /oauth/callback (the engine adds it: the redirect URI would be https://auth.example.com/oauth/callback/oauth/callback)",
			only:     true,
		},
		{
			name:     "a typo in an api key is reported with a suggestion",
			mutate:   func(d map[string]any) { at(d, "api")["publc_url"] = "https://x.example" },
			wantPath: "api.publc_url",
			wantMsg:  `did you mean "public_url"?`,
		},
		{
			name:     "a swapped-letter typo in a provider key is suggested",
			mutate:   func(d map[string]any) { hooli(d)["cleint_id"] = "x" },
			wantPath: "auth.providers[hooli].cleint_id",
			wantMsg:  `did you mean "client_id"?`,
		},
		{
			name:     "a port that is not a number is a type error",
			mutate:   func(d map[string]any) { at(d, "api")["port"] = "ninety" },
			wantPath: "api.port",
			wantMsg:  "must be a whole number",
		},
		{
			name:     "providers given as a map instead of a list is a type error",
			mutate:   func(d map[string]any) { at(d, "auth")["providers"] = map[string]any{"hooli": map[string]any{}} },
			wantPath: "auth.providers",
			wantMsg:  "must be a list, not a map",
		},
		{
			name:     "a list where a string belongs is a type error",
			mutate:   func(d map[string]any) { hooli(d)["client_id"] = []any{"a", "b"} },
			wantPath: "auth.providers[hooli].client_id",
			wantMsg:  "must be a string, not a list",
		},
		{
			name:     "a missing variable in an enabled provider names the variable",
			env:      without(testEnv, "HOOLI_CLIENT_SECRET"),
			wantPath: "auth.providers[hooli].client_secret",
			wantMsg:  "environment variable HOOLI_CLIENT_SECRET is not set",
			only:     true,
		},
		{
			name:     "a missing variable in the api keys names the variable",
			env:      without(testEnv, "AUTHENGINE_API_KEY"),
			wantPath: "api.api_keys[0]",
			wantMsg:  "environment variable AUTHENGINE_API_KEY is not set",
		},
		{
			name:     "a missing variable in a worker names the variable",
			env:      without(testEnv, "AUTHENGINE_WORKER_SECRET"),
			wantPath: "tools.workers[local].http.secret",
			wantMsg:  "environment variable AUTHENGINE_WORKER_SECRET is not set",
		},
		{
			name: "an unreadable secret file names the file",
			mutate: func(d map[string]any) {
				at(d, "security", "root_keys", 0)["value"] = "$<file:/nonexistent/authengine/root.key>"
			},
			wantPath: "security.root_keys[k1].value",
			wantMsg:  "cannot read file /nonexistent/authengine/root.key: no such file",
		},
		{
			name:     "an unknown reference kind is an error",
			mutate:   func(d map[string]any) { at(d, "store")["embedded"] = map[string]any{"path": "$<vault:db>"} },
			wantPath: "store.embedded.path",
			wantMsg:  `unknown reference kind "vault"`,
		},
		{
			name:     "a shell-style ${NAME} is an error naming the right syntax",
			mutate:   func(d map[string]any) { hooli(d)["client_secret"] = "${HOOLI_CLIENT_SECRET}" },
			wantPath: "auth.providers[hooli].client_secret",
			wantMsg:  "${HOOLI_CLIENT_SECRET} is not expanded here and would be used literally; write $<env:HOOLI_CLIENT_SECRET>",
			only:     true,
		},
		{
			name: "a misspelt required key is one error, without the follow-on that it is missing",
			mutate: func(d map[string]any) {
				hooli(d)["clent_id"] = hooli(d)["client_id"]
				delete(hooli(d), "client_id")
			},
			wantPath: "auth.providers[hooli].clent_id",
			wantMsg:  `unknown key (did you mean "client_id"?)`,
			only:     true,
		},
		{
			name: "an unknown provider_id is one error, without the blocks its template would have given",
			mutate: func(d map[string]any) {
				hooli(d)["provider_id"] = "githbu"
				delete(hooli(d), "oauth2")
			},
			wantPath: "auth.providers[hooli].provider_id",
			wantMsg:  `unknown built-in provider "githbu" (did you mean "github"?)`,
			only:     true,
		},
		{
			name:     "a compose-style ${NAME:-default} is an error too",
			mutate:   func(d map[string]any) { hooli(d)["client_secret"] = "${HOOLI_CLIENT_SECRET:-x}" },
			wantPath: "auth.providers[hooli].client_secret",
			wantMsg:  "write $<env:HOOLI_CLIENT_SECRET>",
		},
		{
			name:     "an unclosed $<env: reference is an error",
			mutate:   func(d map[string]any) { hooli(d)["client_secret"] = "$<env:HOOLI_CLIENT_SECRET" },
			wantPath: "auth.providers[hooli].client_secret",
			wantMsg:  `reference $<env:... is not closed (add ">" at its end`,
		},
		{
			name:     "an unclosed ${file: reference is an error",
			mutate:   func(d map[string]any) { hooli(d)["client_secret"] = "${file:/run/secrets/x" },
			wantPath: "auth.providers[hooli].client_secret",
			wantMsg:  `reference ${file:... is not closed (add "}" at its end`,
		},
		{
			name:     "Arcade's ${env:NAME} names a missing variable like $<env:NAME>",
			mutate:   func(d map[string]any) { hooli(d)["client_secret"] = "${env:NOT_SET_ANYWHERE}" },
			wantPath: "auth.providers[hooli].client_secret",
			wantMsg:  "environment variable NOT_SET_ANYWHERE is not set",
		},
		{
			name: "a duplicate provider id is an error",
			mutate: func(d map[string]any) {
				a := at(d, "auth")
				a["providers"] = append(a["providers"].([]any), deepCopy(hooli(d)))
			},
			wantPath: "auth.providers[1].id",
			wantMsg:  `duplicate provider id "hooli" (entry 0 has it too; entries count from 0)`,
			only:     true,
		},
		{
			name:     "a provider id that is not URL-safe is an error",
			mutate:   func(d map[string]any) { hooli(d)["id"] = "hoo li" },
			wantPath: "auth.providers[hoo li].id",
			wantMsg:  "must contain only letters, digits",
		},
		{
			name:     "a provider without an id is an error at its index",
			mutate:   func(d map[string]any) { delete(hooli(d), "id") },
			wantPath: "auth.providers[0].id",
			wantMsg:  "is required",
		},
		{
			name:     "an enabled provider without client_id is an error",
			mutate:   func(d map[string]any) { delete(hooli(d), "client_id") },
			wantPath: "auth.providers[hooli].client_id",
			wantMsg:  "is required for an enabled provider",
		},
		{
			name:     "a client_secret_basic provider without client_secret is an error",
			mutate:   func(d map[string]any) { delete(hooli(d), "client_secret") },
			wantPath: "auth.providers[hooli].client_secret",
			wantMsg:  "is required by auth_method",
		},
		{
			name:     "an endpoint that is not http or https is an error",
			mutate:   func(d map[string]any) { at(hooliOAuth(d), "token_request")["endpoint"] = "ftp://hooli.example/token" },
			wantPath: "auth.providers[hooli].oauth2.token_request.endpoint",
			wantMsg:  "must be an absolute http:// or https:// URL",
		},
		{
			name:     "a relative endpoint is an error",
			mutate:   func(d map[string]any) { at(hooliOAuth(d), "authorize_request")["endpoint"] = "/oauth/authorize" },
			wantPath: "auth.providers[hooli].oauth2.authorize_request.endpoint",
			wantMsg:  "must be an absolute http:// or https:// URL",
		},
		{
			name:     "a missing endpoint is an error",
			mutate:   func(d map[string]any) { delete(at(hooliOAuth(d), "user_info_request"), "endpoint") },
			wantPath: "auth.providers[hooli].oauth2.user_info_request.endpoint",
			wantMsg:  "is required",
		},
		{
			name:     "an unknown grant type is an error",
			mutate:   func(d map[string]any) { hooliOAuth(d)["grant_type"] = "password" },
			wantPath: "auth.providers[hooli].oauth2.grant_type",
			wantMsg:  "must be authorization_code or client_credentials",
		},
		{
			name:     "PKCE with client credentials is an error",
			mutate:   func(d map[string]any) { hooliOAuth(d)["grant_type"] = "client_credentials" },
			wantPath: "auth.providers[hooli].oauth2.pkce.enabled",
			wantMsg:  "PKCE does not apply to grant_type client_credentials",
		},
		{
			name: "client credentials without a token request is an error",
			mutate: func(d map[string]any) {
				o := hooliOAuth(d)
				o["grant_type"] = "client_credentials"
				delete(o, "pkce")
				delete(o, "token_request")
			},
			wantPath: "auth.providers[hooli].oauth2.token_request",
			wantMsg:  "is required for grant_type client_credentials",
		},
		{
			name:     "authorization code without an authorize request is an error",
			mutate:   func(d map[string]any) { delete(hooliOAuth(d), "authorize_request") },
			wantPath: "auth.providers[hooli].oauth2.authorize_request",
			wantMsg:  "is required for grant_type authorization_code",
		},
		{
			name:     "authorization code without a token request is an error",
			mutate:   func(d map[string]any) { delete(hooliOAuth(d), "token_request") },
			wantPath: "auth.providers[hooli].oauth2.token_request",
			wantMsg:  "is required for grant_type authorization_code",
		},
		{
			name:     "bearer_access_token on the token request is an error",
			mutate:   func(d map[string]any) { at(hooliOAuth(d), "token_request")["auth_method"] = "bearer_access_token" },
			wantPath: "auth.providers[hooli].oauth2.token_request.auth_method",
			wantMsg:  `must be one of none, client_secret_basic, client_secret_post, not "bearer_access_token"`,
		},
		{
			name:     "client_secret_post on the user info request is an error",
			mutate:   func(d map[string]any) { at(hooliOAuth(d), "user_info_request")["auth_method"] = "client_secret_post" },
			wantPath: "auth.providers[hooli].oauth2.user_info_request.auth_method",
			wantMsg:  "must be one of bearer_access_token, none",
		},
		{
			name:     "an unknown refresh auth method is an error",
			mutate:   func(d map[string]any) { at(hooliOAuth(d), "refresh_token_request")["auth_method"] = "private_key_jwt" },
			wantPath: "auth.providers[hooli].oauth2.refresh_token_request.auth_method",
			wantMsg:  "bearer_access_token",
		},
		{
			name:     "a GET token request is an error",
			mutate:   func(d map[string]any) { at(hooliOAuth(d), "token_request")["method"] = "GET" },
			wantPath: "auth.providers[hooli].oauth2.token_request.method",
			wantMsg:  "must be POST",
		},
		{
			name:     "a POST authorize request is an error",
			mutate:   func(d map[string]any) { at(hooliOAuth(d), "authorize_request")["method"] = "POST" },
			wantPath: "auth.providers[hooli].oauth2.authorize_request.method",
			wantMsg:  "must be GET",
		},
		{
			name:     "an unsupported request content type is an error",
			mutate:   func(d map[string]any) { at(hooliOAuth(d), "token_request")["request_content_type"] = "text/plain" },
			wantPath: "auth.providers[hooli].oauth2.token_request.request_content_type",
			wantMsg:  "must be application/x-www-form-urlencoded or application/json",
		},
		{
			name:     "a token response map without expires_in is an error",
			mutate:   func(d map[string]any) { delete(at(hooliOAuth(d), "token_request", "response_map"), "expires_in") },
			wantPath: "auth.providers[hooli].oauth2.token_request.response_map",
			wantMsg:  "must map expires_in",
		},
		{
			name:     "a token response map without access_token is an error",
			mutate:   func(d map[string]any) { delete(at(hooliOAuth(d), "token_request", "response_map"), "access_token") },
			wantPath: "auth.providers[hooli].oauth2.token_request.response_map",
			wantMsg:  "must map access_token",
		},
		{
			name:     "the plain PKCE method is an error",
			mutate:   func(d map[string]any) { at(hooliOAuth(d), "pkce")["code_challenge_method"] = "plain" },
			wantPath: "auth.providers[hooli].oauth2.pkce.code_challenge_method",
			wantMsg:  "must be S256",
		},
		{
			name:     "a malformed allowed scope pattern is an error",
			mutate:   func(d map[string]any) { hooliOAuth(d)["allowed_scopes"] = []any{"openid", "read:["} },
			wantPath: "auth.providers[hooli].oauth2.allowed_scopes[1]",
			wantMsg:  "is not a valid pattern",
		},
		{
			name:     "a default scope outside the allowed patterns is an error",
			mutate:   func(d map[string]any) { hooliOAuth(d)["default_scopes"] = []any{"admin"} },
			wantPath: "auth.providers[hooli].oauth2.default_scopes[0]",
			wantMsg:  "is not matched by allowed_scopes",
		},
		{
			name: "triggers on a token request are an error",
			mutate: func(d map[string]any) {
				at(hooliOAuth(d), "token_request")["triggers"] = map[string]any{"on_token_grant": true}
			},
			wantPath: "auth.providers[hooli].oauth2.token_request.triggers",
			wantMsg:  "applies only to user_info_request",
		},
		{
			name: "an invalid header name is an error",
			mutate: func(d map[string]any) {
				at(hooliOAuth(d), "user_info_request")["headers"] = map[string]any{"Bad Header": "x"}
			},
			wantPath: "auth.providers[hooli].oauth2.user_info_request.headers.Bad Header",
			wantMsg:  "is not a valid HTTP header name",
		},
		{
			name: "refresh_request and refresh_token_request together are an error",
			mutate: func(d map[string]any) {
				o := hooliOAuth(d)
				o["refresh_request"] = deepCopy(o["refresh_token_request"])
			},
			wantPath: "auth.providers[hooli].oauth2.refresh_request",
			wantMsg:  "give one of them, not both",
		},
		{
			name:     "an unknown built-in provider is reported with the closest one",
			mutate:   func(d map[string]any) { hooli(d)["provider_id"] = "githb" },
			wantPath: "auth.providers[hooli].provider_id",
			wantMsg:  `unknown built-in provider "githb" (did you mean "github"?)`,
		},
		{
			name:     "a root key of the wrong size is an error",
			mutate:   func(d map[string]any) { at(d, "security", "root_keys", 0)["value"] = "c2hvcnQta2V5" },
			wantPath: "security.root_keys[k1].value",
			wantMsg:  "must decode to exactly 32 bytes, not 9",
		},
		{
			name:     "a root key that is not base64 is an error",
			mutate:   func(d map[string]any) { at(d, "security", "root_keys", 0)["value"] = "not base64 at all!" },
			wantPath: "security.root_keys[k1].value",
			wantMsg:  "does not decode as base64",
		},
		{
			name: "duplicate root key ids are an error",
			mutate: func(d map[string]any) {
				s := at(d, "security")
				s["root_keys"] = append(s["root_keys"].([]any), map[string]any{"id": "k1", "value": rootKeyValue})
			},
			wantPath: "security.root_keys[1].id",
			wantMsg:  `duplicate root key id "k1" (entry 0 has it too; entries count from 0)`,
			only:     true,
		},
		{
			name:     "a root key without an id is an error",
			mutate:   func(d map[string]any) { delete(at(d, "security", "root_keys", 0), "id") },
			wantPath: "security.root_keys[0].id",
			wantMsg:  "must not be empty",
		},
		{
			name:     "an unknown store type is an error",
			mutate:   func(d map[string]any) { at(d, "store")["type"] = "memcached" },
			wantPath: "store.type",
			wantMsg:  `must be embedded or redis, not "memcached"`,
		},
		{
			name:     "redis without url or addrs is an error",
			mutate:   func(d map[string]any) { at(d, "store")["type"] = "redis" },
			wantPath: "store.redis",
			wantMsg:  "give url or addrs",
		},
		{
			name: "a redis url with the wrong scheme is an error",
			mutate: func(d map[string]any) {
				at(d, "store")["type"] = "redis"
				at(d, "store")["redis"] = map[string]any{"url": "http://127.0.0.1:6379"}
			},
			wantPath: "store.redis.url",
			wantMsg:  "scheme must be redis, rediss or unix",
		},
		{
			name: "a redis address without a port is an error",
			mutate: func(d map[string]any) {
				at(d, "store")["type"] = "redis"
				at(d, "store")["redis"] = map[string]any{"addrs": []any{"127.0.0.1"}}
			},
			wantPath: "store.redis.addrs[0]",
			wantMsg:  "must be host:port",
		},
		{
			name:     "a zero flow TTL is an error",
			mutate:   func(d map[string]any) { d["auth"].(map[string]any)["flow_ttl"] = "0s" },
			wantPath: "auth.flow_ttl",
			wantMsg:  "must be a positive duration",
		},
		{
			name:     "a negative refresh margin is an error",
			mutate:   func(d map[string]any) { d["auth"].(map[string]any)["refresh_margin"] = "-5s" },
			wantPath: "auth.refresh_margin",
			wantMsg:  "must be a positive duration",
		},
		{
			name:     "a duration without a unit is an error",
			mutate:   func(d map[string]any) { d["auth"].(map[string]any)["flow_ttl"] = 600 },
			wantPath: "auth.flow_ttl",
			wantMsg:  "must be a duration with a unit",
		},
		{
			name:     "an unknown log level is an error",
			mutate:   func(d map[string]any) { d["telemetry"] = map[string]any{"log": map[string]any{"level": "verbose"}} },
			wantPath: "telemetry.log.level",
			wantMsg:  "must be debug, info, warn or error",
		},
		{
			name:     "an unknown log format is an error",
			mutate:   func(d map[string]any) { d["telemetry"] = map[string]any{"log": map[string]any{"format": "xml"}} },
			wantPath: "telemetry.log.format",
			wantMsg:  "must be json or text",
		},
		{
			name: "duplicate worker ids are an error",
			mutate: func(d map[string]any) {
				tl := at(d, "tools")
				tl["workers"] = append(tl["workers"].([]any), deepCopy(at(d, "tools", "workers", 0)))
			},
			wantPath: "tools.workers[1].id",
			wantMsg:  `duplicate worker id "local" (entry 0 has it too; entries count from 0)`,
			only:     true,
		},
		{
			name:     "a worker uri that is not a URL is an error",
			mutate:   func(d map[string]any) { at(d, "tools", "workers", 0, "http")["uri"] = "127.0.0.1:8002" },
			wantPath: "tools.workers[local].http.uri",
			wantMsg:  "must be an absolute http:// or https:// URL",
		},
		{
			name:     "a negative worker retry count is an error",
			mutate:   func(d map[string]any) { at(d, "tools", "workers", 0, "http")["retry"] = -1 },
			wantPath: "tools.workers[local].http.retry",
			wantMsg:  "must not be negative",
		},
		{
			name:     "production mode without API keys is an error",
			mutate:   func(d map[string]any) { delete(at(d, "api"), "api_keys") },
			wantPath: "api.api_keys",
			wantMsg:  "at least one API key is required when api.development is false",
		},
		{
			name:     "production mode without root keys is an error",
			mutate:   func(d map[string]any) { delete(d, "security") },
			wantPath: "security.root_keys",
			wantMsg:  "at least one root key is required when api.development is false",
		},
		{
			name:     "user verification without a verifier URL is an error",
			mutate:   func(d map[string]any) { at(d, "auth")["user_verification"] = map[string]any{"enabled": true} },
			wantPath: "auth.user_verification.verifier_url",
			wantMsg:  "is required when user verification is enabled",
		},
		{
			name:     "a public URL without a scheme is an error",
			mutate:   func(d map[string]any) { at(d, "api")["public_url"] = "auth.example.com" },
			wantPath: "api.public_url",
			wantMsg:  "must be an absolute http:// or https:// URL",
		},
		{
			name:     "a public URL with a query is an error",
			mutate:   func(d map[string]any) { at(d, "api")["public_url"] = "https://auth.example.com/?x=1" },
			wantPath: "api.public_url",
			wantMsg:  "must not have a query or fragment",
		},
		{
			name:     "an issuer that is not an absolute http(s) URL is an error",
			mutate:   func(d map[string]any) { hooliOAuth(d)["issuer"] = "id.example.com" },
			wantPath: "auth.providers[hooli].oauth2.issuer",
			wantMsg:  "must be an absolute http:// or https:// URL",
		},
		{
			name:     "an issuer with a query is an error",
			mutate:   func(d map[string]any) { hooliOAuth(d)["issuer"] = "https://id.example.com/?tenant=a" },
			wantPath: "auth.providers[hooli].oauth2.issuer",
			wantMsg:  "must not have a query or fragment",
		},
		{
			name:     "type mcp without mcp.url is an error",
			mutate:   func(d map[string]any) { hooli(d)["type"] = "mcp" },
			wantPath: "auth.providers[hooli].mcp.url",
			wantMsg:  "is required for type mcp",
		},
		{
			name:     "mcp.url on an oauth2 provider is an error",
			mutate:   func(d map[string]any) { hooli(d)["mcp"] = map[string]any{"url": "https://mcp.example.com/mcp"} },
			wantPath: "auth.providers[hooli].mcp.url",
			wantMsg:  "applies only to type mcp",
		},
		{
			name: "an MCP server's url must be an absolute URL",
			mutate: func(d map[string]any) {
				hooli(d)["type"] = "mcp"
				hooli(d)["mcp"] = map[string]any{"url": "mcp.example.com/mcp"}
			},
			wantPath: "auth.providers[hooli].mcp.url",
			wantMsg:  "must be an absolute http:// or https:// URL",
		},
		{
			name: "an issuer on type mcp is an error",
			mutate: func(d map[string]any) {
				hooli(d)["type"] = "mcp"
				hooli(d)["mcp"] = map[string]any{"url": "https://mcp.example.com/mcp"}
				hooliOAuth(d)["issuer"] = "https://id.example.com"
			},
			wantPath: "auth.providers[hooli].oauth2.issuer",
			wantMsg:  "does not apply to type mcp",
		},
		{
			name:     "a provider type other than oauth2 is an error",
			mutate:   func(d map[string]any) { hooli(d)["type"] = "saml" },
			wantPath: "auth.providers[hooli].type",
			wantMsg:  `must be oauth2 or mcp, not "saml"`,
		},
		{
			name:     "an enum field fed from the environment never echoes the value",
			mutate:   func(d map[string]any) { hooli(d)["type"] = "$<env:HOOLI_CLIENT_SECRET>" },
			wantPath: "auth.providers[hooli].type",
			wantMsg:  `must be oauth2 or mcp, not "[redacted]"`,
		},
		{
			name:     "a nested map in params is a type error",
			mutate:   func(d map[string]any) { at(hooliOAuth(d), "token_request", "params")["extra"] = map[string]any{"a": 1} },
			wantPath: "auth.providers[hooli].oauth2.token_request.params.extra",
			wantMsg:  "must be a string, not a map",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := baseDoc(t)
			if tt.mutate != nil {
				tt.mutate(doc)
			}
			text, err := yamlv3.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			env := tt.env
			if env == nil {
				env = testEnv
			}
			c, warnings, err := loadString(t, string(text), env)
			if err == nil {
				t.Fatalf("Load succeeded; want an error at %s", tt.wantPath)
			}
			if c != nil {
				t.Errorf("Load returned a config along with an error")
			}
			var errs *Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, want *Errors: %v", err, err)
			}
			found := false
			for _, f := range errs.Fields {
				if f.Path == tt.wantPath && strings.Contains(f.Message, tt.wantMsg) {
					found = true
				}
			}
			if !found {
				t.Errorf("no error at %s containing %q; got:\n%v", tt.wantPath, tt.wantMsg, err)
			}
			if tt.only && len(errs.Fields) != 1 {
				t.Errorf("want this error alone, got %d:\n%v", len(errs.Fields), err)
			}
			assertNoSecret(t, err.Error(), warnings)
		})
	}
}

// assertNoSecret fails when an error or warning contains a secret value.
func assertNoSecret(t *testing.T, errText string, warnings []string) {
	t.Helper()
	for _, s := range append([]string{errText}, warnings...) {
		if strings.Contains(s, secretValue) || strings.Contains(s, rootKeyValue) {
			t.Errorf("a secret value leaked into %q", s)
		}
	}
}

func without(env map[string]string, names ...string) map[string]string {
	out := make(map[string]string, len(env))
	for k, v := range env {
		out[k] = v
	}
	for _, n := range names {
		delete(out, n)
	}
	return out
}

func TestAllErrorsAreReportedAtOnce(t *testing.T) {
	doc := baseDoc(t)
	hooliOAuth(doc)["tokn_request"] = map[string]any{}
	at(doc, "api")["port"] = 70000
	at(doc, "store")["type"] = "memcached"
	doc["telemetry"] = map[string]any{"log": map[string]any{"level": "loud"}}
	at(doc, "security", "root_keys", 0)["value"] = "c2hvcnQ="
	text, _ := yamlv3.Marshal(doc)

	_, _, err := loadString(t, string(text), without(testEnv, "HOOLI_CLIENT_ID"))
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want *Errors, got %v", err)
	}
	want := []string{
		"api.port",
		"auth.providers[hooli].client_id",
		"auth.providers[hooli].oauth2.tokn_request",
		"security.root_keys[k1].value",
		"store.type",
		"telemetry.log.level",
	}
	got := map[string]bool{}
	for _, f := range errs.Fields {
		got[f.Path] = true
	}
	for _, p := range want {
		if !got[p] {
			t.Errorf("missing error at %s; got:\n%v", p, err)
		}
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(errs.Fields) {
		t.Errorf("Error() has %d lines for %d errors", len(lines), len(errs.Fields))
	}
	for i := 1; i < len(lines); i++ {
		if lines[i-1] > lines[i] {
			t.Errorf("Error() lines are not sorted by path: %q before %q", lines[i-1], lines[i])
		}
	}
}
