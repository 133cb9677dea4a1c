// Package mcptest is a strict stand-in for a remote MCP server and its
// authorization server, for tests of the MCP authorization flow.
//
// New starts two httptest servers. The protected resource answers an
// unauthenticated request with 401 and a WWW-Authenticate challenge
// naming its RFC 9728 metadata (and scopes), serves that metadata, and
// answers requests bearing a valid access token. The authorization server
// serves RFC 8414 metadata, a dynamic client registration endpoint (RFC
// 7591) or client ID metadata documents, and fronts a strict
// providertest.Provider for /authorize and /token. It is strict: a
// registration whose redirect URIs, grant types or client authentication
// differ from what the engine must send, an authorize, token or refresh
// request without the RFC 8707 resource parameter naming the protected
// resource, a client id that was never registered, and a client ID
// metadata document that does not name itself or the redirect URI are
// answered with the OAuth error a real server would send AND reported
// with t.Errorf (the underlying stand-in checks PKCE, the redirect URI,
// client authentication and single-use codes).
//
// Failures a test provokes on purpose (RefuseRegistration, Forget) are
// answered like a real server but are not test errors.
package mcptest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/authengine/authengine/internal/providertest"
)

// Registration modes of the authorization server.
const (
	// Dynamic: RFC 7591 registration at /register (the default).
	Dynamic = "dynamic"
	// MetadataDocument: client ID metadata documents; no registration
	// endpoint.
	MetadataDocument = "metadata_document"
	// None: neither; a client must be configured.
	None = "none"
)

// Options configure the stand-in.
type Options struct {
	// RedirectURI is the engine's redirect URI: the only one a
	// registration or metadata document may name.
	RedirectURI string
	// Registration is Dynamic (default), MetadataDocument or None.
	Registration string
	// ClientMetadataURL is the client id the server expects in
	// MetadataDocument mode: the URL of the engine's document, which the
	// server fetches and checks.
	ClientMetadataURL string
	// Scopes are the scopes the 401 challenge asks for.
	Scopes []string
	// RefuseRegistration answers every registration 400
	// invalid_client_metadata.
	RefuseRegistration bool
	// Resource overrides the resource the protected-resource metadata
	// names (default the MCP endpoint's URL), to provoke a mismatch.
	Resource string
	// NoChallengeMetadata leaves resource_metadata out of the 401
	// challenge, so clients must find the metadata at the well-known path.
	NoChallengeMetadata bool
	// Issuer overrides the issuer the authorization server's metadata
	// names (default its URL), to provoke a mismatch.
	Issuer string
}

// Server is a running MCP server and authorization server.
type Server struct {
	t    testing.TB
	opts Options
	idp  *providertest.Provider
	rs   *httptest.Server
	as   *httptest.Server

	registered    atomic.Bool
	registrations atomic.Int64
	documents     atomic.Int64
	calls         atomic.Int64

	mu         sync.Mutex
	violations []string
}

// New starts the stand-in; it is closed when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Registration == "" {
		opts.Registration = Dynamic
	}
	s := &Server{t: t, opts: opts}
	pt := providertest.Options{RedirectURI: opts.RedirectURI, RequirePKCE: true, AccessTokenTTL: 0, RotateRefreshTokens: true}
	switch opts.Registration {
	case Dynamic:
		pt.ClientID, pt.ClientSecret, pt.ClientAuth = "mcp-client-1", "mcp-secret-1", providertest.ClientSecretBasic
	case MetadataDocument:
		pt.ClientID, pt.ClientAuth = opts.ClientMetadataURL, providertest.ClientAuthNone
	default:
		pt.ClientID, pt.ClientSecret, pt.ClientAuth = "preregistered", "preregistered-secret", providertest.ClientSecretBasic
	}
	s.idp = providertest.New(t, pt)

	rs := http.NewServeMux()
	rs.HandleFunc("/mcp", s.handleMCP)
	rs.HandleFunc("/.well-known/oauth-protected-resource/mcp", s.handleResourceMetadata)
	s.rs = httptest.NewServer(rs)
	t.Cleanup(s.rs.Close)

	as := http.NewServeMux()
	as.HandleFunc("/.well-known/oauth-authorization-server", s.handleASMetadata)
	as.HandleFunc("/register", s.handleRegister)
	as.HandleFunc("/authorize", s.handleAuthorize)
	as.HandleFunc("/token", s.handleToken)
	s.as = httptest.NewServer(as)
	t.Cleanup(s.as.Close)
	return s
}

// URL is the MCP server's endpoint.
func (s *Server) URL() string { return s.rs.URL + "/mcp" }

// Issuer is the authorization server's URL.
func (s *Server) Issuer() string { return s.as.URL }

