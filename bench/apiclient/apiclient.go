// Package apiclient is the small client of the engine's HTTP API that the
// load programs under bench/ share: authorize, wait on status, and play the
// browser through a provider's consent and the engine's callback. It is a
// benchmark tool, not a supported SDK: apps use Arcade's clients.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// Authorization is the engine's AuthorizationResponse, as far as the
// load programs read it.
type Authorization struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	URL     string `json:"url"`
	Context *struct {
		Token string `json:"token"`
	} `json:"context"`
}

// HasToken reports whether a completed authorization carries a token.
func (a Authorization) HasToken() bool { return a.Context != nil && a.Context.Token != "" }

// Client calls one engine with one API key.
type Client struct {
	// Base is the engine's origin, e.g. http://127.0.0.1:19099.
	Base string
	Key  string
	HTTP *http.Client
}

// Authorize is POST /v1/auth/authorize for user at provider with scopes.
func (c *Client) Authorize(ctx context.Context, user, provider string, scopes []string) (Authorization, error) {
	body, err := json.Marshal(AuthorizeBody(user, provider, scopes))
	if err != nil {
		return Authorization{}, fmt.Errorf("encode authorize body: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Base+"/v1/auth/authorize", bytes.NewReader(body))
	if err != nil {
		return Authorization{}, fmt.Errorf("build authorize request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	return c.do(req, "authorize")
}

// Status is GET /v1/auth/status?id=id&wait=wait.
func (c *Client) Status(ctx context.Context, id string, wait int) (Authorization, error) {
	target := c.Base + "/v1/auth/status?id=" + url.QueryEscape(id) + "&wait=" + strconv.Itoa(wait)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return Authorization{}, fmt.Errorf("build status request: %w", err)
	}
	return c.do(req, "status")
}

func (c *Client) do(req *http.Request, what string) (Authorization, error) {
	req.Header.Set("Authorization", "Bearer "+c.Key)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return Authorization{}, fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return Authorization{}, fmt.Errorf("%s: read answer: %w", what, err)
	}
	if resp.StatusCode != http.StatusOK {
		return Authorization{}, fmt.Errorf("%s: HTTP %d: %s", what, resp.StatusCode, raw)
	}
	var a Authorization
	if err := json.Unmarshal(raw, &a); err != nil {
		return Authorization{}, fmt.Errorf("%s: decode answer: %w", what, err)
	}
	return a, nil
}

// Consent plays the browser at the provider: it GETs the authorize URL
// without following the redirect and returns the Location, the engine's
// callback URL with code and state.
func (c *Client) Consent(ctx context.Context, authorizeURL string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authorizeURL, nil)
	if err != nil {
		return "", fmt.Errorf("build consent request: %w", err)
	}
	resp, err := c.noRedirects().Do(req)
	if err != nil {
		return "", fmt.Errorf("consent: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusFound {
		return "", fmt.Errorf("consent: the provider answered HTTP %d, want a redirect", resp.StatusCode)
	}
	return resp.Header.Get("Location"), nil
}

// Callback plays the browser landing on the engine's callback: it wants
// the "connected" page (200) or a redirect to next_uri (303).
func (c *Client) Callback(ctx context.Context, callbackURL string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, callbackURL, nil)
	if err != nil {
		return fmt.Errorf("build callback request: %w", err)
	}
	resp, err := c.noRedirects().Do(req)
	if err != nil {
		return fmt.Errorf("callback: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("callback: HTTP %d", resp.StatusCode)
	}
	return nil
}

func (c *Client) noRedirects() *http.Client {
	h := *c.HTTP
	h.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &h
}

// Connect runs a whole authorization for user: authorize, consent,
// callback, then status until completed. A user who is already connected
// is answered completed at once.
func (c *Client) Connect(ctx context.Context, user, provider string, scopes []string) (Authorization, error) {
	a, err := c.Authorize(ctx, user, provider, scopes)
	if err != nil {
		return a, err
	}
	if a.Status == "completed" {
		return a, nil
	}
	cb, err := c.Consent(ctx, a.URL)
	if err != nil {
		return a, err
	}
	if err := c.Callback(ctx, cb); err != nil {
		return a, err
	}
	done, err := c.Status(ctx, a.ID, 5)
	if err != nil {
		return done, err
	}
	if done.Status != "completed" || !done.HasToken() {
		return done, fmt.Errorf("connect %s: status %q after the callback, want completed with a token", user, done.Status)
	}
	return done, nil
}

// AuthorizeBody is the body Arcade's clients send to /v1/auth/authorize.
func AuthorizeBody(user, provider string, scopes []string) map[string]any {
	req := map[string]any{"provider_id": provider, "provider_type": "oauth2"}
	if scopes != nil {
		req["oauth2"] = map[string]any{"scopes": scopes}
	}
	return map[string]any{"user_id": user, "auth_requirement": req}
}
