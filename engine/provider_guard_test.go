package engine

import (
	"slices"
	"testing"

	"github.com/authengine/authengine/config"
)

func TestSecretRoutingChanges(t *testing.T) {
	base := func() config.Provider {
		return config.Provider{ID: "acme", ClientID: "tenant1", ClientSecret: "s", OAuth2: config.OAuth2{
			AuthorizeRequest:  &config.Request{Endpoint: "https://acme.example/authorize", Params: map[string]string{"response_type": "code"}},
			TokenRequest:      &config.Request{Endpoint: "https://<<client_id>>.acme.example/token", AuthMethod: "client_secret_basic", Method: "POST"},
			UserInfoRequest:   &config.Request{Endpoint: "https://api.acme.example/me", AuthMethod: "bearer_access_token"},
			RevocationRequest: &config.Request{Endpoint: "https://<<connection.tenant>>.acme.example/revoke"},
			ConnectionVariables: map[string]config.ConnectionVariable{
				"tenant": {Pattern: "[a-z0-9-]+", Example: "tenant1"},
			},
		}}
	}
	tests := []struct {
		name   string
		change func(p *config.Provider)
		want   []string
	}{
		{"a new path on the same host is not a change", func(p *config.Provider) {
			p.OAuth2.UserInfoRequest.Endpoint = "https://api.acme.example/v2/me?fields=id"
		}, nil},
		{"the default port written out is not a change", func(p *config.Provider) {
			p.OAuth2.AuthorizeRequest.Endpoint = "https://ACME.example:443/authorize"
		}, nil},
		{"a description, scopes and PKCE are not changes", func(p *config.Provider) {
			p.Description, p.OAuth2.DefaultScopes, p.OAuth2.PKCE.Enabled = "x", []string{"a"}, true
		}, nil},
		{"removing a request block is not a change", func(p *config.Provider) { p.OAuth2.UserInfoRequest = nil }, nil},
		{"another host", func(p *config.Provider) { p.OAuth2.UserInfoRequest.Endpoint = "https://evil.example/me" },
			[]string{"oauth2.user_info_request.endpoint"}},
		{"another port", func(p *config.Provider) { p.OAuth2.UserInfoRequest.Endpoint = "https://api.acme.example:8443/me" },
			[]string{"oauth2.user_info_request.endpoint"}},
		{"http instead of https", func(p *config.Provider) { p.OAuth2.UserInfoRequest.Endpoint = "http://api.acme.example/me" },
			[]string{"oauth2.user_info_request.endpoint"}},
		{"a client_id that moves a templated host", func(p *config.Provider) { p.ClientID = "attacker" },
			[]string{"oauth2.token_request.endpoint"}},
		{"a new refresh request", func(p *config.Provider) {
			p.OAuth2.RefreshTokenRequest = &config.Request{Endpoint: "https://tenant1.acme.example/token"}
		}, []string{"oauth2.refresh_token_request"}},
		{"the auth method, params and headers", func(p *config.Provider) {
			p.OAuth2.TokenRequest.AuthMethod = "client_secret_post"
			p.OAuth2.TokenRequest.Params = map[string]string{"x": "<<client_secret>>"}
			p.OAuth2.UserInfoRequest.Headers = map[string]string{"X-Token": "<<access_token>>"}
		}, []string{"oauth2.token_request.auth_method", "oauth2.token_request.params", "oauth2.user_info_request.headers"}},
		{"the built-in template", func(p *config.Provider) { p.ProviderID = "github" }, []string{"provider_id"}},
		{"a connection variable's description is not a change", func(p *config.Provider) {
			p.OAuth2.ConnectionVariables["tenant"] = config.ConnectionVariable{Pattern: "[a-z0-9-]+", Example: "tenant1", Description: "the tenant"}
		}, nil},
		{"a connection variable's pattern widened", func(p *config.Provider) {
			p.OAuth2.ConnectionVariables["tenant"] = config.ConnectionVariable{Pattern: "[^ ]+", Example: "tenant1"}
		}, []string{"oauth2.connection_variables.tenant"}},
		{"a connection variable's fixed value", func(p *config.Provider) {
			p.OAuth2.ConnectionVariables["tenant"] = config.ConnectionVariable{Pattern: "[a-z0-9-]+", Example: "tenant1", Value: "evil"}
		}, []string{"oauth2.revocation_request.endpoint"}},
		{"a new connection variable", func(p *config.Provider) {
			p.OAuth2.ConnectionVariables["region"] = config.ConnectionVariable{Pattern: "[a-z]+", Example: "eu"}
		}, []string{"oauth2.connection_variables.region"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			after := base()
			tt.change(&after)
			got := secretRoutingChanges(base(), after)
			if !slices.Equal(got, tt.want) {
				t.Errorf("changes = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestChangedPathsNamesLeavesNeverValues(t *testing.T) {
	before := map[string]any{"id": "acme", "client_secret": "old", "oauth2": map[string]any{
		"token_request":     map[string]any{"endpoint": "https://a/token", "params": map[string]any{"a": "1"}},
		"user_info_request": map[string]any{"headers": map[string]any{"h": "v"}},
	}}
	// The same headers as a typed map are not a change.
	after := map[string]any{"id": "acme", "client_secret": "new", "description": "d", "oauth2": map[string]any{
		"token_request":     map[string]any{"endpoint": "https://a/token", "params": map[string]any{"a": "1", "b": "2"}},
		"user_info_request": map[string]any{"headers": map[string]string{"h": "v"}},
	}}
	got := changedPaths(before, after, "")
	want := []string{"client_secret", "description", "oauth2.token_request.params.b"}
	if !slices.Equal(got, want) {
		t.Errorf("changedPaths = %q, want %q", got, want)
	}
}