// AuthorizeEndpoint is where the browser is sent.
func (s *Server) AuthorizeEndpoint() string { return s.as.URL + "/authorize" }

// Client is the client a pre-registered (None mode) engine is given.
func (s *Server) Client() (id, secret string) { return s.idp.ClientID(), s.idp.ClientSecret() }

// Registrations counts the dynamic registrations accepted.
func (s *Server) Registrations() int { return int(s.registrations.Load()) }

// DocumentFetches counts the client ID metadata documents fetched.
func (s *Server) DocumentFetches() int { return int(s.documents.Load()) }

// Calls counts the MCP requests answered with a valid token.
func (s *Server) Calls() int { return int(s.calls.Load()) }

// Provider is the underlying strict OAuth stand-in.
func (s *Server) Provider() *providertest.Provider { return s.idp }

// Forget drops the dynamic registration, as a server that expired or
// revoked it: the token endpoint then answers invalid_client until the
// client registers again.
func (s *Server) Forget() { s.registered.Store(false) }

// Violations lists the protocol violations seen, the underlying
// stand-in's included.
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append(slices.Clone(s.violations), s.idp.Violations()...)
}

func (s *Server) violation(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.mu.Lock()
	s.violations = append(s.violations, msg)
	s.mu.Unlock()
	s.t.Errorf("mcptest: %s", msg)
}

func (s *Server) resource() string { return s.rs.URL + "/mcp" }

func (s *Server) handleMCP(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || !s.idp.ValidAccessToken(tok) {
		var params []string
		if !s.opts.NoChallengeMetadata {
			params = append(params, fmt.Sprintf("resource_metadata=%q", s.rs.URL+"/.well-known/oauth-protected-resource/mcp"))
		}
		if len(s.opts.Scopes) > 0 {
			params = append(params, fmt.Sprintf("scope=%q", strings.Join(s.opts.Scopes, " ")))
		}
		if ok {
			params = append(params, `error="invalid_token"`)
		}
		w.Header().Set("WWW-Authenticate", strings.TrimSpace("Bearer "+strings.Join(params, ", ")))
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_token"})
		return
	}
	s.calls.Add(1)
	writeJSON(w, http.StatusOK, map[string]any{"jsonrpc": "2.0", "id": 1, "result": map[string]any{}})
}

func (s *Server) handleResourceMetadata(w http.ResponseWriter, _ *http.Request) {
	res := s.resource()
	if s.opts.Resource != "" {
		res = s.opts.Resource
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"resource": res, "authorization_servers": []string{s.as.URL}, "scopes_supported": []string{"files:read", "files:write"},
		"bearer_methods_supported": []string{"header"},
	})
}

func (s *Server) handleASMetadata(w http.ResponseWriter, _ *http.Request) {
	issuer := s.as.URL
	if s.opts.Issuer != "" {
		issuer = s.opts.Issuer
	}
	doc := map[string]any{
		"issuer": issuer, "authorization_endpoint": s.as.URL + "/authorize", "token_endpoint": s.as.URL + "/token",
		"response_types_supported": []string{"code"}, "grant_types_supported": []string{"authorization_code", "refresh_token"},
		"code_challenge_methods_supported": []string{"S256"},
	}
	switch s.opts.Registration {
	case Dynamic:
		doc["registration_endpoint"] = s.as.URL + "/register"
		doc["token_endpoint_auth_methods_supported"] = []string{"client_secret_basic"}
	case MetadataDocument:
		doc["client_id_metadata_document_supported"] = true
		doc["token_endpoint_auth_methods_supported"] = []string{"none"}
	default:
		doc["token_endpoint_auth_methods_supported"] = []string{"client_secret_basic"}
	}
	writeJSON(w, http.StatusOK, doc)
}

