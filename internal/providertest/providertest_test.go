package providertest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder captures Errorf so the stand-in's own tests can provoke
// violations and check they are reported, without failing.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, format)
}

func (r *recorder) errors() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.errs)
}

const redirect = "https://engine.example/oauth/callback"

// rfcVerifier and rfcChallenge are the RFC 7636 appendix B pair.
const (
	rfcVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	rfcChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

func authorizeURL(p *Provider, extra map[string]string) string {
	q := url.Values{
		"response_type": {"code"},
		"client_id":     {p.ClientID()},
		"redirect_uri":  {redirect},
		"state":         {"st-123"},
		"scope":         {"read write"},
	}
	for k, v := range extra {
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	return p.AuthorizeEndpoint() + "?" + q.Encode()
}

// code runs a consenting authorization and returns the issued code.
func code(t *testing.T, p *Provider, extra map[string]string) string {
	t.Helper()
	cb, err := p.Consent(context.Background(), authorizeURL(p, extra))
	if err != nil {
		t.Fatalf("consent: %v", err)
	}
	u, err := url.Parse(cb)
	if err != nil {
		t.Fatalf("callback %q: %v", cb, err)
	}
	if got := u.Query().Get("state"); got != "st-123" {
		t.Fatalf("state = %q, want it passed through unchanged", got)
	}
	c := u.Query().Get("code")
	if c == "" {
		t.Fatalf("callback %q has no code", cb)
	}
	return c
}

// tokenCall is one raw token-endpoint request.
type tokenCall struct {
	form       url.Values
	basic      [2]string // id, secret; empty: none
	json       bool
	noAccept   bool
	withMethod string
}

func post(t *testing.T, p *Provider, c tokenCall) (int, map[string]any) {
	t.Helper()
	var body io.Reader
	ct := "application/x-www-form-urlencoded"
	if c.json {
		m := map[string]string{}
		for k := range c.form {
			m[k] = c.form.Get(k)
		}
		b, _ := json.Marshal(m)
		body, ct = strings.NewReader(string(b)), "application/json"
	} else {
		body = strings.NewReader(c.form.Encode())
	}
	method := http.MethodPost
	if c.withMethod != "" {
		method = c.withMethod
	}
	req, _ := http.NewRequest(method, p.TokenEndpoint(), body)
	req.Header.Set("Content-Type", ct)
	if !c.noAccept {
		req.Header.Set("Accept", "application/json")
	}
	if c.basic[0] != "" {
		req.SetBasicAuth(url.QueryEscape(c.basic[0]), url.QueryEscape(c.basic[1]))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	doc := map[string]any{}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		v, _ := url.ParseQuery(string(raw))
		for k := range v {
			doc[k] = v.Get(k)
		}
	} else if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("token response %q is not JSON: %v", raw, err)
	}
	return resp.StatusCode, doc
}

func exchangeForm(code, verifier string) url.Values {
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}
	if verifier != "" {
		f.Set("code_verifier", verifier)
	}
	return f
}

func basic() [2]string { return [2]string{DefaultClientID, DefaultClientSecret} }

func TestCodeExchangeSucceedsForEachClientAuthMethod(t *testing.T) {
	for _, auth := range []string{ClientSecretBasic, ClientSecretPost, ClientAuthNone} {
		t.Run(auth+" is accepted when the client authenticates that way", func(t *testing.T) {
			p := New(t, Options{ClientAuth: auth, RequirePKCE: true, RedirectURI: redirect, AccessTokenTTL: time.Hour})
			c := code(t, p, map[string]string{"code_challenge": rfcChallenge, "code_challenge_method": "S256"})
			call := tokenCall{form: exchangeForm(c, rfcVerifier)}
			switch auth {
			case ClientSecretBasic:
				call.basic = basic()
			case ClientSecretPost:
				call.form.Set("client_id", DefaultClientID)
				call.form.Set("client_secret", DefaultClientSecret)
			case ClientAuthNone:
				call.form.Set("client_id", DefaultClientID)
			}
			status, doc := post(t, p, call)
			if status != http.StatusOK {
				t.Fatalf("status %d, body %v", status, doc)
			}
			if doc["token_type"] != "Bearer" || doc["expires_in"] != float64(3600) || doc["scope"] != "read write" {
				t.Errorf("token response %v lacks the standard fields", doc)
			}
			if !p.ValidAccessToken(doc["access_token"].(string)) || !p.ValidRefreshToken(doc["refresh_token"].(string)) {
				t.Errorf("issued tokens are not valid")
			}
			if got := p.Counts(); got.Authorize != 1 || got.CodeExchanges != 1 || got.Rejected != 0 {
				t.Errorf("counts %+v", got)
			}
		})
	}
}

