package authflow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/jsonmap"
)

// Exchange redeems an authorization code at the token endpoint, adding
// code (and code_verifier when verifier is not empty) to the templated
// params. grant_type defaults to authorization_code when the params do not
// name it.
func (p *Provider) Exchange(ctx context.Context, c *http.Client, code, codeVerifier string) (*Token, error) {
	if p.grantType != config.GrantAuthorizationCode || p.token == nil {
		return nil, fmt.Errorf("exchange code for provider %q: provider uses grant_type %s", p.id, p.grantType)
	}
	v := p.vars()
	extra := []kv{{"code", code}}
	if codeVerifier != "" {
		extra = append(extra, kv{"code_verifier", codeVerifier})
	}
	extra = p.token.withDefault(extra, "grant_type", config.GrantAuthorizationCode)
	t, err := p.tokenRequest(ctx, c, p.token, &v, extra)
	if err == nil {
		err = p.verifyIDToken(ctx, t, true)
	}
	if err != nil {
		return nil, fmt.Errorf("exchange code for provider %q: %w", p.id, err)
	}
	return t, nil
}

// Refresh uses t's refresh token at the refresh endpoint. The new token
// keeps t's refresh token when the response carries none (most providers
// do not rotate), and t's scopes when the response does not list any.
func (p *Provider) Refresh(ctx context.Context, c *http.Client, t *Token) (*Token, error) {
	if p.refresh == nil {
		return nil, fmt.Errorf("refresh token for provider %q: no refresh request is configured", p.id)
	}
	if t == nil || t.RefreshToken == "" {
		return nil, fmt.Errorf("refresh token for provider %q: the token has no refresh token", p.id)
	}
	v := p.vars()
	v.scopes = strings.Join(t.Scopes, p.delim)
	v.refreshToken = t.RefreshToken
	v.accessToken = t.AccessToken
	v.metadata = t.Extra
	var extra []kv
	extra = p.refresh.withDefault(extra, "grant_type", "refresh_token")
	if p.refresh.uses&phRefreshToken == 0 {
		extra = p.refresh.withDefault(extra, "refresh_token", t.RefreshToken)
	}
	nt, err := p.tokenRequest(ctx, c, p.refresh, &v, extra)
	if err == nil {
		err = p.verifyIDToken(ctx, nt, false)
	}
	if err != nil {
		return nil, fmt.Errorf("refresh token for provider %q: %w", p.id, err)
	}
	if nt.RefreshToken == "" {
		nt.RefreshToken = t.RefreshToken
	}
	if nt.Scopes == nil {
		nt.Scopes = t.Scopes
	}
	return nt, nil
}

// ClientCredentials gets a service token with the client-credentials
// grant (RFC 6749 4.4) for scopes (<<scopes>>).
func (p *Provider) ClientCredentials(ctx context.Context, c *http.Client, scopes []string) (*Token, error) {
	if p.grantType != config.GrantClientCredentials || p.token == nil {
		return nil, fmt.Errorf("client credentials for provider %q: provider uses grant_type %s", p.id, p.grantType)
	}
	v := p.vars()
	v.scopes = strings.Join(scopes, p.delim)
	extra := p.token.withDefault(nil, "grant_type", config.GrantClientCredentials)
	t, err := p.tokenRequest(ctx, c, p.token, &v, extra)
	if err != nil {
		return nil, fmt.Errorf("client credentials for provider %q: %w", p.id, err)
	}
	return t, nil
}

