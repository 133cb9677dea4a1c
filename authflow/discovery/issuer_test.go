package discovery_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/authengine/authengine/authflow"
	"github.com/authengine/authengine/authflow/discovery"
	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/internal/netguard"
	"github.com/authengine/authengine/internal/providertest"
)

const redirect = "https://engine.example.com/oauth/callback"

// memCache is a Cache in memory, counting writes.
type memCache struct {
	mu     sync.Mutex
	m      map[string][]byte
	writes int
}

var errMissing = errors.New("not found")

func (c *memCache) Load(_ context.Context, key string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	if !ok {
		return nil, errMissing
	}
	return v, nil
}

func (c *memCache) Save(_ context.Context, key string, value []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string][]byte{}
	}
	c.m[key] = value
	c.writes++
	return nil
}

func (c *memCache) Delete(_ context.Context, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
	return nil
}

func (c *memCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// issuerOnly is a provider entry that gives only the issuer and the
// client's credentials, as loaded from engine.yaml.
func issuerOnly(t *testing.T, issuer, id, secret string) config.Provider {
	t.Helper()
	raw := map[string]any{"id": "hooli", "client_id": id, "oauth2": map[string]any{"issuer": issuer}}
	if secret != "" {
		raw["client_secret"] = secret
	}
	p, _, err := config.ParseProvider(raw, "auth.providers[hooli]")
	if err != nil {
		t.Fatalf("ParseProvider: %v", err)
	}
	return p
}

func challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorize runs one authorization of p at idp and returns the token.
func authorize(t *testing.T, p *authflow.Provider, idp *providertest.Provider, c *http.Client) (*authflow.Token, error) {
	t.Helper()
	const verifier = "verifier-0123456789-0123456789-0123456789-abc"
	scopes, err := p.Scopes(nil)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := idp.Consent(t.Context(), p.AuthorizeURL("state-1", scopes, nil, challenge(verifier)))
	if err != nil {
		t.Fatalf("Consent: %v", err)
	}
	u, _ := url.Parse(cb)
	code := u.Query().Get("code")
	if code == "" {
		t.Fatalf("callback without a code: %s", cb)
	}
	return p.Exchange(t.Context(), c, code, verifier)
}

// TestIssuerAloneCompletesAnAuthorization: a provider that gives only its
// issuer and client credentials is completed from the OpenID Connect
// metadata (authorize, token, refresh, user-info and revocation requests,
// PKCE, client_secret_basic, the openid scope) and runs a whole authorization at
// the strict stand-in, whose id_token is verified against its JWKS; the
// metadata is kept in the cache.
func TestIssuerAloneCompletesAnAuthorization(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts providertest.Options
	}{
		{"OpenID Connect discovery, client_secret_basic", providertest.Options{RequirePKCE: true, OIDC: &providertest.OIDC{}}},
		{"RFC 8414 fallback, client_secret_post", providertest.Options{RequirePKCE: true, ClientAuth: providertest.ClientSecretPost, OIDC: &providertest.OIDC{RFC8414Only: true}}},
		{"public client", providertest.Options{RequirePKCE: true, ClientAuth: providertest.ClientAuthNone, OIDC: &providertest.OIDC{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.RedirectURI = redirect
			idp := providertest.New(t, tc.opts)
			cache := &memCache{}
			r := &discovery.Resolver{RedirectURI: redirect, Cache: cache}
			res, err := r.Resolve(t.Context(), issuerOnly(t, idp.Issuer(), idp.ClientID(), idp.ClientSecret()))
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if res.Guarded {
				t.Error("Guarded: every endpoint is on the issuer's host")
			}
			o := res.Config.OAuth2
			if o.AuthorizeRequest.Endpoint != idp.AuthorizeEndpoint() || o.TokenRequest.Endpoint != idp.TokenEndpoint() ||
				o.RefreshTokenRequest == nil || o.UserInfoRequest.Endpoint != idp.UserInfoEndpoint() || !o.PKCE.Enabled {
				t.Fatalf("completed provider: %+v", o)
			}
			tok, err := authorize(t, res.Provider, idp, http.DefaultClient)
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if tok.IDToken == "" || !idp.ValidAccessToken(tok.AccessToken) {
				t.Fatalf("token: %v; want a valid access token and an id_token", tok)
			}
			if _, err := res.Provider.Refresh(t.Context(), http.DefaultClient, tok); err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			if info, err := res.Provider.UserInfo(t.Context(), http.DefaultClient, tok); err != nil || info["sub"] != "providertest-user" {
				t.Fatalf("UserInfo = %v, %v", info, err)
			}
			if err := res.Provider.Revoke(t.Context(), http.DefaultClient, tok); err != nil || idp.Counts().Revocations != 1 || idp.ValidRefreshToken(tok.RefreshToken) {
				t.Fatalf("Revoke at the discovered revocation_endpoint = %v (revocations %d)", err, idp.Counts().Revocations)
			}
			if cache.len() != 1 {
				t.Errorf("cache holds %d documents, want the issuer's metadata", cache.len())
			}
			if v := idp.Violations(); len(v) > 0 {
				t.Fatalf("stand-in violations: %v", v)
			}
		})
	}
}

// TestExplicitFieldsOverrideDiscoveredOnes: a block or field the operator
// gives wins over the metadata; an omitted endpoint of a given block is
// filled in.
func TestExplicitFieldsOverrideDiscoveredOnes(t *testing.T) {
	idp := providertest.New(t, providertest.Options{RedirectURI: redirect, OIDC: &providertest.OIDC{}})
	raw := map[string]any{"id": "hooli", "client_id": idp.ClientID(), "client_secret": idp.ClientSecret(), "oauth2": map[string]any{
		"issuer":            idp.Issuer(),
		"default_scopes":    []any{"openid", "email"},
		"authorize_request": map[string]any{"params": map[string]any{"response_type": "code", "client_id": "<<client_id>>", "redirect_uri": "<<redirect_uri>>", "scope": "<<scopes>>", "prompt": "consent"}},
		"user_info_request": map[string]any{"endpoint": "https://people.example.com/me"},
	}}
	p, _, err := config.ParseProvider(raw, "auth.providers[hooli]")
	if err != nil {
		t.Fatal(err)
	}
	res, err := (&discovery.Resolver{RedirectURI: redirect, AllowPrivate: true}).Resolve(t.Context(), p)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	o := res.Config.OAuth2
	if o.AuthorizeRequest.Endpoint != idp.AuthorizeEndpoint() || o.AuthorizeRequest.Params["prompt"] != "consent" {
		t.Errorf("authorize_request = %+v: want the given params and the discovered endpoint", o.AuthorizeRequest)
	}
	if o.UserInfoRequest.Endpoint != "https://people.example.com/me" {
		t.Errorf("user_info_request.endpoint = %q, want the explicit one", o.UserInfoRequest.Endpoint)
	}
	if strings.Join(o.DefaultScopes, " ") != "openid email" {
		t.Errorf("default_scopes = %v, want the explicit ones", o.DefaultScopes)
	}
	u := res.Provider.AuthorizeURL("s", []string{"openid", "email"}, nil, "")
	if !strings.HasPrefix(u, idp.AuthorizeEndpoint()+"?") || !strings.Contains(u, "prompt=consent") {
		t.Errorf("AuthorizeURL = %s", u)
	}
}

// TestIDTokenFailingVerificationIsRefused: an id_token issued for another
// client is refused with an *authflow.IDTokenError and no token.
func TestIDTokenFailingVerificationIsRefused(t *testing.T) {
	idp := providertest.New(t, providertest.Options{RedirectURI: redirect, OIDC: &providertest.OIDC{Audience: "someone-else"}})
	res, err := (&discovery.Resolver{RedirectURI: redirect}).Resolve(t.Context(), issuerOnly(t, idp.Issuer(), idp.ClientID(), idp.ClientSecret()))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := authorize(t, res.Provider, idp, http.DefaultClient)
	if _, ok := errors.AsType[*authflow.IDTokenError](err); !ok || tok != nil {
		t.Fatalf("Exchange = %v, %v; want an *authflow.IDTokenError", tok, err)
	}
	if strings.Contains(err.Error(), "eyJ") {
		t.Errorf("the error carries the token: %v", err)
	}
}

// TestDiscoveryBadInput: an unreachable issuer, metadata naming another
// issuer and metadata without a token endpoint are named errors under
// the issuer's field, and nothing is kept.
func TestDiscoveryBadInput(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	mismatch := providertest.New(t, providertest.Options{OIDC: &providertest.OIDC{Issuer: "https://evil.example.com"}})
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"issuer":"http://` + r.Host + `","authorization_endpoint":"http://` + r.Host + `/a"}`))
	}))
	t.Cleanup(broken.Close)
	notFound := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(notFound.Close)
	// Endpoints on another host than the issuer's are checked: this one
	// aims the token request at the cloud metadata address.
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"issuer":"http://` + r.Host + `","authorization_endpoint":"http://` + r.Host + `/a","token_endpoint":"http://169.254.169.254/latest/token"}`))
	}))
	t.Cleanup(internal.Close)
	for _, tc := range []struct {
		name   string
		issuer string
		is     func(error) bool
	}{
		{"an unreachable issuer", deadURL, func(err error) bool { return errors.Is(err, discovery.ErrUnreachable) }},
		{"an issuer serving no metadata", notFound.URL, func(err error) bool { return errors.Is(err, discovery.ErrUnreachable) }},
		{"metadata naming another issuer", mismatch.Issuer(), func(err error) bool {
			_, ok := errors.AsType[*discovery.IssuerMismatchError](err)
			return ok
		}},
		{"metadata without a token endpoint", broken.URL, func(err error) bool {
			_, ok := errors.AsType[*discovery.InvalidMetadataError](err)
			return ok
		}},
		{"metadata aiming an endpoint at a link-local address", internal.URL, func(err error) bool {
			_, ok := errors.AsType[*netguard.BlockedError](err)
			return ok
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			issuer := tc.issuer
			if tc.name == "metadata naming another issuer" {
				issuer = mismatch.URL()
			}
			cache := &memCache{}
			_, err := (&discovery.Resolver{RedirectURI: redirect, Cache: cache}).Resolve(t.Context(), issuerOnly(t, issuer, "c", "s"))
			fe, ok := errors.AsType[*discovery.FieldError](err)
			if !ok || fe.Path != "auth.providers[hooli].oauth2.issuer" || !tc.is(err) {
				t.Fatalf("Resolve = %v; want the named error under auth.providers[hooli].oauth2.issuer", err)
			}
			if cache.writes != 0 {
				t.Errorf("%d documents kept after a failure", cache.writes)
			}
		})
	}
}