func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	if s.opts.Registration != Dynamic {
		http.NotFound(w, r)
		return
	}
	if s.opts.RefuseRegistration {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_client_metadata", "error_description": "registration is closed"})
		return
	}
	var req struct {
		RedirectURIs            []string `json:"redirect_uris"`
		GrantTypes              []string `json:"grant_types"`
		ResponseTypes           []string `json:"response_types"`
		TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
		ClientName              string   `json:"client_name"`
	}
	bad := func(code, format string, args ...any) {
		s.violation("register: "+format, args...)
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": code, "error_description": fmt.Sprintf(format, args...)})
	}
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		bad("invalid_client_metadata", "want a POST of JSON, got %s %s", r.Method, r.Header.Get("Content-Type"))
		return
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
		bad("invalid_client_metadata", "body is not JSON: %v", err)
		return
	}
	switch {
	case !slices.Equal(req.RedirectURIs, []string{s.opts.RedirectURI}):
		bad("invalid_redirect_uri", "redirect_uris %v, want exactly [%s]", req.RedirectURIs, s.opts.RedirectURI)
	case !slices.Contains(req.GrantTypes, "authorization_code"):
		bad("invalid_client_metadata", "grant_types %v lacks authorization_code", req.GrantTypes)
	case !slices.Equal(req.ResponseTypes, []string{"code"}):
		bad("invalid_client_metadata", "response_types %v, want [code]", req.ResponseTypes)
	case req.TokenEndpointAuthMethod != "client_secret_basic":
		bad("invalid_client_metadata", "token_endpoint_auth_method %q, the server supports client_secret_basic only", req.TokenEndpointAuthMethod)
	case req.ClientName == "":
		bad("invalid_client_metadata", "client_name is missing")
	default:
		s.registered.Store(true)
		s.registrations.Add(1)
		writeJSON(w, http.StatusCreated, map[string]any{
			"client_id": s.idp.ClientID(), "client_secret": s.idp.ClientSecret(), "client_secret_expires_at": 0,
			"redirect_uris": req.RedirectURIs, "token_endpoint_auth_method": "client_secret_basic",
			"grant_types": req.GrantTypes, "response_types": req.ResponseTypes,
		})
	}
}

// knownClient checks the client id of an authorize request.
func (s *Server) knownClient(ctx context.Context, clientID, redirectURI string) string {
	switch s.opts.Registration {
	case Dynamic:
		if !s.registered.Load() || clientID != s.idp.ClientID() {
			return fmt.Sprintf("client_id %q is not registered", clientID)
		}
	case MetadataDocument:
		if clientID != s.opts.ClientMetadataURL {
			return fmt.Sprintf("client_id %q is not the expected metadata document URL %q", clientID, s.opts.ClientMetadataURL)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, clientID, nil)
		req.Header.Set("Accept", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Sprintf("fetch the client metadata document: %v", err)
		}
		defer resp.Body.Close()
		s.documents.Add(1)
		var doc struct {
			ClientID                string   `json:"client_id"`
			RedirectURIs            []string `json:"redirect_uris"`
			TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
		}
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&doc) != nil {
			return fmt.Sprintf("client metadata document: HTTP %d or not JSON", resp.StatusCode)
		}
		if doc.ClientID != clientID || !slices.Contains(doc.RedirectURIs, redirectURI) || doc.TokenEndpointAuthMethod != "none" {
			return fmt.Sprintf("client metadata document %+v does not name itself, the redirect URI %s and auth none", doc, redirectURI)
		}
	}
	return ""
}

func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if msg := s.knownClient(r.Context(), q.Get("client_id"), q.Get("redirect_uri")); msg != "" {
		s.violation("authorize: %s", msg)
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_client", "error_description": msg})
		return
	}
	if got := q.Get("resource"); got != s.resource() {
		s.violation("authorize: resource %q, want %q (RFC 8707)", got, s.resource())
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_target"})
		return
	}
	s.proxy(w, r)
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	form, _ := url.ParseQuery(string(body))
	r.Body = io.NopCloser(bytes.NewReader(body))
	if s.opts.Registration == Dynamic && !s.registered.Load() {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_client", "error_description": "unknown client"})
		return
	}
	if got := form.Get("resource"); got != s.resource() {
		s.violation("token (%s): resource %q, want %q (RFC 8707)", form.Get("grant_type"), got, s.resource())
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_target"})
		return
	}
	s.proxy(w, r)
}

// proxy passes a request on to the underlying stand-in.
func (s *Server) proxy(w http.ResponseWriter, r *http.Request) {
	target, _ := url.Parse(s.idp.URL())
	httputil.NewSingleHostReverseProxy(target).ServeHTTP(w, r)
}

// Consent is the user approving an authorization at authorizeURL: it
// returns the callback URL the browser is sent to.
func (s *Server) Consent(ctx context.Context, authorizeURL string) (string, error) {
	if !strings.HasPrefix(authorizeURL, s.AuthorizeEndpoint()+"?") {
		return "", fmt.Errorf("mcptest: %q is not this server's authorize endpoint", authorizeURL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authorizeURL, nil)
	if err != nil {
		return "", err
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		raw, _ := io.ReadAll(resp.Body)
		return "", fmt.Errorf("mcptest: authorize answered HTTP %d: %s", resp.StatusCode, raw)
	}
	return resp.Header.Get("Location"), nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Register marks the dynamic client registered, as if it had registered.
func (s *Server) Register() { s.registered.Store(true) }

// Call sends the MCP server a tools/list request with the bearer token
// and returns the answer's status (200 for a valid token, 401 otherwise).
func (s *Server) Call(token string) (int, error) {
	req, err := http.NewRequest(http.MethodPost, s.URL(), strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
