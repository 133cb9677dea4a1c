package providertest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"maps"
	"math/big"
	"net/http"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// OIDC makes the stand-in an OpenID Connect provider: it serves its
// metadata and its signing keys, and issues a signed id_token with every
// token response to an authorization that asked for the openid scope.
type OIDC struct {
	// Issuer is the issuer the metadata and id_tokens name. Default the
	// stand-in's URL; another value makes a provider whose metadata names
	// a wrong issuer.
	Issuer string
	// RFC8414Only serves the metadata at
	// /.well-known/oauth-authorization-server only (no OpenID Connect
	// discovery document), as plain OAuth 2.0 servers do.
	RFC8414Only bool
	// Audience overrides the id_token's aud (default the client id), to
	// provoke a token issued for another client.
	Audience string
	// Nonce, when set, replaces the nonce the authorize request gave in
	// the id_token, to provoke a replayed id_token.
	Nonce string
	// ForeignKey signs id_tokens with a key the JWKS does not publish, to
	// provoke a bad signature.
	ForeignKey bool
	// Expired issues id_tokens that expired a minute before they are
	// issued.
	Expired bool
}

// oidcKeyID names the stand-in's signing key in its JWKS.
const oidcKeyID = "providertest-1"

// oidcState is the stand-in's OpenID Connect key.
type oidcState struct {
	key *rsa.PrivateKey
	// foreign signs with ForeignKey.
	foreign *rsa.PrivateKey
	// claims are added to the next id_tokens (SetIDTokenClaims).
	claims map[string]any
}

// setupOIDC generates the signing key and registers the metadata and JWKS
// handlers.
func (p *Provider) setupOIDC(mux *http.ServeMux) {
	if p.opts.OIDC == nil {
		return
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		p.t.Fatalf("providertest: generate the OIDC signing key: %v", err)
	}
	p.oidc = &oidcState{key: key}
	if p.opts.OIDC.ForeignKey {
		if p.oidc.foreign, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			p.t.Fatalf("providertest: generate the foreign signing key: %v", err)
		}
	}
	if !p.opts.OIDC.RFC8414Only {
		mux.HandleFunc("/.well-known/openid-configuration", p.handleMetadata)
	}
	mux.HandleFunc("/.well-known/oauth-authorization-server", p.handleMetadata)
	mux.HandleFunc("/jwks", p.handleJWKS)
}

// Issuer is the issuer the stand-in's metadata names.
func (p *Provider) Issuer() string {
	if p.opts.OIDC != nil && p.opts.OIDC.Issuer != "" {
		return p.opts.OIDC.Issuer
	}
	return p.srv.URL
}

func (p *Provider) handleMetadata(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		p.refuse(w, http.StatusMethodNotAllowed, "invalid_request", true, "metadata: method %s", r.Method)
		return
	}
	auth := []string{p.opts.ClientAuth}
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                p.Issuer(),
		"authorization_endpoint":                p.AuthorizeEndpoint(),
		"token_endpoint":                        p.TokenEndpoint(),
		"userinfo_endpoint":                     p.UserInfoEndpoint(),
		"revocation_endpoint":                   p.RevocationEndpoint(),
		"jwks_uri":                              p.srv.URL + "/jwks",
		"scopes_supported":                      []string{"openid", "email", "profile"},
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token", "client_credentials"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": auth,
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"subject_types_supported":               []string{"public"},
	})
}

func (p *Provider) handleJWKS(w http.ResponseWriter, _ *http.Request) {
	pub := p.oidc.key.PublicKey
	writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]any{{
		"kty": "RSA", "use": "sig", "alg": "RS256", "kid": oidcKeyID,
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

// SetIDTokenClaims adds claims to (or replaces claims of) the id_tokens
// issued from now on, as a user whose profile changed.
func (p *Provider) SetIDTokenClaims(claims map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.oidc.claims = maps.Clone(claims)
}

// idTokenLocked returns a signed id_token for a grant of scopes, or ""
// when the stand-in is not OpenID Connect or openid was not asked for.
// It carries Options.UserInfo's claims (with SetIDTokenClaims' over them)
// and nonce when it is not empty. p.mu is held.
func (p *Provider) idTokenLocked(scopes []string, nonce string) string {
	if p.oidc == nil || !slices.Contains(scopes, "openid") {
		return ""
	}
	o := p.opts.OIDC
	aud := p.opts.ClientID
	if o.Audience != "" {
		aud = o.Audience
	}
	now := p.opts.Now()
	exp := now.Add(10 * time.Minute)
	if o.Expired {
		exp = now.Add(-time.Minute)
	}
	claims := jwt.MapClaims{}
	maps.Copy(claims, p.opts.UserInfo)
	maps.Copy(claims, p.oidc.claims)
	claims["iss"], claims["aud"], claims["iat"], claims["exp"] = p.Issuer(), aud, now.Unix(), exp.Unix()
	if o.Nonce != "" {
		nonce = o.Nonce
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = oidcKeyID
	key := p.oidc.key
	if p.oidc.foreign != nil {
		key = p.oidc.foreign
	}
	signed, err := tok.SignedString(key)
	if err != nil {
		p.t.Errorf("providertest: sign the id_token: %v", err)
		return ""
	}
	return signed
}
