package authflow

import (
	"context"
	"fmt"
	"maps"
)

// IDTokenVerifier checks an id_token a provider returned: its signature
// against the issuer's keys and its issuer, audience and expiry claims,
// and returns its claims. authflow/discovery builds one from an issuer's
// metadata.
type IDTokenVerifier interface {
	VerifyIDToken(ctx context.Context, rawIDToken string) (claims map[string]any, err error)
}

// IDTokenError reports an id_token that failed verification, or one that
// is missing where the user info must come from it. It names the
// provider and the reason, never the token.
type IDTokenError struct {
	Provider string
	Reason   string
}

// Error says which provider's id_token was refused and why.
func (e *IDTokenError) Error() string {
	return fmt.Sprintf("id_token from provider %q failed verification: %s", e.Provider, e.Reason)
}

// WithIDTokenVerifier returns a copy of p that verifies every id_token a
// code exchange or a refresh returns with v; a token whose id_token fails
// is refused with an *IDTokenError and never reaches the caller.
func (p *Provider) WithIDTokenVerifier(v IDTokenVerifier) *Provider {
	c := *p
	c.idTokens = v
	return &c
}

// IDTokenUserInfo reports whether the provider's user info is the
// verified id_token's claims (oauth2.user_info_from: id_token): Token.Claims
// after a code exchange, and after each refresh whose answer carries an
// id_token.
func (p *Provider) IDTokenUserInfo() bool { return p.idTokenUserInfo }

// WithNonce returns a copy of p bound to an OpenID Connect nonce: its
// authorize URL carries it and its code exchange refuses an id_token that
// does not repeat it. "" binds none and returns p. Unbound returns the
// provider without it.
func (p *Provider) WithNonce(nonce string) *Provider {
	if nonce == "" {
		return p
	}
	c := *p
	c.nonce = nonce
	c.base = p.Unbound()
	return &c
}

// NewNonce returns a fresh OpenID Connect nonce.
func NewNonce() string { return NewState() }

// protocolClaims are the id_token claims about the token itself, left out
// of the user info taken from it.
var protocolClaims = []string{"aud", "exp", "iat", "nbf", "nonce", "at_hash", "c_hash", "azp", "jti", "auth_time", "sid"}

// verifyIDToken checks t's id_token when p has a verifier, and, for a
// provider whose user info is the id_token's claims, puts them in
// t.Claims. exchange is true for a code exchange: the id_token is then
// required (for such a provider) and must repeat p's nonce.
func (p *Provider) verifyIDToken(ctx context.Context, t *Token, exchange bool) error {
	if t.IDToken == "" {
		if p.idTokenUserInfo && exchange {
			return &IDTokenError{Provider: p.id, Reason: "the token response carries no id_token, and the user info comes from it (oauth2.user_info_from: id_token)"}
		}
		return nil
	}
	if p.idTokens == nil {
		if p.idTokenUserInfo {
			return &IDTokenError{Provider: p.id, Reason: "no issuer keys to verify it with (oauth2.user_info_from: id_token needs oauth2.issuer)"}
		}
		return nil
	}
	claims, err := p.idTokens.VerifyIDToken(ctx, t.IDToken)
	if err != nil {
		return &IDTokenError{Provider: p.id, Reason: err.Error()}
	}
	if exchange && p.nonce != "" {
		if got, _ := claims["nonce"].(string); got != p.nonce {
			reason := "its nonce is not the one the authorize request sent (a replayed or foreign id_token)"
			if got == "" {
				reason = "it carries no nonce, and the authorize request sent one"
			}
			return &IDTokenError{Provider: p.id, Reason: reason}
		}
	}
	if p.idTokenUserInfo {
		info := maps.Clone(claims)
		for _, k := range protocolClaims {
			delete(info, k)
		}
		t.Claims = info
	}
	return nil
}
