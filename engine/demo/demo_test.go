package demo

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const redirectURI = "http://localhost:9099/oauth/callback"

// rig is a demo provider on a test server with a clock the test moves.
type rig struct {
	t   *testing.T
	srv *httptest.Server
	mu  sync.Mutex
	now time.Time
}

func newRig(t *testing.T) *rig {
	r := &rig{t: t, now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	p := New(Options{RedirectURI: redirectURI, Now: func() time.Time { r.mu.Lock(); defer r.mu.Unlock(); return r.now }})
	r.srv = httptest.NewServer(p.Handler())
	t.Cleanup(r.srv.Close)
	return r
}

func (r *rig) advance(d time.Duration) { r.mu.Lock(); r.now = r.now.Add(d); r.mu.Unlock() }

func (r *rig) client() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// consent loads the consent page for scopes and decides; it returns the
// redirect's query.
func (r *rig) consent(scopes, verifier, decision string) url.Values {
	r.t.Helper()
	q := url.Values{"client_id": {ClientID}, "redirect_uri": {redirectURI}, "response_type": {"code"},
		"code_challenge": {challenge(verifier)}, "code_challenge_method": {"S256"}, "scope": {scopes}, "state": {"st"}}
	resp, err := r.client().Get(r.srv.URL + Prefix + "/authorize?" + q.Encode())
	if err != nil {
		r.t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Frame-Options") != "DENY" {
		r.t.Fatalf("consent page: HTTP %d (X-Frame-Options %q): %s", resp.StatusCode, resp.Header.Get("X-Frame-Options"), page)
	}
	m := regexp.MustCompile(`name="consent" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		r.t.Fatalf("no consent id on the page:\n%s", page)
	}
	resp, err = r.client().PostForm(r.srv.URL+Prefix+"/authorize", url.Values{"consent": {string(m[1])}, "decision": {decision}, "login": {"grace"}})
	if err != nil {
		r.t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), redirectURI+"?") {
		r.t.Fatalf("decision: HTTP %d to %q, want a redirect to the callback", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query()
}

// token posts a token request with client_secret_basic; it returns the
// status and the decoded body.
func (r *rig) token(form url.Values, secret string) (int, map[string]any) {
	r.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, r.srv.URL+Prefix+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(ClientID), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		r.t.Fatalf("token: %v", err)
	}
	return resp.StatusCode, body
}

func (r *rig) userInfo(access string) (int, map[string]any) {
	r.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, r.srv.URL+Prefix+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

func codeForm(code, verifier string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}, "code_verifier": {verifier}}
}

func TestAuthorizationCodeRefreshAndUserInfo(t *testing.T) {
	r := newRig(t)
	const verifier = "a-verifier-of-enough-length-0123456789-abcdefgh"
	back := r.consent("profile email", verifier, "allow")
	if back.Get("state") != "st" || back.Get("code") == "" {
		t.Fatalf("allow redirected with %v", back)
	}
	status, tok := r.token(codeForm(back.Get("code"), verifier), ClientSecret)
	if status != http.StatusOK || tok["expires_in"] != float64(3600) || tok["scope"] != "profile email" {
		t.Fatalf("code exchange: HTTP %d %v", status, tok)
	}
	status, info := r.userInfo(tok["access_token"].(string))
	if status != http.StatusOK || info["name"] != "grace" || info["email"] != "grace@demo.authengine.invalid" {
		t.Fatalf("user info: HTTP %d %v", status, info)
	}

	t.Run("a code works once", func(t *testing.T) {
		if status, body := r.token(codeForm(back.Get("code"), verifier), ClientSecret); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("second exchange: HTTP %d %v", status, body)
		}
	})
	t.Run("refresh tokens rotate and each works once", func(t *testing.T) {
		old := tok["refresh_token"].(string)
		status, next := r.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {old}}, ClientSecret)
		if status != http.StatusOK || next["refresh_token"] == old || next["access_token"] == tok["access_token"] {
			t.Fatalf("refresh: HTTP %d %v", status, next)
		}
		if status, body := r.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {old}}, ClientSecret); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("reused refresh token: HTTP %d %v", status, body)
		}
	})
	t.Run("access tokens expire", func(t *testing.T) {
		r.advance(time.Hour)
		if status, _ := r.userInfo(tok["access_token"].(string)); status != http.StatusUnauthorized {
			t.Fatalf("user info with an expired token: HTTP %d", status)
		}
	})
}

func TestShortLivedTokensOnRequest(t *testing.T) {
	r := newRig(t)
	const verifier = "another-verifier-of-enough-length-0123456789-xyz"
	back := r.consent("profile short_lived", verifier, "allow")
	status, tok := r.token(codeForm(back.Get("code"), verifier), ClientSecret)
	if status != http.StatusOK || tok["expires_in"] != float64(120) {
		t.Fatalf("short_lived: HTTP %d %v, want expires_in 120", status, tok)
	}
	r.advance(2 * time.Minute)
	if status, _ := r.userInfo(tok["access_token"].(string)); status != http.StatusUnauthorized {
		t.Fatalf("a short-lived token still works after 2 minutes: HTTP %d", status)
	}
}

func TestDenyRedirectsWithAccessDenied(t *testing.T) {
	r := newRig(t)
	back := r.consent("profile", "v-0123456789-0123456789-0123456789-0123456789", "deny")
	if back.Get("error") != "access_denied" || back.Get("code") != "" || back.Get("state") != "st" {
		t.Fatalf("deny redirected with %v", back)
	}
}

func TestTokenRequestsRefused(t *testing.T) {
	const verifier = "the-right-verifier-0123456789-0123456789-abcdef"
	for _, tc := range []struct {
		name   string
		form   func(code string) url.Values
		secret string
		status int
		err    string
	}{
		{"a wrong client secret", func(c string) url.Values { return codeForm(c, verifier) }, "wrong", http.StatusUnauthorized, "invalid_client"},
		{"a wrong PKCE verifier", func(c string) url.Values { return codeForm(c, verifier+"x") }, ClientSecret, http.StatusBadRequest, "invalid_grant"},
		{"no PKCE verifier", func(c string) url.Values { return codeForm(c, "") }, ClientSecret, http.StatusBadRequest, "invalid_grant"},
		{"another redirect_uri", func(c string) url.Values {
			f := codeForm(c, verifier)
			f.Set("redirect_uri", "http://evil.example/cb")
			return f
		}, ClientSecret, http.StatusBadRequest, "invalid_grant"},
		{"an unknown grant type", func(string) url.Values { return url.Values{"grant_type": {"password"}} }, ClientSecret, http.StatusBadRequest, "unsupported_grant_type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			code := r.consent("profile", verifier, "allow").Get("code")
			status, body := r.token(tc.form(code), tc.secret)
			if status != tc.status || body["error"] != tc.err || body["access_token"] != nil {
				t.Fatalf("HTTP %d %v, want %d %s", status, body, tc.status, tc.err)
			}
		})
	}
}

func TestAuthorizeRequestsRefused(t *testing.T) {
	good := url.Values{"client_id": {ClientID}, "redirect_uri": {redirectURI}, "response_type": {"code"},
		"code_challenge": {challenge("v")}, "code_challenge_method": {"S256"}, "scope": {"profile"}, "state": {"st"}}
	for _, tc := range []struct {
		name, key, value string
		status           int    // shown on the provider's page
		err              string // or sent back to the callback
	}{
		{"an unknown client", "client_id", "someone-else", http.StatusBadRequest, ""},
		{"an unregistered redirect URI", "redirect_uri", "http://evil.example/cb", http.StatusBadRequest, ""},
		{"no PKCE", "code_challenge", "", http.StatusFound, "invalid_request"},
		{"plain PKCE", "code_challenge_method", "plain", http.StatusFound, "invalid_request"},
		{"an unknown scope", "scope", "admin", http.StatusFound, "invalid_scope"},
		{"another response type", "response_type", "token", http.StatusFound, "unsupported_response_type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			q := url.Values{}
			for k, v := range good {
				q[k] = v
			}
			q.Set(tc.key, tc.value)
			resp, err := r.client().Get(r.srv.URL + Prefix + "/authorize?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("HTTP %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.err != "" {
				loc, _ := url.Parse(resp.Header.Get("Location"))
				if !strings.HasPrefix(loc.String(), redirectURI) || loc.Query().Get("error") != tc.err {
					t.Fatalf("redirected to %q, want %s at the callback", loc, tc.err)
				}
			}
		})
	}
}

func TestConsentExpires(t *testing.T) {
	r := newRig(t)
	q := url.Values{"client_id": {ClientID}, "redirect_uri": {redirectURI}, "response_type": {"code"},
		"code_challenge": {challenge("v")}, "code_challenge_method": {"S256"}, "scope": {"profile"}}
	resp, err := http.Get(r.srv.URL + Prefix + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	id := regexp.MustCompile(`name="consent" value="([^"]+)"`).FindSubmatch(page)[1]
	r.advance(consentTTL)
	resp, err = r.client().PostForm(r.srv.URL+Prefix+"/authorize", url.Values{"consent": {string(id)}, "decision": {"allow"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
		t.Fatalf("an expired consent: HTTP %d to %q, want 400 and no redirect", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestTableIsBounded(t *testing.T) {
	var tb table[int]
	now := time.Unix(0, 0)
	for i := range maxEntries {
		if !tb.put(strconv.Itoa(i), i, now.Add(time.Minute), now) {
			t.Fatalf("put %d refused below the bound", i)
		}
	}
	if tb.put("one-more", 0, now.Add(time.Minute), now) {
		t.Fatal("a full table took one more entry")
	}
	if !tb.put("one-more", 0, now.Add(2*time.Minute), now.Add(time.Minute)) || len(tb.m) != 1 {
		t.Fatalf("a full table of expired entries did not make room (%d entries)", len(tb.m))
	}
}
