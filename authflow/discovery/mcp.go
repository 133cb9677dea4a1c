package discovery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/authengine/authengine/authflow"
	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/internal/netguard"
)

// ResourceMetadata is an MCP server's protected-resource metadata (RFC
// 9728): the fields the engine uses.
type ResourceMetadata struct {
	Resource             string   `json:"resource"`
	AuthorizationServers []string `json:"authorization_servers"`
	ScopesSupported      []string `json:"scopes_supported,omitempty"`
}

// ResourceMismatchError reports protected-resource metadata that names
// another resource than the MCP server it was fetched for.
type ResourceMismatchError struct {
	ServerURL, Resource string
}

// Error names both.
func (e *ResourceMismatchError) Error() string {
	return fmt.Sprintf("the protected-resource metadata names resource %q, which does not cover the MCP server %q", e.Resource, e.ServerURL)
}

// RegistrationError reports an authorization server that refused the
// engine's dynamic client registration (RFC 7591 3.2.2), or answered it
// with no usable client.
type RegistrationError struct {
	Status      int
	Code        string // invalid_redirect_uri, invalid_client_metadata, ...
	Description string
}

// Error says what the server answered, never what was sent.
func (e *RegistrationError) Error() string {
	msg := fmt.Sprintf("the authorization server refused the client registration (HTTP %d", e.Status)
	if e.Code != "" {
		msg += ", " + e.Code
	}
	msg += ")"
	if e.Description != "" {
		msg += ": " + e.Description
	}
	return msg
}

// ErrNoRegistration: the authorization server offers neither client ID
// metadata documents nor dynamic registration, and no client_id is
// configured.
var ErrNoRegistration = errors.New("the authorization server offers neither client ID metadata documents nor dynamic client registration: register a client with it and give client_id (and client_secret)")

// Registration is the client the engine is at an authorization server.
// Its String and LogValue redact the secrets.
type Registration struct {
	// Issuer is the authorization server, RedirectURI the redirect URI it
	// was registered with: a registration is reused only for both.
	Issuer      string `json:"issuer"`
	RedirectURI string `json:"redirect_uri"`
	// Kind is how the client came to be: "configured", "metadata_document"
	// (the client id is the engine's document URL) or "dynamic" (RFC 7591).
	Kind                    string `json:"kind"`
	ClientID                string `json:"client_id"`
	ClientSecret            string `json:"client_secret,omitempty"`
	ClientSecretExpiresAt   int64  `json:"client_secret_expires_at,omitempty"`
	RegistrationAccessToken string `json:"registration_access_token,omitempty"`
	TokenEndpointAuthMethod string `json:"token_endpoint_auth_method"`
}

// Registration kinds.
const (
	RegistrationConfigured       = "configured"
	RegistrationMetadataDocument = "metadata_document"
	RegistrationDynamic          = "dynamic"
)

// String describes the registration without its secrets.
func (g Registration) String() string {
	return fmt.Sprintf("Registration{Issuer:%q Kind:%s ClientID:%q ClientSecret:%s TokenEndpointAuthMethod:%s}",
		g.Issuer, g.Kind, g.ClientID, redact(g.ClientSecret), g.TokenEndpointAuthMethod)
}

// LogValue gives slog the registration without its secrets.
func (g Registration) LogValue() slog.Value {
	return slog.GroupValue(slog.String("issuer", g.Issuer), slog.String("kind", g.Kind), slog.String("client_id", g.ClientID),
		slog.Bool("has_secret", g.ClientSecret != ""))
}

func redact(s string) string {
	if s == "" {
		return "[none]"
	}
	return "[REDACTED]"
}

// mcpRecord is what is kept for an MCP provider (key "mcp:<id>"): the
// documents found and the registration made, so a start while a server
// is unreachable, or any later start, reuses them.
type mcpRecord struct {
	URL            string           `json:"url"`
	Resource       ResourceMetadata `json:"resource"`
	ChallengeScope []string         `json:"challenge_scope,omitempty"`
	Metadata       Metadata         `json:"metadata"`
	Registration   Registration     `json:"registration"`
}

func mcpKey(id string) string { return "mcp:" + id }

// ClientMetadataPath is the path under public_url where the engine serves
// the client ID metadata document of MCP provider id.
func ClientMetadataPath(id string) string {
	return "/oauth/client-metadata/" + url.PathEscape(id)
}

