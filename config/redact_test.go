package config

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestConfigNeverPrintsOrLogsSecrets(t *testing.T) {
	env := without(testEnv, "HOOLI_CLIENT_ID")
	env["HOOLI_CLIENT_ID"] = "hooli-public-client-id" // client ids are not secret
	c, _, err := loadString(t, strings.Replace(baseYAML, "store:\n  type: embedded", "store:\n  type: redis\n  redis: {url: \"redis://u:$<env:HOOLI_CLIENT_SECRET>@127.0.0.1:6379/0\", password: $<env:AUTHENGINE_API_KEY>}", 1), env)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	logger.Info("config", "api", c.API, "redis", c.Store.Redis, "provider", c.Auth.Providers[0],
		"root_key", c.Security.RootKeys[0], "worker", c.Tools.Workers[0].HTTP)
	outputs := map[string]string{
		"%v of the config":  fmt.Sprintf("%v", *c),
		"%+v of the config": fmt.Sprintf("%+v", *c),
		"%+v of a pointer":  fmt.Sprintf("%+v", c),
		"slog JSON":         logs.String(),
	}
	for name, out := range outputs {
		t.Run(name+" holds no secret", func(t *testing.T) {
			if strings.Contains(out, secretValue) || strings.Contains(out, rootKeyValue) {
				t.Fatalf("secret in output: %s", out)
			}
			if !strings.Contains(out, "hooli") {
				t.Fatalf("output lost non-secret fields: %s", out)
			}
		})
	}
}

// TestDisplayProvidersRedactReferences: request params and headers that
// took a value from the environment are redacted in the display copy, and
// the loaded config keeps the real values.
func TestDisplayProvidersRedactReferences(t *testing.T) {
	c, _, err := loadString(t, `
api: {development: true}
auth:
  providers:
    - id: acme
      client_id: id
      client_secret: $<env:ACME_SECRET>
      oauth2:
        authorize_request: {endpoint: "https://acme.example/authorize", params: {response_type: code}}
        token_request:
          endpoint: https://acme.example/token
          headers: {X-Api-Key: "key $<env:ACME_API_KEY>"}
          params: {audience: "https://api.acme.example"}
`, map[string]string{"ACME_SECRET": "s3cret-value-123", "ACME_API_KEY": "api-key-987654"})
	if err != nil {
		t.Fatal(err)
	}
	shown := c.DisplayProviders()[0].OAuth2.TokenRequest
	if got := shown.Headers["X-Api-Key"]; got != "key [redacted]" {
		t.Errorf("displayed header = %q, want the env value redacted", got)
	}
	if got := shown.Params["audience"]; got != "https://api.acme.example" {
		t.Errorf("displayed literal param = %q, want it unchanged", got)
	}
	if got := c.Auth.Providers[0].OAuth2.TokenRequest.Headers["X-Api-Key"]; got != "key api-key-987654" {
		t.Errorf("loaded header = %q, want the real value kept", got)
	}
}

// TestAttack_EnvValueInEndpointShownByAdminAPI: an operator who puts a
// secret into an endpoint URL (?api_key=$<env:X>, a tenant secret in the
// path) sees it redacted in the admin API's view, as params and headers
// are; the engine keeps calling the real URL.
func TestAttack_EnvValueInEndpointShownByAdminAPI(t *testing.T) {
	const apiKey, pathSecret = "endpoint-api-key-5551234", "path-secret-777888999"
	c, _, err := loadString(t, `
api: {development: true}
auth:
  providers:
    - id: acme
      client_id: id
      client_secret: s
      oauth2:
        authorize_request: {endpoint: "https://acme.example/authorize?k=$<env:ACME_KEY>", params: {response_type: code}}
        token_request: {endpoint: "https://acme.example/token?api_key=$<env:ACME_KEY>"}
        refresh_token_request: {endpoint: "https://acme.example/$<file:`+writeFile(t, "tenant", pathSecret+"\n")+`>/token"}
        user_info_request: {endpoint: "https://acme.example/me?api_key=$<env:ACME_KEY>&fields=id"}
`, map[string]string{"ACME_KEY": apiKey})
	if err != nil {
		t.Fatal(err)
	}
	o := c.DisplayProviders()[0].OAuth2
	for name, got := range map[string]string{
		"authorize": o.AuthorizeRequest.Endpoint, "token": o.TokenRequest.Endpoint,
		"refresh": o.RefreshTokenRequest.Endpoint, "user info": o.UserInfoRequest.Endpoint,
	} {
		if strings.Contains(got, apiKey) || strings.Contains(got, pathSecret) || !strings.Contains(got, "[redacted]") {
			t.Errorf("displayed %s endpoint = %q, want the referenced value redacted", name, got)
		}
	}
	if got := o.UserInfoRequest.Endpoint; got != "https://acme.example/me?api_key=[redacted]&fields=id" {
		t.Errorf("displayed user info endpoint = %q, want only the value redacted", got)
	}
	if got := c.Auth.Providers[0].OAuth2.TokenRequest.Endpoint; got != "https://acme.example/token?api_key="+apiKey {
		t.Errorf("loaded endpoint = %q, want the real value kept", got)
	}
}

func TestRedactReplacesReferencedValues(t *testing.T) {
	c, _, err := loadString(t, `
api: {development: true, public_url: "$<env:PUBLIC>"}
`, map[string]string{"PUBLIC": "https://auth.secret-host.example"})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Redact(`endpoint "https://auth.secret-host.example/x" is bad`); got != `endpoint "[redacted]/x" is bad` {
		t.Errorf("Redact = %q", got)
	}
}
