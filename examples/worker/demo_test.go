package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/authengine/authengine/engine/demo"
	"github.com/authengine/authengine/engine/workerclient"
	"github.com/authengine/authengine/toolkit"
)

// TestWhoAmIWithTheDemoProvider: with -user-provider demo, WhoAmI requires
// the demo provider and reads the demo user's info with a token the demo
// provider issued (consent, code with PKCE, token exchange).
func TestWhoAmIWithTheDemoProvider(t *testing.T) {
	const redirect = "http://localhost:9099/oauth/callback"
	provider := httptest.NewServer(demo.New(demo.Options{RedirectURI: redirect}).Handler())
	defer provider.Close()
	token := demoToken(t, provider.URL, redirect)

	w, err := newWorker(secret, provider.URL+"/demo", "demo", provider.Client(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w)
	defer srv.Close()
	c := workerclient.New(workerclient.Options{ID: "example", URI: srv.URL, Secret: secret})
	defs, err := c.Tools(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if defs[0].Requirements.Authorization.ID != "demo" {
		t.Fatalf("WhoAmI requires %+v, want the demo provider", defs[0].Requirements.Authorization)
	}
	resp, err := c.Invoke(context.Background(), toolkit.ToolCallRequest{
		RunID: "r", ExecutionID: "e", CreatedAt: time.Now().UTC().Format(time.RFC3339),
		Tool:    toolkit.ToolReference{Name: "WhoAmI", Toolkit: "Hooli", Version: "1.0.0"},
		Context: toolkit.ToolContext{Authorization: &toolkit.ToolAuthorizationContext{Token: token}, UserID: "ada"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := jsonString(resp.Output.Value)
	if !resp.Success || !strings.Contains(got, `"email":"ada@demo.authengine.invalid"`) {
		t.Fatalf("WhoAmI: success %v, value %s, error %+v", resp.Success, got, resp.Output.Error)
	}
}

// demoToken runs one authorization against the demo provider as the
// engine and the user's browser would, and returns the access token.
func demoToken(t *testing.T, base, redirect string) string {
	t.Helper()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	const verifier = "example-worker-verifier-0123456789-0123456789-abc"
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"client_id": {demo.ClientID}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"profile email"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	resp, err := http.Get(base + demo.Prefix + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="consent" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("no consent page: %s", page)
	}
	resp, err = noFollow.PostForm(base+demo.Prefix+"/authorize", url.Values{"consent": {string(m[1])}, "decision": {"allow"}, "login": {"ada"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	form := url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "redirect_uri": {redirect}, "code_verifier": {verifier}}
	req, _ := http.NewRequest(http.MethodPost, base+demo.Prefix+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(demo.ClientID, demo.ClientSecret)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token exchange: HTTP %d %v", resp.StatusCode, err)
	}
	return tok.AccessToken
}