// ClientMetadataDocument is the client ID metadata document the engine
// serves for MCP provider id: its client id is the document's own URL.
func ClientMetadataDocument(publicURL, redirectURI, id string) map[string]any {
	return map[string]any{
		"client_id":                  strings.TrimRight(publicURL, "/") + ClientMetadataPath(id),
		"client_name":                "authengine (" + id + ")",
		"redirect_uris":              []string{redirectURI},
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"token_endpoint_auth_method": config.AuthNone,
	}
}

// resolveMCP completes a type mcp provider: it discovers the server's
// authorization server, registers with it (or reuses the registration
// kept), and builds an authorization-code provider with PKCE S256 and the
// RFC 8707 resource parameter on its authorize, token and refresh
// requests. reuse=false makes a new dynamic registration whatever is kept.
func (r *Resolver) resolveMCP(ctx context.Context, p config.Provider, reuse bool) (*Resolved, error) {
	field := fmt.Sprintf("auth.providers[%s].mcp.url", p.ID)
	kept := r.keptMCP(ctx, p)
	rec, err := r.discoverMCP(ctx, p)
	switch {
	case err == nil:
	case errors.Is(err, ErrUnreachable) && kept != nil && reuse:
		r.log().WarnContext(ctx, "discovery: the MCP server or its authorization server cannot be reached; using what was kept at an earlier start",
			"field", field, "err", err)
		rec = kept
	default:
		return nil, &FieldError{Path: field, Err: err}
	}
	if rec != kept {
		if !reuse {
			kept = nil
		}
		if rec.Registration, err = r.register(ctx, p, rec, kept); err != nil {
			return nil, &FieldError{Path: field, Err: err}
		}
	}
	guarded, err := r.checkHosts(ctx, &rec.Metadata, hostOf(p.MCP.URL))
	if err != nil {
		return nil, &FieldError{Path: field, Err: err}
	}
	full, err := buildMCP(p, rec)
	if err != nil {
		return nil, &FieldError{Path: field, Err: err}
	}
	compiled, err := authflow.Compile(full, r.RedirectURI)
	if err != nil {
		return nil, err
	}
	if rec != kept {
		r.keep(ctx, mcpKey(p.ID), rec, field)
	}
	return &Resolved{Config: full, Provider: compiled, Guarded: guarded, Registration: rec.Registration}, nil
}

// Reregister drops the registration kept for MCP provider p and makes a
// new one (the authorization server refused the kept one with
// invalid_client), returning the provider completed with it. A configured
// client id or a client ID metadata document is not re-registered: it is
// used again as it is.
func (r *Resolver) Reregister(ctx context.Context, p config.Provider) (*Resolved, error) {
	if p.Type != config.ProviderTypeMCP {
		return nil, fmt.Errorf("provider %q is not an MCP server: nothing to register again", p.ID)
	}
	return r.resolveMCP(ctx, p, false)
}

// keptMCP returns the record kept for p, nil when none is usable.
func (r *Resolver) keptMCP(ctx context.Context, p config.Provider) *mcpRecord {
	if r.Cache == nil {
		return nil
	}
	raw, err := r.Cache.Load(ctx, mcpKey(p.ID))
	if err != nil {
		return nil
	}
	var rec mcpRecord
	if json.Unmarshal(raw, &rec) != nil || rec.URL != p.MCP.URL || rec.Registration.RedirectURI != r.RedirectURI ||
		rec.Metadata.check("the kept copy", rec.Metadata.Issuer) != nil {
		return nil
	}
	return &rec
}

