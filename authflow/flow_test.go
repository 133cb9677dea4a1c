package authflow_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authengine/authengine/authflow"
	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/internal/providertest"
)

const redirectURI = "https://engine.example/oauth/callback"

// authorizeAndExchange runs the authorization-code flow against idp and
// returns the token.
func authorizeAndExchange(t *testing.T, idp *providertest.Provider, p *authflow.Provider, scopes []string) *authflow.Token {
	t.Helper()
	ctx := context.Background()
	state := authflow.NewState()
	verifier, challenge := "", ""
	if p.PKCE() {
		verifier = authflow.NewCodeVerifier()
		challenge = authflow.S256Challenge(verifier)
	}
	cb, err := idp.Consent(ctx, p.AuthorizeURL(state, scopes, nil, challenge))
	if err != nil {
		t.Fatalf("consent: %v", err)
	}
	q := mustQuery(t, cb)
	if q.Get("state") != state {
		t.Fatalf("state %q came back as %q", state, q.Get("state"))
	}
	tok, err := p.Exchange(ctx, http.DefaultClient, q.Get("code"), verifier)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return tok
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	return u.Query()
}

func compile(t *testing.T, c config.Provider) *authflow.Provider {
	t.Helper()
	p, err := authflow.Compile(c, redirectURI)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return p
}

// TestFlowsAgainstTheStandIn runs exchange, user info, refresh and client
// credentials against the strict stand-in in each provider quirk.
func TestFlowsAgainstTheStandIn(t *testing.T) {
	tests := []struct {
		name string
		opts providertest.Options
	}{
		{"client_secret_basic with PKCE", providertest.Options{ClientAuth: "client_secret_basic", RequirePKCE: true}},
		{"client_secret_post", providertest.Options{ClientAuth: "client_secret_post"}},
		{"HTTP Basic credentials holding reserved characters", providertest.Options{ClientID: "id:with+colons", ClientSecret: "s3cret:+/&= %"}},
		{"a public client (auth none) with PKCE", providertest.Options{ClientAuth: "none", RequirePKCE: true}},
		{"tokens nested under data (TikTok)", providertest.Options{Quirks: providertest.Quirks{NestUnder: "data"}}},
		{"tokens nested under authed_user with array scopes (Slack)", providertest.Options{Quirks: providertest.Quirks{NestUnder: "authed_user", ArrayScopes: true, ScopeDelimiter: ","}}},
		{"form-encoded responses (GitHub)", providertest.Options{Quirks: providertest.Quirks{FormEncoded: true, ScopeDelimiter: ","}}},
		{"array scopes", providertest.Options{Quirks: providertest.Quirks{ArrayScopes: true}}},
		{"string expires_in (Microsoft)", providertest.Options{Quirks: providertest.Quirks{StringExpiresIn: true}}},
		{"errors as HTTP 200 (Slack)", providertest.Options{Quirks: providertest.Quirks{ErrorsWith200: true}}},
		{"JSON request bodies (Notion)", providertest.Options{Quirks: providertest.Quirks{JSONRequestBody: true}}},
		{"rotating refresh tokens", providertest.Options{RotateRefreshTokens: true, RequirePKCE: true}},
	}
	for _, tt := range tests {
		t.Run("it completes every grant with "+tt.name, func(t *testing.T) {
			tt.opts.RedirectURI = redirectURI
			tt.opts.AccessTokenTTL = time.Hour
			tt.opts.UserInfo = map[string]any{"sub": "u-42", "name": "Ada"}
			idp := providertest.New(t, tt.opts)
			p := compile(t, idp.Config("hooli"))
			ctx := context.Background()

			before := time.Now()
			tok := authorizeAndExchange(t, idp, p, []string{"read", "write"})
			if !idp.ValidAccessToken(tok.AccessToken) {
				t.Fatalf("exchanged access token is not one the provider issued")
			}
			if tok.RefreshToken == "" || tok.TokenType != "Bearer" {
				t.Errorf("token %v lacks refresh token or type", tok)
			}
			if tok.Expiry.Before(before.Add(59*time.Minute)) || tok.Expiry.After(time.Now().Add(time.Hour+time.Second)) {
				t.Errorf("expiry %v is not about an hour ahead", tok.Expiry)
			}
			if strings.Join(tok.Scopes, " ") != "read write" {
				t.Errorf("scopes %q, want [read write]", tok.Scopes)
			}

			info, err := p.UserInfo(ctx, http.DefaultClient, tok)
			if err != nil || info["sub"] != "u-42" || info["name"] != "Ada" {
				t.Fatalf("user info %v, %v", info, err)
			}

			refreshed, err := p.Refresh(ctx, http.DefaultClient, tok)
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if !idp.ValidAccessToken(refreshed.AccessToken) || refreshed.AccessToken == tok.AccessToken {
				t.Errorf("refresh did not yield a new valid access token")
			}
			rotated := refreshed.RefreshToken != tok.RefreshToken
			if rotated != tt.opts.RotateRefreshTokens || !idp.ValidRefreshToken(refreshed.RefreshToken) {
				t.Errorf("refresh token rotated=%v, want %v, and valid", rotated, tt.opts.RotateRefreshTokens)
			}
			if got := idp.Counts(); got.CodeExchanges != 1 || got.Refreshes != 1 || got.UserInfo != 1 || got.Rejected != 0 {
				t.Errorf("counts %+v", got)
			}

			if tt.opts.ClientAuth == "none" {
				return // public clients cannot use client credentials
			}
			svc := compile(t, idp.ClientCredentialsConfig("svc"))
			st, err := svc.ClientCredentials(ctx, http.DefaultClient, []string{"svc"})
			if err != nil || !idp.ValidAccessToken(st.AccessToken) || st.RefreshToken != "" {
				t.Fatalf("client credentials: %v, %v", st, err)
			}
		})
	}
}

