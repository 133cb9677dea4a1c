package authflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authengine/authengine/config"
)

func TestCompileRejects(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(p *config.Provider)
		want   []string // each must appear, in one joined error
	}{
		{"an unknown placeholder in a token param, naming the path", func(p *config.Provider) {
			p.OAuth2.TokenRequest.Params["scope"] = "<<scope>>"
		}, []string{"auth.providers[hooli].oauth2.token_request.params.scope: unknown placeholder <<scope>>"}},
		{"existing_scopes outside the authorize request", func(p *config.Provider) {
			p.OAuth2.TokenRequest.Params["scope"] = "<<existing_scopes>>"
		}, []string{"token_request.params.scope: <<existing_scopes>> is not available in this request; it is available in authorize_request"}},
		{"refresh_token in the authorize request", func(p *config.Provider) {
			p.OAuth2.AuthorizeRequest.Params["x"] = "<<refresh_token>>"
		}, []string{"authorize_request.params.x: <<refresh_token>> is not allowed in the authorize request"}},
		{"client_secret in the user-info request", func(p *config.Provider) {
			p.OAuth2.UserInfoRequest.Headers = map[string]string{"X-Secret": "<<client_secret>>"}
		}, []string{"user_info_request.headers.X-Secret: <<client_secret>> is not available in this request; it is available in token_request (grant_type authorization_code), token_request (grant_type client_credentials), refresh_token_request, revocation_request"}},
		{"an unknown placeholder in an endpoint", func(p *config.Provider) {
			p.OAuth2.RefreshTokenRequest.Endpoint = "https://<<tenant>>.hooli.example/token"
		}, []string{"refresh_token_request.endpoint: unknown placeholder <<tenant>>"}},
		{"an unterminated placeholder", func(p *config.Provider) {
			p.OAuth2.AuthorizeRequest.Params["scope"] = "<<scopes"
		}, []string{"authorize_request.params.scope: unterminated placeholder"}},
		{"bad JSONPath in a response map, naming the key", func(p *config.Provider) {
			p.OAuth2.TokenRequest.ResponseMap = map[string]string{"access_token": "$.[", "expires_in": "$.expires_in", "scope": "join('$.s'"}
		}, []string{"auth.providers[hooli].oauth2.token_request.response_map.access_token:", "auth.providers[hooli].oauth2.token_request.response_map.scope:"}},
		{"a bad allowed_scopes pattern", func(p *config.Provider) {
			p.OAuth2.AllowedScopes = []string{"read:*", "[bad"}
		}, []string{"auth.providers[hooli].oauth2.allowed_scopes[1]: bad pattern"}},
		{"a relative endpoint", func(p *config.Provider) {
			p.OAuth2.TokenRequest.Endpoint = "/oauth/token"
		}, []string{"token_request.endpoint: \"/oauth/token\" is not an absolute http(s) URL"}},
		{"a missing token request", func(p *config.Provider) {
			p.OAuth2.TokenRequest = nil
		}, []string{"oauth2.token_request: required"}},
		{"an unknown auth method", func(p *config.Provider) {
			p.OAuth2.TokenRequest.AuthMethod = "private_key_jwt"
		}, []string{"token_request.auth_method: unknown auth method \"private_key_jwt\""}},
		{"bearer_access_token where there is no access token", func(p *config.Provider) {
			p.OAuth2.TokenRequest.AuthMethod = "bearer_access_token"
		}, []string{"token_request.auth_method: bearer_access_token needs an access token"}},
		{"access_token in a client-credentials token request", func(p *config.Provider) {
			p.OAuth2.GrantType = "client_credentials"
			p.OAuth2.TokenRequest.Params["assertion"] = "<<access_token>>"
		}, []string{"token_request.params.assertion: <<access_token>> is not available in this request; it is available in refresh_token_request, user_info_request, revocation_request"}},
		{"both refresh_token_request and refresh_request", func(p *config.Provider) {
			p.OAuth2.RefreshRequest = p.OAuth2.RefreshTokenRequest
		}, []string{"oauth2.refresh_request: give refresh_token_request or its alias refresh_request, not both"}},
		{"scopes in a revocation request", func(p *config.Provider) {
			p.OAuth2.RevocationRequest = &config.Request{Endpoint: "https://hooli.example/revoke", Params: map[string]string{"scope": "<<scopes>>"}}
		}, []string{"revocation_request.params.scope: <<scopes>> is not available in this request; it is available in authorize_request, token_request (grant_type authorization_code), token_request (grant_type client_credentials), refresh_token_request"}},
		{"every error of a provider at once", func(p *config.Provider) {
			p.OAuth2.TokenRequest.Params["a"] = "<<nope>>"
			p.OAuth2.AuthorizeRequest.Params["b"] = "<<nada>>"
			p.OAuth2.UserInfoRequest.Method = "PUT"
		}, []string{"token_request.params.a: unknown placeholder <<nope>>", "authorize_request.params.b: unknown placeholder <<nada>>", "user_info_request.method: must be GET or POST"}},
	}
	for _, tt := range tests {
		t.Run("it refuses "+tt.name, func(t *testing.T) {
			p := hooli()
			tt.mutate(&p)
			_, err := Compile(p, goldenRedirect)
			if err == nil {
				t.Fatal("compiled")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

// TestAttack_ClientSecretInAuthorizeURL: a secret placeholder anywhere in
// the authorize request (a param or the endpoint itself) would put the
// secret into the URL the user's browser opens and the app receives. It
// is refused with the field's path, and nothing is compiled.
func TestAttack_ClientSecretInAuthorizeURL(t *testing.T) {
	tests := []struct {
		name, path string
		mutate     func(p *config.Provider)
	}{
		{"client_secret in a param", "auth.providers[hooli].oauth2.authorize_request.params.app_secret_proof", func(p *config.Provider) {
			p.OAuth2.AuthorizeRequest.Params["app_secret_proof"] = "<<client_secret>>"
		}},
		{"client_secret inside a longer param", "auth.providers[hooli].oauth2.authorize_request.params.state_hint", func(p *config.Provider) {
			p.OAuth2.AuthorizeRequest.Params["state_hint"] = "x-<< client_secret >>-y"
		}},
		{"client_secret in the endpoint's query", "auth.providers[hooli].oauth2.authorize_request.endpoint", func(p *config.Provider) {
			p.OAuth2.AuthorizeRequest.Endpoint = "https://hooli.example/authorize?s=<<client_secret>>"
		}},
		{"access_token in a param", "auth.providers[hooli].oauth2.authorize_request.params.t", func(p *config.Provider) {
			p.OAuth2.AuthorizeRequest.Params["t"] = "<<access_token>>"
		}},
	}
	for _, tt := range tests {
		t.Run("it refuses "+tt.name, func(t *testing.T) {
			p := hooli()
			tt.mutate(&p)
			got, err := Compile(p, goldenRedirect)
			if err == nil {
				t.Fatalf("compiled; the authorize URL is %s", got.AuthorizeURL("st", []string{"openid"}, nil, ""))
			}
			if !strings.Contains(err.Error(), tt.path+": <<") || !strings.Contains(err.Error(), "is not allowed in the authorize request") {
				t.Errorf("error\n%v\ndoes not name %s and the rule", err, tt.path)
			}
		})
	}
}

func TestCompileErrorListsEveryProblemByField(t *testing.T) {
	p := hooli()
	p.OAuth2.TokenRequest.Params["a"] = "<<nope>>"
	p.OAuth2.TokenRequest.ResponseMap = map[string]string{"access_token": "$.[", "expires_in": "$.expires_in", "odd key": "join('$.s'"}
	_, err := Compile(p, goldenRedirect)
	ce, ok := errors.AsType[*CompileError](err)
	if !ok {
		t.Fatalf("err = %v, want a *CompileError", err)
	}
	var paths []string
	for _, f := range ce.Fields {
		if f.Message == "" || strings.Contains(f.Message, f.Path) {
			t.Errorf("field %q: message %q should say what is wrong, without the path", f.Path, f.Message)
		}
		paths = append(paths, f.Path)
	}
	want := []string{
		"auth.providers[hooli].oauth2.token_request.params.a",
		"auth.providers[hooli].oauth2.token_request.response_map.access_token",
		`auth.providers[hooli].oauth2.token_request.response_map["odd key"]`,
	}
	if strings.Join(paths, "\n") != strings.Join(want, "\n") {
		t.Errorf("paths\n%s\nwant\n%s", strings.Join(paths, "\n"), strings.Join(want, "\n"))
	}
	if got := len(ce.Unwrap()); got != len(want) {
		t.Errorf("Unwrap gives %d errors, want %d", got, len(want))
	}
}

func TestCompileAllCompilesEnabledProvidersWithThePublicRedirect(t *testing.T) {
	off := false
	broken := hooli()
	broken.ID = "broken"
	broken.Enabled = &off
	broken.OAuth2.TokenRequest.Params["x"] = "<<nope>>"
	cfg := &config.Config{API: config.API{PublicURL: "https://engine.example/"}, Auth: config.Auth{Providers: []config.Provider{hooli(), broken}}}
	ps, err := CompileAll(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps["hooli"] == nil {
		t.Fatalf("providers %v, want only hooli (the disabled one is skipped)", ps)
	}
	if u := ps["hooli"].AuthorizeURL("s", nil, nil, ""); !strings.Contains(u, "redirect_uri=https%3A%2F%2Fengine.example%2Foauth%2Fcallback&") {
		t.Errorf("authorize URL %s lacks the redirect URI", u)
	}
	broken.Enabled = nil
	cfg.Auth.Providers[1] = broken
	if _, err := CompileAll(cfg); err == nil || !strings.Contains(err.Error(), "auth.providers[broken]") {
		t.Errorf("err = %v, want the broken provider named", err)
	}
}

func TestScopes(t *testing.T) {
	p := hooli()
	p.OAuth2.DefaultScopes = []string{"openid"}
	p.OAuth2.AllowedScopes = []string{"openid", "profile", "read:*"}
	cp, err := Compile(p, goldenRedirect)
	if err != nil {
		t.Fatal(err)
	}
	p.OAuth2.ScopeDelimiter = ","
	p.OAuth2.DefaultScopes = []string{"openid,profile"} // operators may join defaults
	comma, err := Compile(p, goldenRedirect)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := comma.Scopes(nil); strings.Join(got, " ") != "openid profile" {
		t.Errorf("default scopes %q, want them split on the delimiter", got)
	}
	tests := []struct {
		name      string
		requested []string
		want      string
		refused   string
	}{
		{"merges defaults first and de-duplicates", []string{" profile ", "openid", "profile", "read:mail"}, "openid profile read:mail", ""},
		{"keeps only defaults when nothing is asked", nil, "openid", ""},
		{"splits a space-joined entry", []string{"profile read:x"}, "openid profile read:x", ""},
		{"refuses a scope outside the patterns", []string{"profile", "write:mail"}, "", "write:mail"},
		{"refuses a scope holding the delimiter", []string{"read:a,write:mail"}, "", "read:a,write:mail"},
		{"refuses a scope of allowed parts holding the delimiter", []string{"profile", "read:a,read:b"}, "", "read:a,read:b"},
	}
	for _, tt := range tests {
		t.Run("it "+tt.name, func(t *testing.T) {
			cp := cp
			if strings.Contains(tt.name, "delimiter") {
				cp = comma
			}
			got, err := cp.Scopes(tt.requested)
			if tt.refused != "" {
				se, ok := errors.AsType[*ScopeError](err)
				if !ok || se.Scope != tt.refused || se.Provider != "hooli" {
					t.Fatalf("err = %v, want a ScopeError for %q", err, tt.refused)
				}
				return
			}
			if err != nil || strings.Join(got, " ") != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestCompileTreatsZeroValuesAsTheDefaults(t *testing.T) {
	p, err := Compile(config.Provider{ID: "z", OAuth2: config.OAuth2{
		AuthorizeRequest: &config.Request{Endpoint: "https://z.example/a"},
		TokenRequest:     &config.Request{Endpoint: "https://z.example/t", AuthMethod: "client_secret_basic"},
		RefreshRequest:   &config.Request{Endpoint: "https://z.example/t"},
		UserInfoRequest:  &config.Request{Endpoint: "https://z.example/u"},
	}}, goldenRedirect)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"grant type", p.GrantType(), "authorization_code"},
		{"scope delimiter", p.ScopeDelimiter(), " "},
		{"token method", p.token.method, "POST"},
		{"token body", p.token.jsonBody, false},
		{"token response type", p.token.responseType, "application/json"},
		{"refresh_request alias", p.CanRefresh(), true},
		{"refresh auth follows the token request", p.refresh.authMethod, "client_secret_basic"},
		{"user info method", p.userInfo.method, "GET"},
		{"user info auth", p.userInfo.authMethod, "bearer_access_token"},
		{"no user info without triggers", p.UserInfoOnGrant(), false},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestProviderErrorClassification(t *testing.T) {
	timeout := &net.OpError{Op: "dial", Err: errors.New("i/o timeout")}
	tests := []struct {
		name               string
		err                error
		retryable, invalid bool
	}{
		{"a 500 is retryable", &ProviderError{Op: "token", Status: 500}, true, false},
		{"a 503 with an OAuth code is retryable", &ProviderError{Op: "token", Status: 503, Code: "temporarily_unavailable"}, true, false},
		{"a 429 is retryable", &ProviderError{Op: "refresh", Status: 429}, true, false},
		{"a 400 invalid_grant is invalid grant, not retryable", &ProviderError{Op: "refresh", Status: 400, Code: "invalid_grant"}, false, true},
		{"a 200 ok:false invalid_grant is invalid grant", &ProviderError{Op: "token", Status: 200, Code: "invalid_grant"}, false, true},
		{"a 401 invalid_client is neither", &ProviderError{Op: "token", Status: 401, Code: "invalid_client"}, false, false},
		{"a wrapped invalid_grant is still invalid grant", fmt.Errorf("refresh token for provider %q: %w", "h", &ProviderError{Status: 400, Code: "invalid_grant"}), false, true},
		{"a network failure is retryable", &networkError{op: "token", host: "h", err: timeout}, true, false},
		{"a deadline is retryable", fmt.Errorf("x: %w", context.DeadlineExceeded), true, false},
		{"a cancelled request is not retryable", &networkError{op: "token", host: "h", err: context.Canceled}, false, false},
		{"a parse failure is neither", errors.New("parse token response: bad"), false, false},
		{"nil is neither", nil, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsRetryable(tt.err); got != tt.retryable {
				t.Errorf("IsRetryable = %v, want %v", got, tt.retryable)
			}
			if got := IsInvalidGrant(tt.err); got != tt.invalid {
				t.Errorf("IsInvalidGrant = %v, want %v", got, tt.invalid)
			}
		})
	}
}

func TestProviderErrorMessage(t *testing.T) {
	e := &ProviderError{Op: "token", Status: 400, Code: "invalid_grant", Description: "code expired"}
	if got, want := e.Error(), "provider token request failed with HTTP 400: invalid_grant (code expired)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestPKCE(t *testing.T) {
	t.Run("the S256 challenge matches RFC 7636 appendix B", func(t *testing.T) {
		if got := S256Challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"); got != "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" {
			t.Errorf("got %s", got)
		}
	})
	t.Run("verifiers are 43 unreserved characters and unique", func(t *testing.T) {
		a, b := NewCodeVerifier(), NewCodeVerifier()
		if len(a) != 43 || a == b || strings.Trim(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			t.Errorf("verifiers %q %q", a, b)
		}
	})
	t.Run("states carry at least 128 bits and are URL-safe", func(t *testing.T) {
		s := NewState()
		if len(s)*6 < 128 || s == NewState() || strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			t.Errorf("state %q", s)
		}
	})
}

func TestTokenRedactsItsSecrets(t *testing.T) {
	tok := Token{AccessToken: "at-SECRET", RefreshToken: "rt-SECRET", IDToken: "id-SECRET", TokenType: "Bearer", Scopes: []string{"a"}, Expiry: time.Unix(1e9, 0)}
	var logs strings.Builder
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("t", "token", tok, "ptr", &tok)
	for name, s := range map[string]string{
		"%v": fmt.Sprintf("%v", tok), "%+v": fmt.Sprintf("%+v", &tok), "%#v": fmt.Sprintf("%#v", tok), "%s": fmt.Sprintf("%s", &tok), "slog": logs.String(),
	} {
		if strings.Contains(s, "SECRET") {
			t.Errorf("%s leaks a secret: %s", name, s)
		}
		if !strings.Contains(s, "Bearer") {
			t.Errorf("%s lost the non-secret fields: %s", name, s)
		}
	}
}

func TestQueryEscapeMatchesTheStandardLibrary(t *testing.T) {
	for _, s := range []string{"", "plain", "a b+c", "s3cret:+/&=?#%", "ünï-cødé_~.", "\x00\xff"} {
		var b strings.Builder
		queryEscape(&b, s)
		if want := url.QueryEscape(s); b.String() != want {
			t.Errorf("queryEscape(%q) = %q, want %q", s, b.String(), want)
		}
	}
}

func TestWithClockSetsExpiryFromTheInjectedClock(t *testing.T) {
	p, err := Compile(hooli(), goldenRedirect)
	if err != nil {
		t.Fatal(err)
	}
	fixed := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	var reqs []*http.Request
	c := capture(&reqs, `{"access_token":"a","expires_in":"120"}`)
	tok, err := p.WithClock(func() time.Time { return fixed }).Exchange(context.Background(), c, "code", "")
	if err != nil {
		t.Fatal(err)
	}
	if want := fixed.Add(2 * time.Minute); !tok.Expiry.Equal(want) {
		t.Errorf("expiry %v, want %v", tok.Expiry, want)
	}
}

// TestConnectionAndMetadataPlaceholders: <<connection.NAME>> must name a
// declared variable; <<metadata.NAME>> exists only where a token does.
func TestConnectionAndMetadataPlaceholders(t *testing.T) {
	vars := map[string]config.ConnectionVariable{"tenant": {Pattern: "[a-z]+", Example: "acme"}}
	p := config.Provider{ID: "t", ClientID: "c", ClientSecret: "s", OAuth2: config.OAuth2{
		ConnectionVariables: vars,
		AuthorizeRequest:    &config.Request{Endpoint: "https://<<connection.tenant>>.example.com/a", Params: map[string]string{"x": "<<metadata.realm>>"}},
		TokenRequest:        &config.Request{Endpoint: "https://<<connection.region>>.example.com/t"},
		UserInfoRequest:     &config.Request{Endpoint: "<<metadata.instance_url>>/me", Params: map[string]string{"realm": "<<metadata.realm>>"}},
	}}
	_, err := Compile(p, "https://engine.example/oauth/callback")
	for _, want := range []string{
		"auth.providers[t].oauth2.authorize_request.params.x: <<metadata.realm>> is not available in this request",
		`auth.providers[t].oauth2.token_request.endpoint: unknown placeholder <<connection.region>>: declare "region" under oauth2.connection_variables`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "oauth2.user_info_request") {
		t.Errorf("metadata in the user info request was refused: %v", err)
	}
	p.OAuth2.AuthorizeRequest.Params = nil
	p.OAuth2.TokenRequest.Endpoint = "https://<<connection.tenant>>.example.com/t"
	c, err := Compile(p, "https://engine.example/oauth/callback")
	if err != nil {
		t.Fatal(err)
	}
	if !c.RemoteHosts() {
		t.Error("a provider whose hosts come from a connection variable and metadata is not RemoteHosts")
	}
	if _, err := c.ConnectionValues(map[string]string{"tenant": "acme.evil.example"}); err == nil {
		t.Error("a value outside the pattern was accepted")
	}
	bound := c.WithConnection(map[string]string{"tenant": "acme"})
	if u := bound.AuthorizeURL("s", nil, nil, ""); !strings.HasPrefix(u, "https://acme.example.com/a?") {
		t.Errorf("authorize URL = %s", u)
	}
	if eps := bound.ConnectionEndpoints(); len(eps) != 2 || eps[1].URL != "https://acme.example.com/t" || eps[1].Variables[0] != "tenant" {
		t.Errorf("connection endpoints = %+v", eps)
	}
	if bound.Unbound() != c {
		t.Error("Unbound does not return the compiled provider")
	}
}