// discoverMCP finds the MCP server's protected-resource metadata and its
// authorization server's metadata, and checks both.
func (r *Resolver) discoverMCP(ctx context.Context, p config.Provider) (*mcpRecord, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	server := canonicalResource(p.MCP.URL)
	trusted := hostOf(server)
	challenge, err := r.probe(ctx, server)
	if err != nil {
		return nil, err
	}
	var candidates []string
	if challenge.resourceMetadata != "" {
		candidates = append(candidates, challenge.resourceMetadata)
	} else {
		u, _ := url.Parse(server)
		origin := u.Scheme + "://" + u.Host
		if path := strings.TrimRight(u.EscapedPath(), "/"); path != "" {
			candidates = append(candidates, origin+"/.well-known/oauth-protected-resource"+path)
		}
		candidates = append(candidates, origin+"/.well-known/oauth-protected-resource")
	}
	var prm ResourceMetadata
	var errs []error
	found := false
	for _, c := range candidates {
		client, err := r.clientFor(ctx, c, trusted, "the resource_metadata URL")
		if err != nil {
			return nil, err
		}
		err = getJSON(ctx, client, c, &prm)
		if errors.Is(err, ErrUnreachable) {
			errs = append(errs, err)
			continue
		}
		if err != nil {
			return nil, err
		}
		found = true
		break
	}
	if !found {
		return nil, fmt.Errorf("protected-resource metadata of %s %w: %w", server, ErrUnreachable, errors.Join(errs...))
	}
	if !covers(canonicalResource(prm.Resource), server) {
		return nil, &ResourceMismatchError{ServerURL: server, Resource: prm.Resource}
	}
	if len(prm.AuthorizationServers) == 0 {
		return nil, &InvalidMetadataError{URL: server, Reason: "the protected-resource metadata lists no authorization_servers"}
	}
	issuer := prm.AuthorizationServers[0]
	client, err := r.clientFor(ctx, issuer, trusted, "the authorization server")
	if err != nil {
		return nil, err
	}
	m, err := fetchMetadata(ctx, client, issuer, false)
	if err != nil {
		return nil, err
	}
	if !m.supportsS256() {
		return nil, &InvalidMetadataError{URL: issuer, Reason: "code_challenge_methods_supported does not list S256, which MCP requires"}
	}
	if m.AuthorizationEndpoint == "" {
		return nil, &InvalidMetadataError{URL: issuer, Reason: "authorization_endpoint is missing"}
	}
	return &mcpRecord{URL: p.MCP.URL, Resource: prm, ChallengeScope: challenge.scope, Metadata: *m}, nil
}

// clientFor returns the client for a URL a remote document named: the
// operator's client for the trusted host, otherwise one that refuses
// private addresses (checked now, and when connecting), unless private
// endpoints are allowed.
func (r *Resolver) clientFor(ctx context.Context, target, trusted, what string) (*http.Client, error) {
	if hostOf(target) == trusted {
		return r.client(), nil
	}
	if !r.AllowPrivate {
		if err := netguard.CheckURL(ctx, r.NetResolver, target); err != nil {
			return nil, fmt.Errorf("%s: %w (security.allow_private_endpoints: true allows it)", what, err)
		}
	}
	return r.guarded(), nil
}

// challenge is what a 401 from the MCP server said.
type challenge struct {
	resourceMetadata string
	scope            []string
}

// probe sends the MCP server an unauthenticated initialize request and
// reads its 401 challenge (RFC 9728 5.1). A server that answers
// otherwise gives no challenge; a server that cannot be reached is
// ErrUnreachable.
func (r *Resolver) probe(ctx context.Context, server string) (challenge, error) {
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"authengine","version":"1"}}}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, server, strings.NewReader(body))
	if err != nil {
		return challenge{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := noRedirects(r.client()).Do(req)
	if err != nil {
		return challenge{}, fmt.Errorf("POST %s: %w: %w", server, ErrUnreachable, unwrapURLError(err))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		return challenge{}, nil
	}
	var c challenge
	for _, h := range resp.Header.Values("WWW-Authenticate") {
		params, ok := bearerParams(h)
		if !ok {
			continue
		}
		c.resourceMetadata = params["resource_metadata"]
		c.scope = strings.Fields(params["scope"])
		if c.resourceMetadata != "" {
			if u, err := url.Parse(c.resourceMetadata); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				return challenge{}, &InvalidMetadataError{URL: server, Reason: "the 401 challenge's resource_metadata is not an absolute http(s) URL"}
			}
		}
		break
	}
	return c, nil
}

// bearerParams reads the auth-params of a Bearer challenge
// (RFC 6750 3: Bearer realm="x", scope="a b", resource_metadata="...").
func bearerParams(h string) (map[string]string, bool) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return nil, false
	}
	out := map[string]string{}
	for rest = strings.TrimSpace(rest); rest != ""; rest = strings.TrimLeft(strings.TrimSpace(rest), ",") {
		rest = strings.TrimSpace(rest)
		name, after, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		name = strings.ToLower(strings.TrimSpace(name))
		after = strings.TrimSpace(after)
		var value string
		if strings.HasPrefix(after, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(after) && after[i] != '"'; i++ {
				if after[i] == '\\' && i+1 < len(after) {
					i++
				}
				b.WriteByte(after[i])
			}
			value, rest = b.String(), after[min(i+1, len(after)):]
		} else {
			value, rest, _ = strings.Cut(after, ",")
			value = strings.TrimSpace(value)
		}
		out[name] = value
	}
	return out, true
}