func TestTokenWithoutExpiresInNeverExpires(t *testing.T) {
	idp := providertest.New(t, providertest.Options{RedirectURI: redirectURI})
	tok := authorizeAndExchange(t, idp, compile(t, idp.Config("hooli")), nil)
	if !tok.Expiry.IsZero() {
		t.Errorf("expiry %v, want zero (never expires)", tok.Expiry)
	}
	if tok.Scopes != nil {
		t.Errorf("scopes %q, want nil when the response names none", tok.Scopes)
	}
}

func TestProviderFailures(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name          string
		opts          providertest.Options
		run           func(t *testing.T, idp *providertest.Provider, p *authflow.Provider) error
		wantStatus    int
		wantCode      string
		wantRetryable bool
		wantInvalid   bool
	}{
		{
			name: "a replayed code is invalid_grant",
			run: func(t *testing.T, idp *providertest.Provider, p *authflow.Provider) error {
				cb, _ := idp.Consent(ctx, p.AuthorizeURL("s", nil, nil, ""))
				code := mustQuery(t, cb).Get("code")
				if _, err := p.Exchange(ctx, http.DefaultClient, code, ""); err != nil {
					t.Fatalf("first exchange: %v", err)
				}
				_, err := p.Exchange(ctx, http.DefaultClient, code, "")
				return err
			},
			wantStatus: 400, wantCode: "invalid_grant", wantInvalid: true,
		},
		{
			name: "an invalid code answered with HTTP 200 ok:false is a failure",
			opts: providertest.Options{Quirks: providertest.Quirks{ErrorsWith200: true}},
			run: func(t *testing.T, idp *providertest.Provider, p *authflow.Provider) error {
				_, err := p.Exchange(ctx, http.DefaultClient, "forged", "")
				return err
			},
			wantStatus: 200, wantCode: "invalid_grant", wantInvalid: true,
		},
		{
			name: "a 503 from the token endpoint is retryable",
			run: func(t *testing.T, idp *providertest.Provider, p *authflow.Provider) error {
				idp.FailNext(1, 503, "temporarily_unavailable")
				_, err := p.Exchange(ctx, http.DefaultClient, "c", "")
				return err
			},
			wantStatus: 503, wantCode: "temporarily_unavailable", wantRetryable: true,
		},
		{
			name: "a 429 is retryable",
			run: func(t *testing.T, idp *providertest.Provider, p *authflow.Provider) error {
				idp.FailNext(1, 429, "slow_down")
				_, err := p.Refresh(ctx, http.DefaultClient, &authflow.Token{RefreshToken: "r"})
				return err
			},
			wantStatus: 429, wantCode: "slow_down", wantRetryable: true,
		},
		{
			name: "a reused rotated refresh token is invalid_grant",
			opts: providertest.Options{RotateRefreshTokens: true},
			run: func(t *testing.T, idp *providertest.Provider, p *authflow.Provider) error {
				tok := authorizeAndExchange(t, idp, p, nil)
				if _, err := p.Refresh(ctx, http.DefaultClient, tok); err != nil {
					t.Fatalf("first refresh: %v", err)
				}
				_, err := p.Refresh(ctx, http.DefaultClient, tok)
				return err
			},
			wantStatus: 400, wantCode: "invalid_grant", wantInvalid: true,
		},
		{
			name: "an expired access token at user info is invalid_token",
			run: func(t *testing.T, idp *providertest.Provider, p *authflow.Provider) error {
				tok := authorizeAndExchange(t, idp, p, nil)
				idp.ExpireAccessTokens()
				_, err := p.UserInfo(ctx, http.DefaultClient, tok)
				return err
			},
			wantStatus: 401, wantCode: "invalid_token",
		},
	}
	for _, tt := range tests {
		t.Run("it reports that "+tt.name, func(t *testing.T) {
			tt.opts.RedirectURI = redirectURI
			idp := providertest.New(t, tt.opts)
			p := compile(t, idp.Config("hooli"))
			err := tt.run(t, idp, p)
			pe, ok := errors.AsType[*authflow.ProviderError](err)
			if !ok {
				t.Fatalf("error %v is not a *ProviderError", err)
			}
			if pe.Status != tt.wantStatus || pe.Code != tt.wantCode {
				t.Errorf("got status %d code %q, want %d %q", pe.Status, pe.Code, tt.wantStatus, tt.wantCode)
			}
			if authflow.IsRetryable(err) != tt.wantRetryable || authflow.IsInvalidGrant(err) != tt.wantInvalid {
				t.Errorf("IsRetryable=%v IsInvalidGrant=%v, want %v %v", authflow.IsRetryable(err), authflow.IsInvalidGrant(err), tt.wantRetryable, tt.wantInvalid)
			}
			if !strings.Contains(err.Error(), `provider "hooli"`) {
				t.Errorf("error %q does not say which provider", err)
			}
		})
	}
}

