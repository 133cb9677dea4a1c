package authflow

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authengine/authengine/config"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/requests")

const goldenRedirect = "https://engine.example/oauth/callback"

// roundTripFunc is an http.RoundTripper made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// capture returns a client that records each request it is given, answering
// 200 with body.
func capture(dst *[]*http.Request, body string) *http.Client {
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		*dst = append(*dst, r)
		return &http.Response{
			StatusCode: http.StatusOK,
			Header:     http.Header{"Content-Type": {"application/json"}},
			Body:       io.NopCloser(strings.NewReader(body)),
			Request:    r,
		}, nil
	})}
}

// dump renders a request byte for byte: method and URL, headers sorted,
// a blank line, the body.
func dump(t *testing.T, r *http.Request) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", r.Method, r.URL.String())
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range r.Header {
			if !yield(k) {
				return
			}
		}
	}) {
		for _, v := range r.Header[k] {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	b.WriteString("\n")
	if r.Body != nil {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Fatalf("read body: %v", err)
		}
		b.Write(body)
		b.WriteString("\n")
	}
	return b.String()
}

// hooli is the base provider the golden cases vary.
func hooli() config.Provider {
	return config.Provider{
		ID:           "hooli",
		ClientID:     "hooli-client",
		ClientSecret: "s3cret:+/&=", // characters RFC 6749 2.3.1 encoding must survive
		OAuth2: config.OAuth2{
			ScopeDelimiter: " ",
			AuthorizeRequest: &config.Request{
				Endpoint: "https://hooli.example/oauth/authorize?prompt=consent",
				Params: map[string]string{
					"response_type": "code",
					"client_id":     "<<client_id>>",
					"redirect_uri":  "<<redirect_uri>>",
					"scope":         "<<scopes>> <<existing_scopes>>",
				},
			},
			TokenRequest: &config.Request{
				Endpoint:   "https://hooli.example/oauth/token",
				AuthMethod: "client_secret_basic",
				Params: map[string]string{
					"grant_type":   "authorization_code",
					"redirect_uri": "<<redirect_uri>>",
				},
			},
			RefreshTokenRequest: &config.Request{
				Endpoint:   "https://hooli.example/oauth/token",
				AuthMethod: "client_secret_basic",
				Params: map[string]string{
					"grant_type":    "refresh_token",
					"refresh_token": "<<refresh_token>>",
				},
			},
			UserInfoRequest: &config.Request{
				Endpoint:   "https://api.hooli.example/me?fields=id,name",
				AuthMethod: "bearer_access_token",
			},
		},
	}
}

func clientCredentials(tr *config.Request) config.Provider {
	p := hooli()
	p.OAuth2.GrantType = "client_credentials"
	p.OAuth2.AuthorizeRequest = nil
	p.OAuth2.RefreshTokenRequest = nil
	p.OAuth2.UserInfoRequest = nil
	p.OAuth2.TokenRequest = tr
	return p
}

// goldenCase renders one request. The op runs against a capturing client.
type goldenCase struct {
	name     string
	provider func() config.Provider
	op       func(ctx context.Context, p *Provider, c *http.Client) error
}

func authorize(scopes, existing []string, challenge string) func(context.Context, *Provider, *http.Client) error {
	return func(_ context.Context, p *Provider, c *http.Client) error {
		u := p.AuthorizeURL("state-abc", scopes, existing, challenge)
		if u == "" {
			return fmt.Errorf("empty authorize URL")
		}
		req, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		_, err = c.Transport.RoundTrip(req)
		return err
	}
}

func exchange(ctx context.Context, p *Provider, c *http.Client) error {
	_, err := p.Exchange(ctx, c, "code-xyz", "verifier-0123456789-0123456789-0123456789")
	return err
}

var oldToken = &Token{AccessToken: "old-access", RefreshToken: "old-refresh", Scopes: []string{"openid", "read:mail"}}

func refresh(ctx context.Context, p *Provider, c *http.Client) error {
	_, err := p.Refresh(ctx, c, oldToken)
	return err
}

