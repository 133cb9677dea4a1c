package discovery

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/coreos/go-oidc/v3/oidc"
)

// idTokenVerifier checks id_tokens with go-oidc against the issuer's
// JWKS, which go-oidc fetches on first use and again when a token names
// an unknown key.
type idTokenVerifier struct {
	v *oidc.IDTokenVerifier
}

// VerifyIDToken checks the signature, issuer, audience (the client id)
// and expiry, and returns the claims. The error names the failed check,
// never the token; remote content in it (go-oidc puts a failed JWKS
// response's whole body there) is clipped, since the error is logged.
func (v idTokenVerifier) VerifyIDToken(ctx context.Context, raw string) (map[string]any, error) {
	tok, err := v.v.Verify(ctx, raw)
	if err != nil {
		return nil, clippedError{err}
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return nil, fmt.Errorf("decode the id_token's claims: %w", err)
	}
	return claims, nil
}

// clippedError is err with its message clipped (clip); errors.Is and As
// still see err.
type clippedError struct{ err error }

func (e clippedError) Error() string { return clip(e.err.Error()) }
func (e clippedError) Unwrap() error { return e.err }

// signingAlgs are the algorithms go-oidc verifies.
var signingAlgs = []string{
	oidc.RS256, oidc.RS384, oidc.RS512, oidc.ES256, oidc.ES384, oidc.ES512,
	oidc.PS256, oidc.PS384, oidc.PS512, oidc.EdDSA,
}

// verifier builds the id_token verifier of an issuer's metadata; its keys
// are fetched with c, bounded in time and size.
func (r *Resolver) verifier(m *Metadata, clientID string, c *http.Client) idTokenVerifier {
	var algs []string
	for _, a := range m.IDTokenSigningAlgValuesSupported {
		if slices.Contains(signingAlgs, a) {
			algs = append(algs, a)
		}
	}
	kc := *noRedirects(c)
	kc.Transport = cappedTransport{base: kc.Transport}
	if kc.Timeout == 0 || kc.Timeout > DefaultTimeout {
		kc.Timeout = DefaultTimeout
	}
	keys := oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), &kc), m.JWKSURI)
	return idTokenVerifier{v: oidc.NewVerifier(m.Issuer, keys, &oidc.Config{
		ClientID:             clientID,
		SupportedSigningAlgs: algs,
		Now:                  r.now,
	})}
}

// cappedTransport caps response bodies at maxDocumentBytes (go-oidc reads
// a JWKS whole).
type cappedTransport struct{ base http.RoundTripper }

func (t cappedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &capped{ReadCloser: resp.Body, left: maxDocumentBytes + 1}
	return resp, nil
}
