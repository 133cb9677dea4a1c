package config

import (
	"strings"
	"testing"

	"github.com/authengine/authengine/config/catalog"
)

// catalogTenantEnv returns an environment holding a sample value for every
// variable the template id reads.
func catalogTenantEnv(t testing.TB, id string) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, name := range catalog.Variables(id) {
		v := catalog.VariableExample(name)
		if v == "" {
			t.Fatalf("template %s reads %s, which has no catalog.VariableExample", id, name)
		}
		env[name] = v
	}
	return env
}

func TestCatalogTenantVariables(t *testing.T) {
	if got := strings.Join(catalog.Variables("keycloak"), ","); got != "KEYCLOAK_REALM,KEYCLOAK_URL" {
		t.Fatalf("Variables(keycloak) = %s", got)
	}
	if got := catalog.Variables("github"); len(got) != 0 {
		t.Fatalf("Variables(github) = %v", got)
	}
	t.Run("without its environment variable a tenant is given per connection", func(t *testing.T) {
		c, _, err := loadString(t, "api: {development: true}\nauth: {providers: [{provider_id: okta, client_id: i, client_secret: s}]}\n", nil)
		if err != nil {
			t.Fatal(err)
		}
		o := c.Auth.Providers[0].OAuth2
		if v := o.ConnectionVariables["domain"]; v.Value != "" || v.Pattern == "" || v.Env != "OKTA_DOMAIN" {
			t.Fatalf("domain = %+v", v)
		}
		if got := o.TokenRequest.Endpoint; got != "https://<<connection.domain>>/oauth2/default/v1/token" {
			t.Fatalf("token endpoint = %s", got)
		}
	})
	t.Run("its environment variable fixes the tenant for every connection", func(t *testing.T) {
		// A custom domain outside the template's pattern: the operator's
		// own value is not held to what apps may give.
		c, _, err := loadString(t, "api: {development: true}\nauth: {providers: [{provider_id: okta, client_id: i, client_secret: s}]}\n",
			map[string]string{"OKTA_DOMAIN": "login.acme.example"})
		if err != nil {
			t.Fatal(err)
		}
		if v := c.Auth.Providers[0].OAuth2.ConnectionVariables["domain"]; v.Value != "login.acme.example" {
			t.Fatalf("domain = %+v", v)
		}
	})
	t.Run("overriding the endpoints makes the variables unneeded", func(t *testing.T) {
		c, _, err := loadString(t, `
api: {development: true}
auth:
  providers:
    - provider_id: zendesk
      client_id: i
      client_secret: s
      oauth2:
        authorize_request: {endpoint: "https://acme.zendesk.com/oauth/authorizations/new"}
        token_request: {endpoint: "https://acme.zendesk.com/oauth/tokens"}
        user_info_request: {endpoint: "https://acme.zendesk.com/api/v2/users/me.json"}
`, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Auth.Providers[0].OAuth2.TokenRequest.Endpoint; got != "https://acme.zendesk.com/oauth/tokens" {
			t.Fatalf("token endpoint = %s", got)
		}
	})
}

// TestParseProviderLeavesTenantVariablesAlone: the admin API's parser
// never reads the engine's environment, so a template's tenant stays a
// per-connection variable there whatever the environment holds.
func TestParseProviderLeavesTenantVariablesAlone(t *testing.T) {
	t.Setenv("OKTA_DOMAIN", "acme.okta.com")
	p, _, err := ParseProvider(map[string]any{"provider_id": "okta", "client_id": "i", "client_secret": "s"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if v := p.OAuth2.ConnectionVariables["domain"]; v.Value != "" {
		t.Fatalf("domain fixed from the environment: %+v", v)
	}
}

func TestConnectionVariableMistakes(t *testing.T) {
	for _, tt := range []struct{ vars, want string }{
		{`{sub: {example: acme}}`, "connection_variables.sub.pattern: is required"},
		{`{sub: {pattern: "[a-", example: acme}}`, "connection_variables.sub.pattern: is not a valid regular expression"},
		{`{sub: {pattern: "[a-z]+"}}`, "connection_variables.sub.example: is required"},
		{`{sub: {pattern: "[a-z]+", example: "Acme"}}`, "connection_variables.sub.example: does not match the pattern [a-z]+"},
		{`{Sub: {pattern: "[a-z]+", example: acme}}`, "connection_variables.Sub: a variable's name must be lower-case"},
		{`{sub: {pattern: "[a-z]+", example: acme, colour: red}}`, "connection_variables.sub.colour: unknown key"},
	} {
		_, _, err := loadString(t, "api: {development: true}\nauth: {providers: [{provider_id: zendesk, client_id: i, client_secret: s, oauth2: {connection_variables: "+tt.vars+"}}]}\n", nil)
		if err == nil || !strings.Contains(err.Error(), "auth.providers[zendesk].oauth2."+tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.vars, err, tt.want)
		}
	}
}

func TestRedirectMetadataMistakes(t *testing.T) {
	for _, tt := range []struct{ list, want string }{
		{`[""]`, "oauth2.redirect_metadata[0]: must name a query parameter"},
		{`[code]`, `oauth2.redirect_metadata[0]: "code" is the callback's own parameter`},
		{`[realmId, realmId]`, `oauth2.redirect_metadata[1]: "realmId" is listed twice`},
	} {
		_, _, err := loadString(t, "api: {development: true}\nauth: {providers: [{provider_id: quickbooks, client_id: i, client_secret: s, oauth2: {redirect_metadata: "+tt.list+"}}]}\n", nil)
		if err == nil || !strings.Contains(err.Error(), "auth.providers[quickbooks]."+tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.list, err, tt.want)
		}
	}
}
