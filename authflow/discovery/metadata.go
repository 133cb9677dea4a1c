package discovery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// maxDocumentBytes caps every metadata document and registration answer.
const maxDocumentBytes = 256 << 10

// Metadata is an authorization server's metadata (RFC 8414, OpenID
// Connect Discovery 1.0): the fields the engine uses.
type Metadata struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint,omitempty"`
	TokenEndpoint                     string   `json:"token_endpoint,omitempty"`
	UserInfoEndpoint                  string   `json:"userinfo_endpoint,omitempty"`
	RevocationEndpoint                string   `json:"revocation_endpoint,omitempty"`
	RegistrationEndpoint              string   `json:"registration_endpoint,omitempty"`
	JWKSURI                           string   `json:"jwks_uri,omitempty"`
	ScopesSupported                   []string `json:"scopes_supported,omitempty"`
	ResponseTypesSupported            []string `json:"response_types_supported,omitempty"`
	GrantTypesSupported               []string `json:"grant_types_supported,omitempty"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported,omitempty"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported,omitempty"`
	ClientIDMetadataDocumentSupported bool     `json:"client_id_metadata_document_supported,omitempty"`
}

// ErrUnreachable marks a document that could not be fetched: the server
// did not answer, answered with an error status, or with no document.
// A kept copy is used instead when there is one.
var ErrUnreachable = errors.New("could not be fetched")

// IssuerMismatchError reports a metadata document that names another
// issuer than the one it was fetched for (RFC 8414 3.3, OpenID Connect
// Discovery 4.3): it must not be used.
type IssuerMismatchError struct {
	Want, Got string
}

// Error names both issuers.
func (e *IssuerMismatchError) Error() string {
	return fmt.Sprintf("the metadata names issuer %q, not %q", e.Got, e.Want)
}

// InvalidMetadataError reports a document that was fetched but cannot be
// used: not JSON, or a required field missing or malformed.
type InvalidMetadataError struct {
	// URL is the document's address.
	URL string
	// Reason says what is wrong, naming the document's field.
	Reason string
}

// Error names the document and the problem.
func (e *InvalidMetadataError) Error() string {
	return fmt.Sprintf("metadata at %s: %s", e.URL, e.Reason)
}

// FieldError is a discovery failure attributed to the configuration field
// that led to it (auth.providers[hooli].oauth2.issuer). Unwrap gives the
// named cause (ErrUnreachable, *IssuerMismatchError, ...).
type FieldError struct {
	Path string
	Err  error
}

// Error is "path: cause".
func (e *FieldError) Error() string { return e.Path + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *FieldError) Unwrap() error { return e.Err }

// Cache keeps documents and registrations between starts. engine.DiscoveryCache
// keeps them sealed in the store. Load returns an error wrapping a
// not-found error when nothing is kept under key.
type Cache interface {
	Load(ctx context.Context, key string) ([]byte, error)
	Save(ctx context.Context, key string, value []byte) error
	Delete(ctx context.Context, key string) error
}

// issuerKey is the cache key of an issuer's metadata.
func issuerKey(issuer string) string {
	sum := sha256.Sum256([]byte(issuer))
	return "issuer:" + hex.EncodeToString(sum[:12])
}

// Well-known document kinds.
const (
	wellKnownOIDC  = "/.well-known/openid-configuration"
	wellKnownOAuth = "/.well-known/oauth-authorization-server"
)

// metadataURLs are the addresses to try for issuer's metadata, in order.
// OpenID Connect appends its well-known path to the issuer; RFC 8414
// inserts its own between the host and the issuer's path
// (https://as.example/tenant -> https://as.example/.well-known/oauth-authorization-server/tenant).
// oidcFirst puts OpenID Connect discovery first (oauth2.issuer); the MCP
// specification puts RFC 8414 first.
func metadataURLs(issuer string, oidcFirst bool) ([]string, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("issuer %q is not an absolute URL", issuer)
	}
	origin := u.Scheme + "://" + u.Host
	path := strings.TrimRight(u.EscapedPath(), "/")
	oauth := origin + wellKnownOAuth + path
	oidcAppended := origin + path + wellKnownOIDC
	if oidcFirst {
		return []string{oidcAppended, oauth}, nil
	}
	urls := []string{oauth}
	if path != "" {
		urls = append(urls, origin+wellKnownOIDC+path)
	}
	return append(urls, oidcAppended), nil
}

