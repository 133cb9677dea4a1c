package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

const redirect = "http://localhost:9099/oauth/callback"

func newHooli(t *testing.T) (*httptest.Server, *provider) {
	t.Helper()
	p := &provider{clientID: "cid", clientSecret: "c&s=cret", redirectURI: redirect, ttl: time.Hour, user: "ada@hooli.example",
		log: slog.New(slog.DiscardHandler), codes: map[string]*grant{}, access: map[string]*token{}, refresh: map[string]*token{}}
	srv := httptest.NewServer(p.routes())
	t.Cleanup(srv.Close)
	return srv, p
}

// consent follows /oauth/authorize and returns the code it redirects with.
func consent(t *testing.T, srv *httptest.Server, challenge string) string {
	t.Helper()
	q := url.Values{"response_type": {"code"}, "client_id": {"cid"}, "redirect_uri": {redirect}, "scope": {"profile email"}, "state": {"st"}}
	if challenge != "" {
		q.Set("code_challenge", challenge)
		q.Set("code_challenge_method", "S256")
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(srv.URL + "/oauth/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound || loc.Query().Get("state") != "st" || loc.Query().Get("code") == "" {
		t.Fatalf("authorize: HTTP %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query().Get("code")
}

func tokenCall(t *testing.T, srv *httptest.Server, user, pass string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", srv.URL+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("token body %s: %v", raw, err)
	}
	return resp.StatusCode, out
}

func bearerGet(t *testing.T, srv *httptest.Server, path, tok string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestHooliGrants(t *testing.T) {
	srv, _ := newHooli(t)
	verifier := strings.Repeat("v", 43)
	code := consent(t, srv, s256(verifier))
	exchange := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {verifier}}

	t.Run("a wrong client secret is 401 invalid_client", func(t *testing.T) {
		if status, out := tokenCall(t, srv, "cid", "nope", exchange); status != 401 || out["error"] != "invalid_client" {
			t.Fatalf("HTTP %d %v", status, out)
		}
	})
	var refresh, access string
	t.Run("the code with the right verifier gives tokens that open the user info", func(t *testing.T) {
		status, out := tokenCall(t, srv, "cid", "c&s=cret", exchange)
		if status != 200 || out["scope"] != "profile email" {
			t.Fatalf("HTTP %d %v", status, out)
		}
		access, refresh = out["access_token"].(string), out["refresh_token"].(string)
		if got := bearerGet(t, srv, "/oauth/userinfo", access); got != 200 {
			t.Errorf("userinfo: HTTP %d", got)
		}
		if got := bearerGet(t, srv, "/api/status", access); got != 401 {
			t.Errorf("a user token without status:read reads the status: HTTP %d", got)
		}
	})
	t.Run("a code works once", func(t *testing.T) {
		if status, out := tokenCall(t, srv, "cid", "c&s=cret", exchange); status != 400 || out["error"] != "invalid_grant" {
			t.Fatalf("HTTP %d %v", status, out)
		}
	})
	t.Run("a wrong PKCE verifier is invalid_grant", func(t *testing.T) {
		c := consent(t, srv, s256(verifier))
		bad := url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {redirect}, "code_verifier": {strings.Repeat("w", 43)}}
		if status, out := tokenCall(t, srv, "cid", "c&s=cret", bad); status != 400 || out["error"] != "invalid_grant" {
			t.Fatalf("HTTP %d %v", status, out)
		}
	})
	t.Run("refresh tokens rotate and work once", func(t *testing.T) {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}
		status, out := tokenCall(t, srv, "cid", "c&s=cret", form)
		if status != 200 || out["refresh_token"] == refresh || out["access_token"] == access {
			t.Fatalf("HTTP %d %v", status, out)
		}
		if status, _ := tokenCall(t, srv, "cid", "c&s=cret", form); status != 400 {
			t.Errorf("a used refresh token worked again: HTTP %d", status)
		}
	})
	t.Run("a client-credentials token reads the status but not the user info", func(t *testing.T) {
		status, out := tokenCall(t, srv, "cid", "c&s=cret", url.Values{"grant_type": {"client_credentials"}, "scope": {"status:read"}})
		if status != 200 || out["refresh_token"] != nil {
			t.Fatalf("HTTP %d %v", status, out)
		}
		tok := out["access_token"].(string)
		if got := bearerGet(t, srv, "/api/status?service=mail", tok); got != 200 {
			t.Errorf("status: HTTP %d", got)
		}
		if got := bearerGet(t, srv, "/oauth/userinfo", tok); got != 401 {
			t.Errorf("a service token opened the user info: HTTP %d", got)
		}
	})
	t.Run("an unregistered redirect_uri is refused at authorize", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/oauth/authorize?response_type=code&client_id=cid&redirect_uri=https://evil.example/cb")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Fatalf("HTTP %d, want 400", resp.StatusCode)
		}
	})
}