// TestKeptMetadataServesAnUnreachableIssuer: once fetched, the metadata
// is kept; a later start while the issuer does not answer uses the kept
// copy instead of failing.
func TestKeptMetadataServesAnUnreachableIssuer(t *testing.T) {
	var down sync.Map
	idp := providertest.New(t, providertest.Options{RedirectURI: redirect, OIDC: &providertest.OIDC{}})
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := down.Load("down"); ok {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		resp, err := http.Get(idp.URL() + r.URL.Path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		var doc map[string]any
		_ = decodeJSON(resp, &doc)
		doc["issuer"] = "http://" + r.Host
		w.Header().Set("Content-Type", "application/json")
		_ = encodeJSON(w, doc)
	}))
	t.Cleanup(front.Close)
	cache := &memCache{}
	r := &discovery.Resolver{RedirectURI: redirect, Cache: cache, AllowPrivate: true}
	first, err := r.Resolve(t.Context(), issuerOnly(t, front.URL, idp.ClientID(), idp.ClientSecret()))
	if err != nil {
		t.Fatalf("first Resolve: %v", err)
	}
	down.Store("down", true)
	again, err := r.Resolve(t.Context(), issuerOnly(t, front.URL, idp.ClientID(), idp.ClientSecret()))
	if err != nil {
		t.Fatalf("Resolve while the issuer is down, with a kept copy: %v", err)
	}
	if again.Config.OAuth2.TokenRequest.Endpoint != first.Config.OAuth2.TokenRequest.Endpoint {
		t.Errorf("token endpoint from the kept copy = %q, want %q", again.Config.OAuth2.TokenRequest.Endpoint, first.Config.OAuth2.TokenRequest.Endpoint)
	}
	_, err = (&discovery.Resolver{RedirectURI: redirect, Cache: &memCache{}}).Resolve(t.Context(), issuerOnly(t, front.URL, "c", "s"))
	if !errors.Is(err, discovery.ErrUnreachable) {
		t.Fatalf("Resolve while down without a kept copy = %v, want ErrUnreachable", err)
	}
}