func TestTokenEndpointRejects(t *testing.T) {
	tests := []struct {
		name          string
		opts          Options
		pkce          bool
		call          func(code string) tokenCall
		prepare       func(t *testing.T, p *Provider, code string)
		wantStatus    int
		wantError     string
		wantViolation bool
	}{
		{
			name: "a wrong client secret with invalid_client",
			call: func(c string) tokenCall {
				return tokenCall{form: exchangeForm(c, ""), basic: [2]string{DefaultClientID, "wrong"}}
			},
			wantStatus: 401, wantError: "invalid_client", wantViolation: true,
		},
		{
			name: "client_secret_post when HTTP Basic is demanded",
			call: func(c string) tokenCall {
				f := exchangeForm(c, "")
				f.Set("client_id", DefaultClientID)
				f.Set("client_secret", DefaultClientSecret)
				return tokenCall{form: f}
			},
			wantStatus: 401, wantError: "invalid_client", wantViolation: true,
		},
		{
			name: "credentials sent both in HTTP Basic and the body",
			call: func(c string) tokenCall {
				f := exchangeForm(c, "")
				f.Set("client_secret", DefaultClientSecret)
				return tokenCall{form: f, basic: basic()}
			},
			wantStatus: 401, wantError: "invalid_client", wantViolation: true,
		},
		{
			name:       "HTTP Basic when client_secret_post is demanded",
			opts:       Options{ClientAuth: ClientSecretPost},
			call:       func(c string) tokenCall { return tokenCall{form: exchangeForm(c, ""), basic: basic()} },
			wantStatus: 401, wantError: "invalid_client", wantViolation: true,
		},
		{
			name: "a public client that sends a secret",
			opts: Options{ClientAuth: ClientAuthNone},
			call: func(c string) tokenCall {
				f := exchangeForm(c, "")
				f.Set("client_id", DefaultClientID)
				f.Set("client_secret", "x")
				return tokenCall{form: f}
			},
			wantStatus: 401, wantError: "invalid_client", wantViolation: true,
		},
		{
			name: "a wrong PKCE verifier",
			opts: Options{RequirePKCE: true},
			pkce: true,
			call: func(c string) tokenCall {
				return tokenCall{form: exchangeForm(c, strings.Repeat("a", 43)), basic: basic()}
			},
			wantStatus: 400, wantError: "invalid_grant", wantViolation: true,
		},
		{
			name:       "a missing PKCE verifier",
			opts:       Options{RequirePKCE: true},
			pkce:       true,
			call:       func(c string) tokenCall { return tokenCall{form: exchangeForm(c, ""), basic: basic()} },
			wantStatus: 400, wantError: "invalid_grant", wantViolation: true,
		},
		{
			name:       "a verifier for a code issued without a challenge",
			call:       func(c string) tokenCall { return tokenCall{form: exchangeForm(c, rfcVerifier), basic: basic()} },
			wantStatus: 400, wantError: "invalid_request", wantViolation: true,
		},
		{
			name: "a redirect_uri that differs from the authorized one",
			call: func(c string) tokenCall {
				f := exchangeForm(c, "")
				f.Set("redirect_uri", "https://evil.example/cb")
				return tokenCall{form: f, basic: basic()}
			},
			wantStatus: 400, wantError: "invalid_grant", wantViolation: true,
		},
		{
			name: "an unsupported grant type",
			call: func(c string) tokenCall {
				f := exchangeForm(c, "")
				f.Set("grant_type", "password")
				return tokenCall{form: f, basic: basic()}
			},
			wantStatus: 400, wantError: "unsupported_grant_type", wantViolation: true,
		},
		{
			name: "a missing grant type",
			call: func(c string) tokenCall {
				f := exchangeForm(c, "")
				f.Del("grant_type")
				return tokenCall{form: f, basic: basic()}
			},
			wantStatus: 400, wantError: "invalid_request", wantViolation: true,
		},
		{
			name:       "a request without Accept: application/json",
			call:       func(c string) tokenCall { return tokenCall{form: exchangeForm(c, ""), basic: basic(), noAccept: true} },
			wantStatus: 400, wantError: "invalid_request", wantViolation: true,
		},
		{
			name:       "a JSON body when form bodies are demanded",
			call:       func(c string) tokenCall { return tokenCall{form: exchangeForm(c, ""), basic: basic(), json: true} },
			wantStatus: 400, wantError: "invalid_request", wantViolation: true,
		},
		{
			name:       "a form body when JSON bodies are demanded",
			opts:       Options{Quirks: Quirks{JSONRequestBody: true}},
			call:       func(c string) tokenCall { return tokenCall{form: exchangeForm(c, ""), basic: basic()} },
			wantStatus: 400, wantError: "invalid_request", wantViolation: true,
		},
		{
			name: "a GET request",
			call: func(c string) tokenCall {
				return tokenCall{form: exchangeForm(c, ""), basic: basic(), withMethod: http.MethodGet}
			},
			wantStatus: 405, wantError: "invalid_request", wantViolation: true,
		},
		{
			name: "a replayed code, without reporting a violation",
			call: func(c string) tokenCall { return tokenCall{form: exchangeForm(c, ""), basic: basic()} },
			prepare: func(t *testing.T, p *Provider, c string) {
				if status, doc := post(t, p, tokenCall{form: exchangeForm(c, ""), basic: basic()}); status != 200 {
					t.Fatalf("first redemption: %d %v", status, doc)
				}
			},
			wantStatus: 400, wantError: "invalid_grant",
		},
		{
			name:       "an expired code, without reporting a violation",
			call:       func(c string) tokenCall { return tokenCall{form: exchangeForm(c, ""), basic: basic()} },
			prepare:    func(t *testing.T, p *Provider, c string) { p.ExpireCodes() },
			wantStatus: 400, wantError: "invalid_grant",
		},
		{
			name:       "an unknown code, without reporting a violation",
			call:       func(c string) tokenCall { return tokenCall{form: exchangeForm("forged", ""), basic: basic()} },
			wantStatus: 400, wantError: "invalid_grant",
		},
	}
	for _, tt := range tests {
		t.Run("it refuses "+tt.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			tt.opts.RedirectURI = redirect
			p := New(rec, tt.opts)
			var extra map[string]string
			if tt.pkce {
				extra = map[string]string{"code_challenge": rfcChallenge, "code_challenge_method": "S256"}
			}
			c := code(t, p, extra)
			if tt.prepare != nil {
				tt.prepare(t, p, c)
			}
			before := p.Counts().Rejected
			status, doc := post(t, p, tt.call(c))
			if status != tt.wantStatus || doc["error"] != tt.wantError {
				t.Errorf("got %d %v, want %d error=%s", status, doc, tt.wantStatus, tt.wantError)
			}
			if got := rec.errors() > 0; got != tt.wantViolation {
				t.Errorf("violation reported = %v, want %v (%v)", got, tt.wantViolation, p.Violations())
			}
			if got := p.Counts().Rejected - before; got != 1 {
				t.Errorf("Rejected grew by %d, want 1", got)
			}
		})
	}
}