// canonicalResource is the RFC 8707 form of a server URL: scheme and host
// lower-case, no fragment, no trailing slash on the path.
func canonicalResource(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return raw
	}
	u.Scheme, u.Host, u.Fragment = strings.ToLower(u.Scheme), strings.ToLower(u.Host), ""
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u.String()
}

// covers reports whether resource is server or a parent of it: the same
// origin and a path prefix at a segment boundary.
func covers(resource, server string) bool {
	if resource == server {
		return true
	}
	return resource != "" && strings.HasPrefix(server, resource+"/") && hostOf(resource) == hostOf(server)
}

// register returns the client to use at rec's authorization server, in
// the MCP specification's order: the configured client id; the kept
// registration when it is still good; a client ID metadata document when
// the server supports them (and public_url is https, or the server has no
// registration endpoint); a dynamic registration (RFC 7591).
func (r *Resolver) register(ctx context.Context, p config.Provider, rec *mcpRecord, kept *mcpRecord) (Registration, error) {
	m := &rec.Metadata
	base := Registration{Issuer: m.Issuer, RedirectURI: r.RedirectURI}
	if p.ClientID != "" {
		auth, err := chooseClientAuth(p.ClientSecret, m.TokenEndpointAuthMethodsSupported)
		if err != nil {
			return Registration{}, err
		}
		base.Kind, base.ClientID, base.ClientSecret, base.TokenEndpointAuthMethod = RegistrationConfigured, p.ClientID, p.ClientSecret, auth
		return base, nil
	}
	if kept != nil && kept.Registration.Issuer == m.Issuer && kept.Registration.Kind != RegistrationConfigured &&
		(kept.Registration.ClientSecretExpiresAt == 0 || r.now().Unix() < kept.Registration.ClientSecretExpiresAt) {
		return kept.Registration, nil
	}
	if m.ClientIDMetadataDocumentSupported && r.PublicURL != "" &&
		(strings.HasPrefix(r.PublicURL, "https://") || m.RegistrationEndpoint == "") {
		doc := ClientMetadataDocument(r.PublicURL, r.RedirectURI, p.ID)
		base.Kind, base.ClientID, base.TokenEndpointAuthMethod = RegistrationMetadataDocument, doc["client_id"].(string), config.AuthNone
		return base, nil
	}
	if m.RegistrationEndpoint == "" {
		return Registration{}, ErrNoRegistration
	}
	if r.CheckOnly {
		// Compiled only, never sent: serve registers for real.
		base.Kind, base.ClientID, base.TokenEndpointAuthMethod = RegistrationDynamic, "registered-at-start", config.AuthNone
		if auth, err := chooseClientAuth("confidential", m.TokenEndpointAuthMethodsSupported); err == nil {
			base.ClientSecret, base.TokenEndpointAuthMethod = "registered-at-start", auth
		}
		return base, nil
	}
	return r.registerDynamic(ctx, p, rec, base)
}

