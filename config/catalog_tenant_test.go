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
	t.Run("a missing tenant variable is an error naming it and the field", func(t *testing.T) {
		_, _, err := loadString(t, "api: {development: true}\nauth: {providers: [{provider_id: okta, client_id: i, client_secret: s}]}\n", nil)
		if err == nil || !strings.Contains(err.Error(), "OKTA_DOMAIN") || !strings.Contains(err.Error(), "auth.providers[okta].oauth2.authorize_request.endpoint") {
			t.Fatalf("err = %v", err)
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
// never reads the engine's environment, so a template whose host comes
// from a variable is refused there, naming the fields, unless the caller
// gives the endpoints.
func TestParseProviderLeavesTenantVariablesAlone(t *testing.T) {
	_, _, err := ParseProvider(map[string]any{"provider_id": "okta", "client_id": "i", "client_secret": "s"}, "")
	if err == nil || !strings.Contains(err.Error(), "oauth2.token_request.endpoint") {
		t.Fatalf("err = %v", err)
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