func TestReplayedCodeRevokesTheTokensItIssued(t *testing.T) {
	p := New(t, Options{RedirectURI: redirect})
	c := code(t, p, nil)
	_, doc := post(t, p, tokenCall{form: exchangeForm(c, ""), basic: basic()})
	at := doc["access_token"].(string)
	post(t, p, tokenCall{form: exchangeForm(c, ""), basic: basic()})
	if p.ValidAccessToken(at) {
		t.Error("access token from a replayed code is still valid (RFC 6749 4.1.2)")
	}
	if got := p.Counts().Replays; got != 1 {
		t.Errorf("Replays = %d, want 1", got)
	}
}

func TestAuthorizeEndpoint(t *testing.T) {
	tests := []struct {
		name       string
		opts       Options
		extra      map[string]string
		wantPage   bool   // 400 page, no redirect
		wantError  string // error= in the redirect
		violations int
	}{
		{name: "shows an error page for an unregistered redirect_uri", extra: map[string]string{"redirect_uri": "https://evil.example/cb"}, wantPage: true, violations: 1},
		{name: "shows an error page for an unknown client_id", extra: map[string]string{"client_id": "nobody"}, wantPage: true, violations: 1},
		{name: "redirects invalid_request when state is missing", extra: map[string]string{"state": ""}, wantError: "invalid_request", violations: 1},
		{name: "redirects invalid_request for a wrong response_type", extra: map[string]string{"response_type": "token"}, wantError: "invalid_request", violations: 1},
		{name: "redirects invalid_request when PKCE is required but missing", opts: Options{RequirePKCE: true}, wantError: "invalid_request", violations: 1},
		{name: "redirects invalid_request for the plain PKCE method", extra: map[string]string{"code_challenge": rfcChallenge, "code_challenge_method": "plain"}, wantError: "invalid_request", violations: 1},
	}
	for _, tt := range tests {
		t.Run("it "+tt.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			tt.opts.RedirectURI = redirect
			p := New(rec, tt.opts)
			cb, err := p.Consent(context.Background(), authorizeURL(p, tt.extra))
			if tt.wantPage {
				if err == nil {
					t.Fatalf("redirected to %q, want an error page", cb)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				u, _ := url.Parse(cb)
				if got := u.Query().Get("error"); got != tt.wantError {
					t.Errorf("callback %q: error=%q, want %q", cb, got, tt.wantError)
				}
			}
			if rec.errors() != tt.violations {
				t.Errorf("%d violations reported, want %d", rec.errors(), tt.violations)
			}
			if p.Counts().Authorize != 0 {
				t.Error("a code was issued")
			}
		})
	}
}