// registerDynamic registers the engine at the server's registration
// endpoint (RFC 7591) as a confidential client when the server accepts
// one, and checks the answer.
func (r *Resolver) registerDynamic(ctx context.Context, p config.Provider, rec *mcpRecord, base Registration) (Registration, error) {
	m := &rec.Metadata
	auth, err := chooseClientAuth("confidential", m.TokenEndpointAuthMethodsSupported)
	if err != nil {
		auth = config.AuthNone
	}
	body := map[string]any{
		"redirect_uris":              []string{r.RedirectURI},
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"client_name":                "authengine (" + p.ID + ")",
		"token_endpoint_auth_method": auth,
	}
	if scopes := mcpScopes(p, rec); len(scopes) > 0 {
		body["scope"] = strings.Join(scopes, " ")
	}
	raw, _ := json.Marshal(body)
	client, err := r.clientFor(ctx, m.RegistrationEndpoint, hostOf(p.MCP.URL), "the registration endpoint")
	if err != nil {
		return Registration{}, err
	}
	ctx, cancel := r.bound(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.RegistrationEndpoint, bytes.NewReader(raw))
	if err != nil {
		return Registration{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := noRedirects(client).Do(req)
	if err != nil {
		return Registration{}, fmt.Errorf("register at %s: %w: %w", m.RegistrationEndpoint, ErrUnreachable, unwrapURLError(err))
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes+1))
	if err != nil {
		return Registration{}, fmt.Errorf("register at %s: %w: reading the answer: %w", m.RegistrationEndpoint, ErrUnreachable, err)
	}
	var doc struct {
		Error                   string   `json:"error"`
		ErrorDescription        string   `json:"error_description"`
		ClientID                string   `json:"client_id"`
		ClientSecret            string   `json:"client_secret"`
		ClientSecretExpiresAt   int64    `json:"client_secret_expires_at"`
		RegistrationAccessToken string   `json:"registration_access_token"`
		RedirectURIs            []string `json:"redirect_uris"`
		TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	}
	decodeErr := json.Unmarshal(answer, &doc)
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return Registration{}, &RegistrationError{Status: resp.StatusCode, Code: clip(doc.Error), Description: clip(doc.ErrorDescription)}
	}
	switch {
	case decodeErr != nil || len(answer) > maxDocumentBytes:
		return Registration{}, &RegistrationError{Status: resp.StatusCode, Description: "the answer is not a JSON client registration"}
	case doc.ClientID == "":
		return Registration{}, &RegistrationError{Status: resp.StatusCode, Description: "the answer has no client_id"}
	case len(doc.RedirectURIs) > 0 && !slices.Contains(doc.RedirectURIs, r.RedirectURI):
		return Registration{}, &RegistrationError{Status: resp.StatusCode, Description: "the registered redirect_uris do not include the engine's redirect URI"}
	}
	if doc.TokenEndpointAuthMethod != "" {
		auth = doc.TokenEndpointAuthMethod
	}
	if auth != config.AuthNone && doc.ClientSecret == "" {
		return Registration{}, &RegistrationError{Status: resp.StatusCode, Description: "the answer has no client_secret for token_endpoint_auth_method " + auth}
	}
	if auth != config.AuthNone && auth != config.AuthClientSecretBasic && auth != config.AuthClientSecretPost {
		return Registration{}, &RegistrationError{Status: resp.StatusCode, Description: "the registered token_endpoint_auth_method " + auth + " is not one the engine uses"}
	}
	base.Kind, base.ClientID, base.ClientSecret = RegistrationDynamic, doc.ClientID, doc.ClientSecret
	base.ClientSecretExpiresAt, base.RegistrationAccessToken, base.TokenEndpointAuthMethod = doc.ClientSecretExpiresAt, doc.RegistrationAccessToken, auth
	return base, nil
}

// clip bounds a server-provided message.
func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// mcpScopes are the scopes to ask for: those configured, else the 401
// challenge's, else the protected resource's scopes_supported.
func mcpScopes(p config.Provider, rec *mcpRecord) []string {
	switch {
	case len(p.OAuth2.DefaultScopes) > 0:
		return p.OAuth2.DefaultScopes
	case len(rec.ChallengeScope) > 0:
		return rec.ChallengeScope
	}
	return rec.Resource.ScopesSupported
}

// buildMCP completes p from rec: the registered client, the authorization
// server's endpoints (through Apply; explicit blocks win), PKCE S256, the
// scopes, and resource=<the protected resource> on the authorize, token
// and refresh requests.
func buildMCP(p config.Provider, rec *mcpRecord) (config.Provider, error) {
	reg := rec.Registration
	p.ClientID, p.ClientSecret = reg.ClientID, reg.ClientSecret
	p.OAuth2.DefaultScopes = mcpScopes(p, rec)
	given := p.OAuth2.TokenRequest != nil
	full, err := Apply(p, &rec.Metadata)
	if err != nil {
		return p, err
	}
	o := &full.OAuth2
	o.PKCE = config.PKCE{Enabled: true, CodeChallengeMethod: config.PKCEMethodS256}
	if !given {
		// The registration decided the client authentication.
		for _, q := range []*config.Request{o.TokenRequest, o.RefreshTokenRequest, o.RevocationRequest} {
			if q == nil {
				continue
			}
			q.AuthMethod = reg.TokenEndpointAuthMethod
			if q.AuthMethod == config.AuthNone {
				q.Params["client_id"] = "<<client_id>>"
			} else {
				delete(q.Params, "client_id")
			}
		}
	}
	resource := canonicalResource(rec.Resource.Resource)
	for _, q := range []**config.Request{&o.AuthorizeRequest, &o.TokenRequest, &o.RefreshTokenRequest} {
		if *q == nil {
			continue
		}
		c := **q
		c.Params = maps.Clone(c.Params)
		if c.Params == nil {
			c.Params = map[string]string{}
		}
		if _, set := c.Params["resource"]; !set {
			c.Params["resource"] = resource
		}
		*q = &c
	}
	return full, nil
}