// UserInfo fetches user info with t's access token. With a response_map it
// returns the mapped keys; without one, the whole response document.
func (p *Provider) UserInfo(ctx context.Context, c *http.Client, t *Token) (map[string]any, error) {
	if p.userInfo == nil {
		return nil, fmt.Errorf("user info for provider %q: no user_info_request is configured", p.id)
	}
	if t == nil || t.AccessToken == "" {
		return nil, fmt.Errorf("user info for provider %q: no access token", p.id)
	}
	v := p.vars()
	v.accessToken = t.AccessToken
	v.metadata = t.Extra
	doc, err := p.do(ctx, c, p.userInfo, &v, nil)
	if err != nil {
		return nil, fmt.Errorf("user info for provider %q: %w", p.id, err)
	}
	if p.userInfo.responseMap == nil {
		return doc, nil
	}
	info, err := p.userInfo.responseMap.Apply(doc)
	if err != nil {
		return nil, fmt.Errorf("user info for provider %q: map response: %w", p.id, err)
	}
	return info, nil
}

// vars are the provider-wide placeholder values.
func (p *Provider) vars() vars {
	return vars{clientID: p.clientID, clientSecret: p.clientSecret, redirectURI: p.redirectURI, conn: p.connValues()}
}

// withDefault adds key=value to extra unless the operator's params name
// key (a param that renders empty is how an operator leaves it out).
func (r *request) withDefault(extra []kv, key, value string) []kv {
	if r.hasParam[key] {
		return extra
	}
	return append(extra, kv{key, value})
}

// tokenRequest performs a token-endpoint request and reads the token.
func (p *Provider) tokenRequest(ctx context.Context, c *http.Client, r *request, v *vars, extra []kv) (*Token, error) {
	doc, err := p.do(ctx, c, r, v, extra)
	if err != nil {
		return nil, err
	}
	return p.readToken(r, doc)
}

// Standard token response fields (RFC 6749 5.1, OpenID Connect).
var standardFields = []string{"access_token", "token_type", "refresh_token", "expires_in", "scope", "id_token"}

// readToken maps a token response document into a Token.
func (p *Provider) readToken(r *request, doc map[string]any) (*Token, error) {
	fields := doc
	if r.responseMap != nil {
		mapped, err := r.responseMap.Apply(doc)
		if err != nil {
			return nil, fmt.Errorf("map %s response: %w", r.op, err)
		}
		fields = mapped
	}
	t := &Token{
		AccessToken:  stringField(fields, "access_token"),
		RefreshToken: stringField(fields, "refresh_token"),
		TokenType:    stringField(fields, "token_type"),
		IDToken:      stringField(fields, "id_token"),
	}
	if t.AccessToken == "" {
		return nil, fmt.Errorf("%s response has no access_token", r.op)
	}
	secs, ok, err := jsonmap.ExpiresIn(fields["expires_in"])
	if err != nil {
		return nil, fmt.Errorf("%s response: expires_in: %w", r.op, err)
	}
	if ok && secs > 0 {
		t.Expiry = p.now().Add(time.Duration(secs) * time.Second)
	}
	if s, present := fields["scope"]; present && s != nil {
		t.Scopes = jsonmap.Scopes(s, p.delim)
	}
	if r.responseMap != nil {
		for k, val := range fields {
			if !slices.Contains(standardFields, k) {
				if t.Extra == nil {
					t.Extra = make(map[string]any)
				}
				t.Extra[k] = val
			}
		}
	}
	return t, nil
}

// stringField reads a string value of m (scalarString).
func stringField(m map[string]any, key string) string { return scalarString(m[key]) }

// do sends one request and returns the parsed response document, or a
// *ProviderError when the provider reported a failure.
func (p *Provider) do(ctx context.Context, c *http.Client, r *request, v *vars, extra []kv) (map[string]any, error) {
	status, body, contentType, err := p.send(ctx, c, r, v, extra)
	if err != nil {
		return nil, err
	}
	if status < 200 || status > 299 {
		return nil, statusError(r.op, status, body, contentType)
	}
	doc, parseErr := jsonmap.Parse(body, contentType)
	if parseErr != nil {
		return nil, fmt.Errorf("parse %s response (HTTP %d, %s): %w", r.op, status, mediaType(contentType), parseErr)
	}
	if code, desc := oauthError(doc); code != "" {
		return nil, &ProviderError{Op: r.op, Status: status, Code: code, Description: desc}
	}
	return doc, nil
}

