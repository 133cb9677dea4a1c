package authflow

import (
	"context"
	"fmt"
)

// IDTokenVerifier checks an id_token a provider returned: its signature
// against the issuer's keys and its issuer, audience and expiry claims.
// authflow/discovery builds one from an issuer's metadata.
type IDTokenVerifier interface {
	VerifyIDToken(ctx context.Context, rawIDToken string) error
}

// IDTokenError reports an id_token that failed verification. It names the
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

// verifyIDToken checks t's id_token when p has a verifier.
func (p *Provider) verifyIDToken(ctx context.Context, t *Token) error {
	if p.idTokens == nil || t.IDToken == "" {
		return nil
	}
	if err := p.idTokens.VerifyIDToken(ctx, t.IDToken); err != nil {
		return &IDTokenError{Provider: p.id, Reason: err.Error()}
	}
	return nil
}
