package config

import (
	"strings"
	"testing"
)

func TestRevocationRequestIsValidatedWithItsFieldPath(t *testing.T) {
	withRevocation := func(block string) string {
		return strings.Replace(baseYAML, "        user_info_request:\n", "        revocation_request:\n"+block+"        user_info_request:\n", 1)
	}
	c, _, err := loadString(t, withRevocation("          endpoint: https://hooli.example/oauth/revoke\n"), testEnv)
	if err != nil {
		t.Fatalf("a revocation_request with only an endpoint: %v", err)
	}
	r := c.Auth.Providers[0].OAuth2.RevocationRequest
	if r == nil || r.Method != "POST" || r.AuthMethod != AuthClientSecretBasic {
		t.Errorf("revocation_request defaults = %+v, want POST with the token request's client_secret_basic", r)
	}
	for _, tc := range []struct{ name, block, want string }{
		{"GET", "          endpoint: https://hooli.example/oauth/revoke\n          method: GET\n", "auth.providers[hooli].oauth2.revocation_request.method: must be POST"},
		{"bearer auth", "          endpoint: https://hooli.example/oauth/revoke\n          auth_method: bearer_access_token\n", "auth.providers[hooli].oauth2.revocation_request.auth_method"},
		{"no endpoint", "          method: POST\n", "auth.providers[hooli].oauth2.revocation_request.endpoint: is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := loadString(t, withRevocation(tc.block), testEnv)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