// statusError is the *ProviderError of an answer with a non-2xx status,
// with the OAuth error its body reports when the body parses.
func statusError(op string, status int, body []byte, contentType string) *ProviderError {
	pe := &ProviderError{Op: op, Status: status}
	if doc, err := jsonmap.Parse(body, contentType); err == nil {
		pe.Code, pe.Description = oauthError(doc)
	}
	return pe
}

// send performs one request and returns the response's status, body
// (capped) and content type (the request's declared response type when
// the provider sent none).
func (p *Provider) send(ctx context.Context, c *http.Client, r *request, v *vars, extra []kv) (status int, body []byte, contentType string, err error) {
	if c == nil {
		c = http.DefaultClient
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	req, err := r.build(ctx, v, credentials{p.clientID, p.clientSecret}, p.delim, extra...)
	if err != nil {
		return 0, nil, "", err
	}
	c = withRedirectPolicy(c, r.op)
	resp, err := c.Do(req)
	if err != nil {
		// *url.Error repeats the URL, whose query may hold secrets; keep
		// only the host and the cause.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return 0, nil, "", &networkError{op: r.op, host: req.URL.Host, err: err}
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return 0, nil, "", &networkError{op: r.op, host: req.URL.Host, err: fmt.Errorf("read response: %w", err)}
	}
	if len(body) > maxResponseBytes {
		return 0, nil, "", fmt.Errorf("%s response from %s exceeds %d bytes", r.op, req.URL.Host, maxResponseBytes)
	}
	contentType = resp.Header.Get("Content-Type")
	if contentType == "" {
		contentType = r.responseType
	}
	return resp.StatusCode, body, contentType, nil
}

// maxRedirects bounds the same-host redirects a user-info request follows.
const maxRedirects = 5

// withRedirectPolicy returns c with the redirect rule for op. Token,
// refresh and client-credentials requests carry client credentials and
// grants in the body, which a redirect would replay to wherever it
// points: they follow none, and a redirecting endpoint is answered as the
// failure it is. A user-info request carries the access token; it follows
// redirects on its own scheme and host only (and only when c follows
// redirects at all), so no provider request reaches another host.
func withRedirectPolicy(c *http.Client, op string) *http.Client {
	policy := *c
	if op != "user_info" {
		policy.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		return &policy
	}
	own := c.CheckRedirect
	policy.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		first := via[0].URL
		if !strings.EqualFold(req.URL.Scheme, first.Scheme) || !strings.EqualFold(req.URL.Host, first.Host) || len(via) > maxRedirects {
			return http.ErrUseLastResponse
		}
		if own != nil {
			return own(req, via)
		}
		return nil
	}
	return &policy
}

// oauthError reads a top-level OAuth error: "error" as a string (RFC 6749
// 5.2, Slack's ok:false) or as an object with a code/message, and
// "error_description". code is "" when doc reports no error.
func oauthError(doc map[string]any) (code, description string) {
	switch e := doc["error"].(type) {
	case nil:
		return "", ""
	case string:
		code = e
	case bool:
		if !e {
			return "", ""
		}
		code = "error"
	case map[string]any:
		code = firstString(e, "code", "type", "status")
		description = firstString(e, "message", "description")
		if code == "" {
			code = "error"
		}
	default:
		code = "error"
	}
	if d, ok := doc["error_description"].(string); ok {
		description = d
	}
	return clip(code, 100), clip(description, 300)
}

func firstString(m map[string]any, keys ...string) string {
	for _, k := range keys {
		switch v := m[k].(type) {
		case string:
			if v != "" {
				return v
			}
		case float64:
			return fmt.Sprint(v)
		}
	}
	return ""
}

// clip bounds provider-supplied text kept in errors.
func clip(s string, max int) string {
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return string(r[:max]) + "…"
}

// mediaType strips parameters from a Content-Type for error messages.
func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.TrimSpace(ct)
}