// TestIssuerWithAPathFindsItsMetadata: for an issuer with a path, OpenID
// Connect discovery appends the well-known path to the issuer and RFC
// 8414 inserts its own between the host and the issuer's path; the first
// is tried first, the second when it is not served.
func TestIssuerWithAPathFindsItsMetadata(t *testing.T) {
	for _, tc := range []struct {
		name, serves string
		wantTried    []string
	}{
		{"OpenID Connect: appended", "/realms/a/.well-known/openid-configuration", []string{"/realms/a/.well-known/openid-configuration"}},
		{"RFC 8414: inserted", "/.well-known/oauth-authorization-server/realms/a",
			[]string{"/realms/a/.well-known/openid-configuration", "/.well-known/oauth-authorization-server/realms/a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var tried []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				tried = append(tried, r.URL.Path)
				mu.Unlock()
				if r.URL.Path != tc.serves {
					http.NotFound(w, r)
					return
				}
				base := "http://" + r.Host
				w.Header().Set("Content-Type", "application/json")
				_ = encodeJSON(w, map[string]any{"issuer": base + "/realms/a", "authorization_endpoint": base + "/realms/a/auth",
					"token_endpoint": base + "/realms/a/token"})
			}))
			t.Cleanup(srv.Close)
			res, err := (&discovery.Resolver{RedirectURI: redirect}).Resolve(t.Context(), issuerOnly(t, srv.URL+"/realms/a", "c", "s"))
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if got := res.Config.OAuth2.TokenRequest.Endpoint; got != srv.URL+"/realms/a/token" {
				t.Errorf("token endpoint %q", got)
			}
			mu.Lock()
			defer mu.Unlock()
			if strings.Join(tried, " ") != strings.Join(tc.wantTried, " ") {
				t.Errorf("fetched %v, want %v", tried, tc.wantTried)
			}
		})
	}
}

// TestBearerChallenge: the 401 challenge's parameters are read whatever
// their order, quoting and spacing.
func TestBearerChallenge(t *testing.T) {
	for _, tc := range []struct{ header, metadata, scope string }{
		{`Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource", scope="a b"`, "https://mcp.example.com/.well-known/oauth-protected-resource", "a b"},
		{`bearer scope="files:read",resource_metadata="https://x.example/m"`, "https://x.example/m", "files:read"},
		{`Bearer realm="mcp", error="invalid_token", resource_metadata=https://x.example/m`, "https://x.example/m", ""},
		{`Bearer realm="a \"quoted\" realm", scope="s"`, "", "s"},
		{`Basic realm="x"`, "", ""},
	} {
		params := discovery.BearerParams(tc.header)
		if params["resource_metadata"] != tc.metadata || params["scope"] != tc.scope {
			t.Errorf("%s: got %v", tc.header, params)
		}
	}
}