func TestDenyRedirectsAccessDeniedWithTheState(t *testing.T) {
	p := New(t, Options{RedirectURI: redirect})
	cb, err := p.Deny(context.Background(), authorizeURL(p, nil))
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(cb)
	if u.Query().Get("error") != "access_denied" || u.Query().Get("state") != "st-123" || u.Query().Has("code") {
		t.Errorf("callback %q, want error=access_denied with the state and no code", cb)
	}
	if !strings.HasPrefix(cb, redirect+"?") {
		t.Errorf("callback %q does not go to the redirect URI", cb)
	}
	if got := p.Counts(); got.Denied != 1 || got.Authorize != 0 {
		t.Errorf("counts %+v", got)
	}
}

func refreshForm(rt string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
}

func TestRefresh(t *testing.T) {
	t.Run("without rotation it keeps the refresh token and sends none back", func(t *testing.T) {
		p := New(t, Options{RedirectURI: redirect})
		_, doc := post(t, p, tokenCall{form: exchangeForm(code(t, p, nil), ""), basic: basic()})
		rt := doc["refresh_token"].(string)
		for range 2 {
			status, got := post(t, p, tokenCall{form: refreshForm(rt), basic: basic()})
			if status != 200 || got["refresh_token"] != nil || got["access_token"] == nil {
				t.Fatalf("refresh: %d %v", status, got)
			}
		}
		if p.Counts().Refreshes != 2 {
			t.Errorf("Refreshes = %d", p.Counts().Refreshes)
		}
	})
	t.Run("with rotation a reused refresh token revokes the whole chain", func(t *testing.T) {
		rec := &recorder{TB: t}
		p := New(rec, Options{RedirectURI: redirect, RotateRefreshTokens: true})
		_, doc := post(t, p, tokenCall{form: exchangeForm(code(t, p, nil), ""), basic: basic()})
		rt1 := doc["refresh_token"].(string)
		status, doc2 := post(t, p, tokenCall{form: refreshForm(rt1), basic: basic()})
		rt2, _ := doc2["refresh_token"].(string)
		if status != 200 || rt2 == "" || rt2 == rt1 {
			t.Fatalf("rotation: %d %v", status, doc2)
		}
		at2 := doc2["access_token"].(string)
		status, doc3 := post(t, p, tokenCall{form: refreshForm(rt1), basic: basic()})
		if status != 400 || doc3["error"] != "invalid_grant" {
			t.Fatalf("reuse: %d %v, want invalid_grant", status, doc3)
		}
		if p.ValidRefreshToken(rt2) || p.ValidAccessToken(at2) {
			t.Error("the chain was not revoked")
		}
		if p.Counts().Replays != 1 || rec.errors() != 0 {
			t.Errorf("counts %+v, violations %v", p.Counts(), p.Violations())
		}
	})
	t.Run("a scope beyond the granted ones is invalid_scope", func(t *testing.T) {
		p := New(t, Options{RedirectURI: redirect})
		_, doc := post(t, p, tokenCall{form: exchangeForm(code(t, p, nil), ""), basic: basic()})
		f := refreshForm(doc["refresh_token"].(string))
		f.Set("scope", "admin")
		if status, got := post(t, p, tokenCall{form: f, basic: basic()}); status != 400 || got["error"] != "invalid_scope" {
			t.Errorf("got %d %v", status, got)
		}
	})
}

