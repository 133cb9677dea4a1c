package providertest

import (
	"net/http"

	"github.com/authengine/authengine/config"
)

// RevocationEndpoint is the RFC 7009 token revocation endpoint.
func (p *Provider) RevocationEndpoint() string { return p.srv.URL + "/revoke" }

// RevocationRequest returns a revocation_request block for this
// stand-in, in the client authentication it demands. Config leaves it
// out; tests that delete connections set it on the provider.
func (p *Provider) RevocationRequest() *config.Request {
	r := &config.Request{
		Endpoint:            p.RevocationEndpoint(),
		Method:              "POST",
		AuthMethod:          p.opts.ClientAuth,
		RequestContentType:  "application/x-www-form-urlencoded",
		ResponseContentType: "application/json",
	}
	if p.opts.ClientAuth == ClientAuthNone {
		r.Params = map[string]string{"client_id": "<<client_id>>"}
	}
	if p.opts.Quirks.JSONRequestBody {
		r.RequestContentType = "application/json"
	}
	return r
}

// FailRevocations makes the next n revocation requests fail with status
// and the OAuth error oauthErr, after the client is authenticated.
func (p *Provider) FailRevocations(n, status int, oauthErr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range n {
		p.revokeFailures = append(p.revokeFailures, failure{status: status, code: oauthErr})
	}
}

// handleRevoke is RFC 7009: POST, the client authenticated as at the
// token endpoint, a token param (token_type_hint optional). Revoking a
// refresh or access token revokes its whole family (the grant); an
// unknown or already revoked token is answered 200 too (RFC 7009 2.2),
// but only a token the stand-in issued counts as a revocation.
func (p *Provider) handleRevoke(w http.ResponseWriter, r *http.Request) {
	if !p.wait(r) {
		return
	}
	if r.Method != http.MethodPost {
		p.refuse(w, http.StatusMethodNotAllowed, "invalid_request", true, "revoke: method %s, want POST", r.Method)
		return
	}
	if r.URL.RawQuery != "" {
		p.refuse(w, http.StatusBadRequest, "invalid_request", true, "revoke: parameters sent in the URL query")
		return
	}
	form, ok := p.readForm(w, r)
	if !ok {
		return
	}
	if _, ok := p.authenticate(w, r, form); !ok {
		return
	}
	tok := form.Get("token")
	if tok == "" {
		p.refuse(w, http.StatusBadRequest, "invalid_request", true, "revoke: the token parameter is missing")
		return
	}
	switch hint := form.Get("token_type_hint"); hint {
	case "", "refresh_token", "access_token":
	default:
		p.refuse(w, http.StatusBadRequest, "unsupported_token_type", true, "revoke: unknown token_type_hint %q", hint)
		return
	}
	p.mu.Lock()
	if len(p.revokeFailures) > 0 {
		f := p.revokeFailures[0]
		p.revokeFailures = p.revokeFailures[1:]
		p.mu.Unlock()
		p.rejected.Add(1)
		p.writeError(w, f.status, f.code, "injected failure")
		return
	}
	family, known := -1, false
	if rt, ok := p.refresh[tok]; ok {
		family, known = rt.family, true
	} else if at, ok := p.access[tok]; ok {
		family, known = at.family, true
	}
	if known && !p.revoked[family] {
		p.revoked[family] = true
		p.revocations.Add(1)
	}
	p.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}
