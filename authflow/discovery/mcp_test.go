package discovery_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/authengine/authengine/authflow"
	"github.com/authengine/authengine/authflow/discovery"
	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/internal/mcptest"
	"github.com/authengine/authengine/internal/netguard"
)

// mcpOnly is a provider entry that gives only the MCP server's URL.
func mcpOnly(t *testing.T, serverURL string, extra map[string]any) config.Provider {
	t.Helper()
	raw := map[string]any{"id": "files", "type": "mcp", "mcp": map[string]any{"url": serverURL}}
	for k, v := range extra {
		raw[k] = v
	}
	p, _, err := config.ParseProvider(raw, "auth.providers[files]")
	if err != nil {
		t.Fatalf("ParseProvider: %v", err)
	}
	return p
}

// authorizeMCP runs one authorization of p at srv and returns the token.
func authorizeMCP(t *testing.T, p *authflow.Provider, srv *mcptest.Server) (*authflow.Token, string, error) {
	t.Helper()
	const verifier = "verifier-0123456789-0123456789-0123456789-abc"
	scopes, err := p.Scopes(nil)
	if err != nil {
		t.Fatal(err)
	}
	authURL := p.AuthorizeURL("state-1", scopes, nil, challenge(verifier))
	cb, err := srv.Consent(t.Context(), authURL)
	if err != nil {
		t.Fatalf("Consent: %v", err)
	}
	u, _ := url.Parse(cb)
	tok, err := p.Exchange(t.Context(), http.DefaultClient, u.Query().Get("code"), verifier)
	return tok, authURL, err
}

// callMCP calls the MCP server with the token and returns the status.
func callMCP(t *testing.T, srv *mcptest.Server, tok string) int {
	t.Helper()
	code, err := srv.Call(tok)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// TestMCPServerURLAloneCompletesAnAuthorization: a provider that gives
// only an MCP server's URL finds the protected-resource metadata from the
// 401 challenge, the authorization server's metadata, registers
// dynamically, and authorizes with PKCE and the resource parameter at the
// strict stand-in; the token calls the MCP server. A second start reuses
// the registration kept in the cache.
func TestMCPServerURLAloneCompletesAnAuthorization(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts mcptest.Options
	}{
		{"challenge with resource_metadata and scope", mcptest.Options{Scopes: []string{"files:read"}}},
		{"challenge without metadata: the well-known path", mcptest.Options{NoChallengeMetadata: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.RedirectURI = redirect
			srv := mcptest.New(t, tc.opts)
			cache := &memCache{}
			r := &discovery.Resolver{RedirectURI: redirect, Cache: cache, AllowPrivate: true}
			res, err := r.Resolve(t.Context(), mcpOnly(t, srv.URL(), nil))
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if res.Registration.Kind != discovery.RegistrationDynamic || srv.Registrations() != 1 {
				t.Fatalf("registration %v, %d registrations; want one dynamic registration", res.Registration, srv.Registrations())
			}
			if strings.Contains(res.Registration.String(), "mcp-secret-1") {
				t.Error("Registration.String shows the client secret")
			}
			tok, authURL, err := authorizeMCP(t, res.Provider, srv)
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			q, _ := url.Parse(authURL)
			wantScope := "files:read files:write" // scopes_supported
			if len(tc.opts.Scopes) > 0 {
				wantScope = "files:read" // the challenge's
			}
			if got := q.Query().Get("scope"); got != wantScope {
				t.Errorf("authorize scope = %q, want %q", got, wantScope)
			}
			if q.Query().Get("code_challenge_method") != "S256" {
				t.Error("authorize without PKCE S256")
			}
			if code := callMCP(t, srv, tok.AccessToken); code != http.StatusOK || srv.Calls() != 1 {
				t.Fatalf("MCP call with the token: HTTP %d", code)
			}
			if _, err := res.Provider.Refresh(t.Context(), http.DefaultClient, tok); err != nil {
				t.Fatalf("Refresh: %v", err)
			}

			again, err := r.Resolve(t.Context(), mcpOnly(t, srv.URL(), nil))
			if err != nil || again.Registration.ClientID != res.Registration.ClientID || srv.Registrations() != 1 {
				t.Fatalf("second Resolve = %v, %v with %d registrations; want the kept registration reused", again, err, srv.Registrations())
			}
			if len(srv.Violations()) > 0 {
				t.Fatalf("violations: %v", srv.Violations())
			}
		})
	}
}

// TestMCPClientMetadataDocument: when the authorization server supports
// client ID metadata documents, the client id is the URL of the document
// the engine serves under public_url, which the server fetches and checks.
func TestMCPClientMetadataDocument(t *testing.T) {
	mux := http.NewServeMux()
	engine := httptest.NewServer(mux)
	t.Cleanup(engine.Close)
	redirectURI := engine.URL + "/oauth/callback"
	mux.HandleFunc(discovery.ClientMetadataPath("files"), func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(discovery.ClientMetadataDocument(engine.URL, redirectURI, "files"))
	})
	srv := mcptest.New(t, mcptest.Options{RedirectURI: redirectURI, Registration: mcptest.MetadataDocument,
		ClientMetadataURL: engine.URL + discovery.ClientMetadataPath("files")})
	r := &discovery.Resolver{RedirectURI: redirectURI, PublicURL: engine.URL, AllowPrivate: true}
	res, err := r.Resolve(t.Context(), mcpOnly(t, srv.URL(), nil))
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if res.Registration.Kind != discovery.RegistrationMetadataDocument || res.Registration.ClientID != engine.URL+"/oauth/client-metadata/files" {
		t.Fatalf("registration = %v", res.Registration)
	}
	tok, _, err := authorizeMCP(t, res.Provider, srv)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	if callMCP(t, srv, tok.AccessToken) != http.StatusOK || srv.DocumentFetches() != 1 {
		t.Fatalf("MCP call failed or the document was fetched %d times", srv.DocumentFetches())
	}
}