func userInfo(ctx context.Context, p *Provider, c *http.Client) error {
	_, err := p.UserInfo(ctx, c, &Token{AccessToken: "user-access"})
	return err
}

func revoke(t *Token) func(context.Context, *Provider, *http.Client) error {
	return func(ctx context.Context, p *Provider, c *http.Client) error {
		return p.Revoke(ctx, c, t)
	}
}

func clientCreds(scopes ...string) func(context.Context, *Provider, *http.Client) error {
	return func(ctx context.Context, p *Provider, c *http.Client) error {
		_, err := p.ClientCredentials(ctx, c, scopes)
		return err
	}
}

func with(f func(p *config.Provider)) func() config.Provider {
	return func() config.Provider {
		p := hooli()
		f(&p)
		return p
	}
}

var goldenCases = []goldenCase{
	{"authorize_pkce_merges_existing_scopes", hooli, authorize([]string{"openid", "profile"}, []string{"profile", "read:mail"}, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")},
	{"authorize_without_pkce_or_existing_scopes", hooli, authorize([]string{"openid"}, nil, "")},
	{"authorize_omits_params_that_render_empty", with(func(p *config.Provider) {
		p.OAuth2.AuthorizeRequest.Params["response_mode"] = "  "
		p.OAuth2.AuthorizeRequest.Params["login_hint"] = "<<existing_scopes>>"
	}), authorize(nil, nil, "")},
	{"authorize_dedups_comma_delimited_scopes", with(func(p *config.Provider) {
		p.OAuth2.ScopeDelimiter = ","
		p.OAuth2.AuthorizeRequest.Params["scope"] = "<<scopes>>,<<existing_scopes>>"
		p.OAuth2.AuthorizeRequest.Params["user_scope"] = "<<existing_scopes>>"
	}), authorize([]string{"chat:write", "users:read", "chat:write"}, []string{"users:read", " im:history "}, "")},
	{"authorize_templated_endpoint", with(func(p *config.Provider) {
		p.OAuth2.AuthorizeRequest.Endpoint = "https://<<client_id>>.hooli.example/authorize"
	}), authorize([]string{"openid"}, nil, "")},
	{"token_client_secret_basic_form", hooli, exchange},
	{"token_client_secret_post_adds_credentials", with(func(p *config.Provider) {
		p.OAuth2.TokenRequest.AuthMethod = "client_secret_post"
	}), exchange},
	{"token_client_secret_post_keeps_renamed_credentials", with(func(p *config.Provider) {
		p.OAuth2.TokenRequest.AuthMethod = "client_secret_post"
		p.OAuth2.TokenRequest.Params["client_key"] = "<<client_id>>"
		p.OAuth2.TokenRequest.Params["secret"] = "<<client_secret>>"
	}), exchange},
	{"token_none_sends_templated_client_id_only", with(func(p *config.Provider) {
		p.OAuth2.TokenRequest.AuthMethod = "none"
		p.OAuth2.TokenRequest.Params["client_id"] = "<<client_id>>"
	}), exchange},
	{"token_json_body_with_templated_headers", with(func(p *config.Provider) {
		p.OAuth2.TokenRequest.RequestContentType = "application/json"
		p.OAuth2.TokenRequest.Headers = map[string]string{"notion-version": "2022-06-28", "X-Client": "<<client_id>>", "X-Empty": "<<scopes>>"}
		p.OAuth2.TokenRequest.Params["scope"] = "<<scopes>>"
	}), exchange},
	{"token_get_puts_params_in_the_query", with(func(p *config.Provider) {
		p.OAuth2.TokenRequest.Method = "GET"
		p.OAuth2.TokenRequest.AuthMethod = "client_secret_post"
	}), exchange},
	{"refresh_client_secret_basic_with_scopes", with(func(p *config.Provider) {
		p.OAuth2.RefreshTokenRequest.Params["scope"] = "<<scopes>>"
		p.OAuth2.RefreshTokenRequest.Params["redirect_uri"] = "<<redirect_uri>>"
	}), refresh},
	{"refresh_bearer_access_token", with(func(p *config.Provider) {
		p.OAuth2.RefreshTokenRequest.AuthMethod = "bearer_access_token"
		p.OAuth2.RefreshTokenRequest.Headers = map[string]string{"X-Previous-Token": "<<access_token>>"}
	}), refresh},
	{"refresh_adds_grant_type_and_refresh_token_by_default", with(func(p *config.Provider) {
		p.OAuth2.RefreshTokenRequest.Params = nil
		p.OAuth2.RefreshTokenRequest.AuthMethod = "client_secret_post"
	}), refresh},
	{"refresh_json_body", with(func(p *config.Provider) {
		p.OAuth2.RefreshTokenRequest.RequestContentType = "application/json"
	}), refresh},
	{"client_credentials_basic_with_scopes", func() config.Provider {
		return clientCredentials(&config.Request{
			Endpoint:   "https://hooli.example/oauth/token",
			AuthMethod: "client_secret_basic",
			Params:     map[string]string{"grant_type": "client_credentials", "scope": "<<scopes>>"},
		})
	}, clientCreds("svc:read", "svc:write", "svc:read")},
	{"client_credentials_post_json_default_grant_type", func() config.Provider {
		return clientCredentials(&config.Request{
			Endpoint:           "https://hooli.example/oauth/token",
			RequestContentType: "application/json",
			Params:             map[string]string{"audience": "https://api.hooli.example", "scope": "<<scopes>>"},
		})
	}, clientCreds()},
	{"user_info_bearer_get_keeps_endpoint_query", hooli, userInfo},
	{"user_info_none_token_in_query", with(func(p *config.Provider) {
		p.OAuth2.UserInfoRequest.AuthMethod = "none"
		p.OAuth2.UserInfoRequest.Params = map[string]string{"access_token": "<<access_token>>", "app_id": "<<client_id>>"}
	}), userInfo},
	{"user_info_post_form", with(func(p *config.Provider) {
		p.OAuth2.UserInfoRequest.Method = "POST"
		p.OAuth2.UserInfoRequest.Params = map[string]string{"format": "json"}
	}), userInfo},
	{"revoke_refresh_token_by_default_with_basic_auth", with(func(p *config.Provider) {
		p.OAuth2.RevocationRequest = &config.Request{Endpoint: "https://hooli.example/oauth/revoke", AuthMethod: "client_secret_basic"}
	}), revoke(oldToken)},
	{"revoke_access_token_post_with_a_templated_token", with(func(p *config.Provider) {
		p.OAuth2.RevocationRequest = &config.Request{Endpoint: "https://hooli.example/oauth/revoke", AuthMethod: "client_secret_post",
			Params: map[string]string{"token": "<<access_token>>"}}
	}), revoke(&Token{AccessToken: "only-access"})},
}

// TestRenderedRequestsMatchGoldenFiles renders each case and compares it
// byte for byte with testdata/requests/<name>.txt (-update rewrites them).
func TestRenderedRequestsMatchGoldenFiles(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range goldenCases {
		t.Run("it renders "+strings.ReplaceAll(tc.name, "_", " "), func(t *testing.T) {
			seen[tc.name+".txt"] = true
			p, err := Compile(tc.provider(), goldenRedirect)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			var reqs []*http.Request
			c := capture(&reqs, `{"access_token":"new-access"}`)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := tc.op(ctx, p, c); err != nil {
				t.Fatalf("run: %v", err)
			}
			if len(reqs) != 1 {
				t.Fatalf("%d requests sent, want 1", len(reqs))
			}
			got := dump(t, reqs[0])
			file := filepath.Join("testdata", "requests", tc.name+".txt")
			if *update {
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("read golden file (run with -update to create it): %v", err)
			}
			if !bytes.Equal(want, []byte(got)) {
				t.Errorf("request differs from %s\n--- got\n%s--- want\n%s", file, got, want)
			}
		})
	}
	t.Run("every golden file belongs to a case", func(t *testing.T) {
		files, _ := filepath.Glob(filepath.Join("testdata", "requests", "*.txt"))
		for _, f := range files {
			if !seen[filepath.Base(f)] {
				t.Errorf("%s has no case; delete it", f)
			}
		}
	})
}