func TestATimeoutIsRetryable(t *testing.T) {
	idp := providertest.New(t, providertest.Options{RedirectURI: redirectURI})
	p := compile(t, idp.Config("hooli"))
	idp.SetDelay(2 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := p.Exchange(ctx, http.DefaultClient, "c", "")
	if !errors.Is(err, context.DeadlineExceeded) || !authflow.IsRetryable(err) {
		t.Errorf("err = %v: want a retryable deadline error", err)
	}
}

// TestResponsesThatCannotBeUsed uses a plain server for shapes the strict
// stand-in never produces.
func TestResponsesThatCannotBeUsed(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		wantErr     string
		wantProv    bool
	}{
		{"a body over 1 MiB", 200, "application/json", `{"access_token":"` + strings.Repeat("a", 1<<20) + `"}`, "exceeds", false},
		{"a body that is neither JSON nor a form", 200, "text/html", "<html>oops</html>", "parse token response", false},
		{"a response without access_token", 200, "application/json", `{"token_type":"Bearer"}`, "no access_token", false},
		{"a non-numeric expires_in", 200, "application/json", `{"access_token":"a","expires_in":"soon"}`, "expires_in", false},
		{"an HTML 502 page", 502, "text/html", "<html>bad gateway</html>", "HTTP 502", true},
		{"a redirect from the token endpoint", 307, "text/html", "", "HTTP 307", true},
		{"an error object with a message", 400, "application/json", `{"error":{"code":"bad_code","message":"nope"}}`, "bad_code (nope)", true},
	}
	for _, tt := range tests {
		t.Run("it refuses "+tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/elsewhere" {
					t.Error("the token request followed a redirect")
				}
				w.Header().Set("Content-Type", tt.contentType)
				w.Header().Set("Location", "/elsewhere")
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			p := compile(t, config.Provider{ID: "hooli", ClientID: "id", ClientSecret: "sec", OAuth2: config.OAuth2{
				AuthorizeRequest: &config.Request{Endpoint: srv.URL + "/a"},
				TokenRequest:     &config.Request{Endpoint: srv.URL + "/t"},
			}})
			_, err := p.Exchange(context.Background(), srv.Client(), "the-code", "")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
			}
			if _, ok := errors.AsType[*authflow.ProviderError](err); ok != tt.wantProv {
				t.Errorf("ProviderError = %v, want %v", ok, tt.wantProv)
			}
			for _, secret := range []string{"sec", "the-code", "oops", "bad gateway"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q leaks %q", err, secret)
				}
			}
		})
	}
}