// TestMCPConfiguredClientComesFirst: a configured client id is used as
// is, before any registration.
func TestMCPConfiguredClientComesFirst(t *testing.T) {
	srv := mcptest.New(t, mcptest.Options{RedirectURI: redirect, Registration: mcptest.None})
	id, secret := srv.Client()
	res, err := (&discovery.Resolver{RedirectURI: redirect, AllowPrivate: true}).Resolve(t.Context(),
		mcpOnly(t, srv.URL(), map[string]any{"client_id": id, "client_secret": secret}))
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if res.Registration.Kind != discovery.RegistrationConfigured {
		t.Fatalf("registration = %v", res.Registration)
	}
	tok, _, err := authorizeMCP(t, res.Provider, srv)
	if err != nil || callMCP(t, srv, tok.AccessToken) != http.StatusOK {
		t.Fatalf("authorization with the configured client: %v", err)
	}
}

// TestMCPRegistrationRedoneWhenRefused: a registration the server no
// longer knows is refused with invalid_client at the token endpoint;
// Reregister drops the kept one and registers again, and the next
// authorization works.
func TestMCPRegistrationRedoneWhenRefused(t *testing.T) {
	srv := mcptest.New(t, mcptest.Options{RedirectURI: redirect})
	cache := &memCache{}
	r := &discovery.Resolver{RedirectURI: redirect, Cache: cache, AllowPrivate: true}
	p := mcpOnly(t, srv.URL(), nil)
	res, err := r.Resolve(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	srv.Forget()
	_, _, err = authorizeMCPUnregistered(t, res.Provider, srv)
	if pe, ok := errors.AsType[*authflow.ProviderError](err); !ok || pe.Code != "invalid_client" {
		t.Fatalf("Exchange with a forgotten registration = %v, want invalid_client", err)
	}
	again, err := r.Reregister(t.Context(), p)
	if err != nil || srv.Registrations() != 2 {
		t.Fatalf("Reregister = %v with %d registrations, want a second registration", err, srv.Registrations())
	}
	tok, _, err := authorizeMCP(t, again.Provider, srv)
	if err != nil || callMCP(t, srv, tok.AccessToken) != http.StatusOK {
		t.Fatalf("authorization after registering again: %v", err)
	}
}

// authorizeMCPUnregistered runs an authorization whose authorize step the
// stand-in refuses for an unregistered client: it asks for a code with
// the registration still known, then forgets it before the exchange.
func authorizeMCPUnregistered(t *testing.T, p *authflow.Provider, srv *mcptest.Server) (*authflow.Token, string, error) {
	t.Helper()
	srv.Register()
	const verifier = "verifier-0123456789-0123456789-0123456789-abc"
	authURL := p.AuthorizeURL("state-1", nil, nil, challenge(verifier))
	cb, err := srv.Consent(context.Background(), authURL)
	if err != nil {
		t.Fatalf("Consent: %v", err)
	}
	srv.Forget()
	u, _ := url.Parse(cb)
	tok, err := p.Exchange(t.Context(), http.DefaultClient, u.Query().Get("code"), verifier)
	return tok, authURL, err
}

// TestMCPBadInput: a refused registration, metadata naming another
// resource or another issuer, a server offering no way to register, and
// an authorization server on a private address (not allowed) are named
// errors under the provider's mcp.url, and nothing is kept.
func TestMCPBadInput(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    mcptest.Options
		private bool
		is      func(error) bool
	}{
		{"a refused registration", mcptest.Options{RefuseRegistration: true}, true, func(err error) bool {
			re, ok := errors.AsType[*discovery.RegistrationError](err)
			return ok && re.Code == "invalid_client_metadata" && re.Status == http.StatusBadRequest
		}},
		{"metadata naming another resource", mcptest.Options{Resource: "https://other.example.com/mcp"}, true, func(err error) bool {
			_, ok := errors.AsType[*discovery.ResourceMismatchError](err)
			return ok
		}},
		{"metadata naming another issuer", mcptest.Options{Issuer: "https://evil.example.com"}, true, func(err error) bool {
			_, ok := errors.AsType[*discovery.IssuerMismatchError](err)
			return ok
		}},
		{"no way to register and no client id", mcptest.Options{Registration: mcptest.None}, true, func(err error) bool {
			return errors.Is(err, discovery.ErrNoRegistration)
		}},
		{"an authorization server on a private address", mcptest.Options{}, false, func(err error) bool {
			_, ok := errors.AsType[*netguard.BlockedError](err)
			return ok
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.RedirectURI = redirect
			srv := mcptest.New(t, tc.opts)
			cache := &memCache{}
			_, err := (&discovery.Resolver{RedirectURI: redirect, Cache: cache, AllowPrivate: tc.private}).Resolve(t.Context(), mcpOnly(t, srv.URL(), nil))
			fe, ok := errors.AsType[*discovery.FieldError](err)
			if !ok || fe.Path != "auth.providers[files].mcp.url" || !tc.is(err) {
				t.Fatalf("Resolve = %v; want the named error under auth.providers[files].mcp.url", err)
			}
			if cache.writes != 0 {
				t.Errorf("%d records kept after a failure", cache.writes)
			}
		})
	}
}