// getJSON fetches url with c and decodes its JSON answer into v. A
// transport failure, a non-200 status or a body that is not JSON is
// ErrUnreachable (with the reason); the body is capped.
func getJSON(ctx context.Context, c *http.Client, target string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", target, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := noRedirects(c).Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w: %w", target, ErrUnreachable, unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes+1))
	if err != nil {
		return fmt.Errorf("GET %s: %w: reading the answer: %w", target, ErrUnreachable, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %w: HTTP %d", target, ErrUnreachable, resp.StatusCode)
	}
	if len(body) > maxDocumentBytes {
		return &InvalidMetadataError{URL: target, Reason: fmt.Sprintf("the document is larger than %d bytes", maxDocumentBytes)}
	}
	if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct != "" && ct != "application/json" && !strings.HasSuffix(ct, "+json") {
		return fmt.Errorf("GET %s: %w: the answer is %s, not JSON", target, ErrUnreachable, ct)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &InvalidMetadataError{URL: target, Reason: "not a JSON object: " + err.Error()}
	}
	return nil
}

// unwrapURLError drops *url.Error's "Get \"<url>\":" prefix (the URL is
// already named).
func unwrapURLError(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}

// noRedirects returns c, or a copy of it that does not follow redirects:
// a metadata document is fetched from its own address only.
func noRedirects(c *http.Client) *http.Client {
	if c == nil {
		c = http.DefaultClient
	}
	if c.CheckRedirect != nil {
		return c
	}
	cc := *c
	cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cc
}

// fetchMetadata reads issuer's metadata from the first of its well-known
// addresses that serves one, and checks it: the issuer must be the one
// asked for (a mismatch ends the search: the server said something
// wrong), and the endpoints must be absolute http(s) URLs.
func fetchMetadata(ctx context.Context, c *http.Client, issuer string, oidcFirst bool) (*Metadata, error) {
	urls, err := metadataURLs(issuer, oidcFirst)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, u := range urls {
		var m Metadata
		err := getJSON(ctx, c, u, &m)
		if errors.Is(err, ErrUnreachable) {
			errs = append(errs, err)
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := m.check(u, issuer); err != nil {
			return nil, err
		}
		return &m, nil
	}
	return nil, fmt.Errorf("metadata of issuer %s %w: %w", issuer, ErrUnreachable, errors.Join(errs...))
}

// check validates a fetched document for issuer.
func (m *Metadata) check(from, issuer string) error {
	if m.Issuer != issuer {
		return &IssuerMismatchError{Want: issuer, Got: m.Issuer}
	}
	for _, f := range m.endpoints() {
		if f.value == "" {
			continue
		}
		if u, err := url.Parse(f.value); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "" {
			return &InvalidMetadataError{URL: from, Reason: fmt.Sprintf("%s is not an absolute http(s) URL without credentials or fragment", f.name)}
		}
	}
	if m.TokenEndpoint == "" {
		return &InvalidMetadataError{URL: from, Reason: "token_endpoint is missing"}
	}
	return nil
}

// supportsS256 reports whether the server lists PKCE S256.
func (m *Metadata) supportsS256() bool {
	return slices.Contains(m.CodeChallengeMethodsSupported, "S256")
}

// endpoints lists the document's URLs with their field names.
func (m *Metadata) endpoints() []struct{ name, value string } {
	return []struct{ name, value string }{
		{"authorization_endpoint", m.AuthorizationEndpoint},
		{"token_endpoint", m.TokenEndpoint},
		{"userinfo_endpoint", m.UserInfoEndpoint},
		{"revocation_endpoint", m.RevocationEndpoint},
		{"registration_endpoint", m.RegistrationEndpoint},
		{"jwks_uri", m.JWKSURI},
	}
}

// capped is a response body that fails once more than its limit is read.
type capped struct {
	io.ReadCloser
	left int64
}

// errTooLarge ends a capped body.
var errTooLarge = fmt.Errorf("the answer is larger than %d bytes", maxDocumentBytes)

func (c *capped) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.ReadCloser.Read(p)
	c.left -= int64(n)
	return n, err
}