func TestClientCredentialsGrant(t *testing.T) {
	p := New(t, Options{AccessTokenTTL: time.Minute})
	status, doc := post(t, p, tokenCall{form: url.Values{"grant_type": {"client_credentials"}, "scope": {"svc"}}, basic: basic()})
	if status != 200 || doc["scope"] != "svc" || doc["refresh_token"] != nil {
		t.Fatalf("got %d %v", status, doc)
	}
	if p.Counts().ClientCredentials != 1 {
		t.Errorf("counts %+v", p.Counts())
	}
}

func TestQuirksShapeTheTokenResponse(t *testing.T) {
	tests := []struct {
		name   string
		quirks Quirks
		check  func(t *testing.T, p *Provider, doc map[string]any)
	}{
		{"nests the token under authed_user with a decoy at the top", Quirks{NestUnder: "authed_user"}, func(t *testing.T, p *Provider, doc map[string]any) {
			inner, ok := doc["authed_user"].(map[string]any)
			if !ok || !p.ValidAccessToken(inner["access_token"].(string)) || doc["ok"] != true {
				t.Errorf("doc %v", doc)
			}
			if p.ValidAccessToken(doc["access_token"].(string)) {
				t.Error("the top-level decoy is a valid token")
			}
		}},
		{"answers form-encoded", Quirks{FormEncoded: true}, func(t *testing.T, p *Provider, doc map[string]any) {
			if doc["expires_in"] != "60" || doc["scope"] != "read write" {
				t.Errorf("doc %v", doc)
			}
		}},
		{"sends array scopes", Quirks{ArrayScopes: true}, func(t *testing.T, p *Provider, doc map[string]any) {
			if s, ok := doc["scope"].([]any); !ok || len(s) != 2 {
				t.Errorf("scope %v", doc["scope"])
			}
		}},
		{"sends expires_in as a string", Quirks{StringExpiresIn: true}, func(t *testing.T, p *Provider, doc map[string]any) {
			if doc["expires_in"] != "60" {
				t.Errorf("expires_in %#v", doc["expires_in"])
			}
		}},
		{"joins scopes with a comma", Quirks{ScopeDelimiter: ","}, func(t *testing.T, p *Provider, doc map[string]any) {
			if doc["scope"] != "read,write" {
				t.Errorf("scope %v", doc["scope"])
			}
		}},
	}
	for _, tt := range tests {
		t.Run("it "+tt.name, func(t *testing.T) {
			p := New(t, Options{RedirectURI: redirect, AccessTokenTTL: time.Minute, Quirks: tt.quirks})
			scope := "read" + tt.quirks.ScopeDelimiter + "write"
			if tt.quirks.ScopeDelimiter == "" {
				scope = "read write"
			}
			status, doc := post(t, p, tokenCall{form: exchangeForm(code(t, p, map[string]string{"scope": scope}), ""), basic: basic()})
			if status != 200 {
				t.Fatalf("status %d %v", status, doc)
			}
			tt.check(t, p, doc)
		})
	}
}

func TestErrorsWith200AnswersOkFalse(t *testing.T) {
	p := New(t, Options{RedirectURI: redirect, Quirks: Quirks{ErrorsWith200: true}})
	status, doc := post(t, p, tokenCall{form: exchangeForm("forged", ""), basic: basic()})
	if status != 200 || doc["ok"] != false || doc["error"] != "invalid_grant" {
		t.Errorf("got %d %v", status, doc)
	}
}

func TestJSONRequestBodyIsAccepted(t *testing.T) {
	p := New(t, Options{RedirectURI: redirect, Quirks: Quirks{JSONRequestBody: true}})
	status, doc := post(t, p, tokenCall{form: exchangeForm(code(t, p, nil), ""), basic: basic(), json: true})
	if status != 200 {
		t.Errorf("got %d %v", status, doc)
	}
}

