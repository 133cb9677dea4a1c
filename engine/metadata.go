package engine

import (
	"net/url"

	"github.com/authengine/authengine/authflow"
)

// maxRedirectMetadata caps one kept redirect parameter: whoever crafted
// the redirect chose it.
const maxRedirectMetadata = 256

// keepRedirectMetadata copies the redirect query parameters the provider's
// oauth2.redirect_metadata names (QuickBooks' realmId) into the token's
// metadata, next to response_map's extra keys; a parameter absent from the
// redirect is left out, and an over-long one is cut.
func keepRedirectMetadata(p *authflow.Provider, params url.Values, tok *authflow.Token) {
	for _, name := range p.RedirectMetadata() {
		v := params.Get(name)
		if v == "" {
			continue
		}
		if len(v) > maxRedirectMetadata {
			v = v[:maxRedirectMetadata]
		}
		if tok.Extra == nil {
			tok.Extra = map[string]any{}
		}
		tok.Extra[name] = v
	}
}

// carryMetadata is the metadata of a refreshed token: what the refresh
// answered, and every key of the old metadata it did not answer (the
// redirect's parameters, or an instance_url sent only with the grant).
func carryMetadata(old, fresh map[string]any) map[string]any {
	if len(old) == 0 {
		return fresh
	}
	out := make(map[string]any, len(old)+len(fresh))
	for k, v := range old {
		out[k] = v
	}
	for k, v := range fresh {
		out[k] = v
	}
	return out
}