func TestUnreachableProviderIsRetryableAndHidesTheQuery(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	endpoint := srv.URL
	srv.Close()
	p := compile(t, config.Provider{ID: "hooli", ClientID: "id", ClientSecret: "topsecret", OAuth2: config.OAuth2{
		AuthorizeRequest: &config.Request{Endpoint: endpoint + "/a"},
		TokenRequest:     &config.Request{Endpoint: endpoint + "/t", Method: "GET"},
	}})
	_, err := p.Exchange(context.Background(), http.DefaultClient, "the-code", "")
	if !authflow.IsRetryable(err) {
		t.Errorf("err = %v, want retryable", err)
	}
	if err != nil && (strings.Contains(err.Error(), "topsecret") || strings.Contains(err.Error(), "the-code")) {
		t.Errorf("error %q leaks the request query", err)
	}
}

func TestRequestsWithoutADeadlineGetTheDefault(t *testing.T) {
	var deadline time.Time
	var has bool
	c := &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
		deadline, has = r.Context().Deadline()
		return nil, errors.New("stop")
	})}
	p := compile(t, config.Provider{ID: "hooli", OAuth2: config.OAuth2{
		AuthorizeRequest: &config.Request{Endpoint: "https://h.example/a"},
		TokenRequest:     &config.Request{Endpoint: "https://h.example/t"},
	}})
	_, _ = p.Exchange(context.Background(), c, "c", "")
	if !has || time.Until(deadline) > authflow.DefaultTimeout || time.Until(deadline) < authflow.DefaultTimeout-time.Second {
		t.Errorf("deadline %v (set=%v), want about %v from now", deadline, has, authflow.DefaultTimeout)
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestAttack_ProviderRequestFollowsRedirectToAnotherHost: an endpoint
// that redirects to another host (an internal address, a metadata
// service, an attacker) must not be followed by any provider request,
// whatever the caller's client does with redirects: the request fails as
// the redirect it got, and the other host sees nothing. A user-info
// redirect on the same host is still followed.
func TestAttack_ProviderRequestFollowsRedirectToAnotherHost(t *testing.T) {
	var elsewhere int
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere++
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"internal","instance_id":"i-0123","sub":"x"}`))
	}))
	defer other.Close()
	// The same server under another host name: 127.0.0.1 and localhost.
	otherURL := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/me/moved" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"sub":"ada"}`))
			return
		}
		if r.URL.Path == "/me-same-host" {
			http.Redirect(w, r, "/me/moved", http.StatusFound)
			return
		}
		http.Redirect(w, r, otherURL+"/latest/meta-data", http.StatusTemporaryRedirect)
	}))
	defer provider.Close()
	compileWith := func(userInfo string) *authflow.Provider {
		return compile(t, config.Provider{ID: "hooli", ClientID: "id", ClientSecret: "sec", OAuth2: config.OAuth2{
			AuthorizeRequest:    &config.Request{Endpoint: provider.URL + "/a"},
			TokenRequest:        &config.Request{Endpoint: provider.URL + "/t"},
			RefreshTokenRequest: &config.Request{Endpoint: provider.URL + "/t"},
			UserInfoRequest:     &config.Request{Endpoint: provider.URL + userInfo},
		}})
	}
	p := compileWith("/me")
	cc := compile(t, config.Provider{ID: "svc", ClientID: "id", ClientSecret: "sec", OAuth2: config.OAuth2{
		GrantType: "client_credentials", TokenRequest: &config.Request{Endpoint: provider.URL + "/t"},
	}})
	// A client that follows redirects, as http.DefaultClient does.
	follows := &http.Client{}
	tok := &authflow.Token{AccessToken: "at", RefreshToken: "rt"}
	ctx := context.Background()
	ops := map[string]func() error{
		"token":              func() error { _, err := p.Exchange(ctx, follows, "code", ""); return err },
		"refresh":            func() error { _, err := p.Refresh(ctx, follows, tok); return err },
		"client credentials": func() error { _, err := cc.ClientCredentials(ctx, follows, nil); return err },
		"user info":          func() error { _, err := p.UserInfo(ctx, follows, tok); return err },
	}
	for name, op := range ops {
		t.Run("the "+name+" request does not follow it", func(t *testing.T) {
			err := op()
			pe, ok := errors.AsType[*authflow.ProviderError](err)
			if !ok || pe.Status != http.StatusTemporaryRedirect {
				t.Fatalf("err = %v, want the redirect answered as a provider failure", err)
			}
			if elsewhere != 0 {
				t.Fatalf("the other host received %d requests", elsewhere)
			}
		})
	}
	t.Run("a user-info redirect on the same host is followed", func(t *testing.T) {
		info, err := compileWith("/me-same-host").UserInfo(ctx, follows, tok)
		if err != nil || info["sub"] != "ada" {
			t.Fatalf("user info = %v, %v; want the moved document", info, err)
		}
	})
}