func TestFailNextFailsThenRecovers(t *testing.T) {
	p := New(t, Options{RedirectURI: redirect})
	c := code(t, p, nil)
	p.FailNext(2, http.StatusServiceUnavailable, "temporarily_unavailable")
	for i := range 2 {
		if status, doc := post(t, p, tokenCall{form: exchangeForm(c, ""), basic: basic()}); status != 503 || doc["error"] != "temporarily_unavailable" {
			t.Fatalf("call %d: %d %v", i, status, doc)
		}
	}
	if status, doc := post(t, p, tokenCall{form: exchangeForm(c, ""), basic: basic()}); status != 200 {
		t.Fatalf("after the injected failures the code should still redeem: %d %v", status, doc)
	}
	if got := p.Counts(); got.Rejected != 2 || got.CodeExchanges != 1 {
		t.Errorf("counts %+v", got)
	}
}

func TestUserInfo(t *testing.T) {
	get := func(p *Provider, bearer string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodGet, p.UserInfoEndpoint(), nil)
		req.Header.Set("Accept", "application/json")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var doc map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&doc)
		return resp.StatusCode, doc
	}
	rec := &recorder{TB: t}
	p := New(rec, Options{RedirectURI: redirect, UserInfo: map[string]any{"sub": "u1", "email": "u1@example.com"}})
	_, doc := post(t, p, tokenCall{form: exchangeForm(code(t, p, nil), ""), basic: basic()})
	at := doc["access_token"].(string)

	if status, info := get(p, at); status != 200 || info["email"] != "u1@example.com" {
		t.Errorf("valid token: %d %v", status, info)
	}
	p.ExpireAccessTokens()
	if status, info := get(p, at); status != 401 || info["error"] != "invalid_token" {
		t.Errorf("expired token: %d %v", status, info)
	}
	if rec.errors() != 0 {
		t.Errorf("an expired token is not a violation: %v", p.Violations())
	}
	if status, _ := get(p, ""); status != 401 || rec.errors() != 1 {
		t.Errorf("missing bearer: %d, violations %v", status, p.Violations())
	}
	if got := p.Counts(); got.UserInfo != 1 || got.Rejected != 2 {
		t.Errorf("counts %+v", got)
	}
}

func TestSetDelayLetsClientsTimeOut(t *testing.T) {
	p := New(t, Options{RedirectURI: redirect})
	p.SetDelay(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := p.Consent(ctx, authorizeURL(p, nil)); err == nil {
		t.Fatal("consent succeeded despite the delay")
	}
	if time.Since(start) > 900*time.Millisecond {
		t.Error("the client's deadline did not cut the delay short")
	}
}

func TestCountsAreSafeUnderConcurrency(t *testing.T) {
	p := New(t, Options{RedirectURI: redirect})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			cb, err := p.Consent(context.Background(), authorizeURL(p, nil))
			if err != nil {
				t.Error(err)
				return
			}
			u, _ := url.Parse(cb)
			post(t, p, tokenCall{form: exchangeForm(u.Query().Get("code"), ""), basic: basic()})
		})
	}
	wg.Wait()
	if got := p.Counts(); got.Authorize != 20 || got.CodeExchanges != 20 {
		t.Errorf("counts %+v", got)
	}
}

func TestConfigPointsAtTheStandIn(t *testing.T) {
	p := New(t, Options{ClientAuth: ClientAuthNone, RequirePKCE: true, Quirks: Quirks{NestUnder: "data", JSONRequestBody: true, FormEncoded: false}})
	c := p.Config("hooli")
	o := c.OAuth2
	if c.ID != "hooli" || !c.IsEnabled() || !o.PKCE.Enabled || o.TokenRequest.Endpoint != p.TokenEndpoint() {
		t.Errorf("config %+v", c)
	}
	if o.TokenRequest.AuthMethod != "none" || o.TokenRequest.Params["client_id"] != "<<client_id>>" {
		t.Errorf("a public client must send client_id in the body: %+v", o.TokenRequest)
	}
	if o.TokenRequest.RequestContentType != "application/json" || o.TokenRequest.ResponseMap["access_token"] != "$.data.access_token" {
		t.Errorf("quirks not reflected: %+v", o.TokenRequest)
	}
	cc := p.ClientCredentialsConfig("svc")
	if cc.OAuth2.GrantType != "client_credentials" || cc.OAuth2.AuthorizeRequest != nil {
		t.Errorf("client credentials config %+v", cc.OAuth2)
	}
}
