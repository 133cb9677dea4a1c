package authflow

import (
	"context"
	"fmt"
	"net/http"
)

// CanRevoke reports whether a revocation request is configured.
func (p *Provider) CanRevoke() bool { return p.revoke != nil }

// Revoke asks the provider to revoke t (RFC 7009): the refresh token when
// t has one (revoking it ends the grant at providers that implement the
// RFC), else the access token. Without a token param in the operator's
// params it sends token and token_type_hint; <<refresh_token>> and
// <<access_token>> are available to templates. Any 2xx answer is success,
// whatever its body (RFC 7009 2.2: the provider answers 200 for a token it
// does not know too); another answer is a *ProviderError with op
// "revoke".
func (p *Provider) Revoke(ctx context.Context, c *http.Client, t *Token) error {
	if p.revoke == nil {
		return fmt.Errorf("revoke token for provider %q: no revocation_request is configured", p.id)
	}
	if t == nil || t.RefreshToken == "" && t.AccessToken == "" {
		return fmt.Errorf("revoke token for provider %q: no token to revoke", p.id)
	}
	v := p.vars()
	v.refreshToken, v.accessToken, v.metadata = t.RefreshToken, t.AccessToken, t.Extra
	tok, hint := t.RefreshToken, "refresh_token"
	if tok == "" {
		tok, hint = t.AccessToken, "access_token"
	}
	var extra []kv
	if !p.revoke.hasParam["token"] {
		extra = append(extra, kv{"token", tok})
		extra = p.revoke.withDefault(extra, "token_type_hint", hint)
	}
	status, body, contentType, err := p.send(ctx, c, p.revoke, &v, extra)
	if err != nil {
		return fmt.Errorf("revoke token for provider %q: %w", p.id, err)
	}
	if status < 200 || status > 299 {
		return fmt.Errorf("revoke token for provider %q: %w", p.id, statusError(p.revoke.op, status, body, contentType))
	}
	return nil
}
