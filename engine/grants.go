package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/authengine/authengine/authflow"
)

// grantedScopes splits the scopes a flow asked for into those the
// provider granted and those it did not, from the scopes its token
// response reported (after the response_map). A provider that reports no
// scopes granted what was asked. The connection holds the granted
// requested names and the reported ones: providers report scopes under
// other names (Google answers "email" with
// https://www.googleapis.com/auth/userinfo.email), and a later request for
// the same names must match. A requested scope counts as granted when the
// report holds it, or a URL-form scope ending in "/name" or ".name"; and
// offline_access, which asks for a refresh token rather than an API
// permission and which providers do not echo, always does.
func grantedScopes(requested, reported []string) (granted, missing []string) {
	if reported == nil {
		return slices.Clone(requested), nil
	}
	for _, s := range requested {
		if reportedAs(s, reported) {
			granted = append(granted, s)
		} else {
			missing = append(missing, s)
		}
	}
	return union(granted, reported), missing
}

// reportedAs reports whether the requested scope s is among reported.
func reportedAs(s string, reported []string) bool {
	if s == "offline_access" {
		return true
	}
	for _, r := range reported {
		if r == s || strings.Contains(r, "://") && (strings.HasSuffix(r, "/"+s) || strings.HasSuffix(r, "."+s)) {
			return true
		}
	}
	return false
}

// declinedAgain returns the scopes of want that an earlier authorization
// asked for and the provider did not grant.
func declinedAgain(declined, want []string) []string {
	var out []string
	for _, s := range want {
		if slices.Contains(declined, s) {
			out = append(out, s)
		}
	}
	return out
}

// scopeNotGrantedReason is the client-safe reason of a flow that ended
// with scopes missing.
func scopeNotGrantedReason(providerID string, missing []string) string {
	return clip(fmt.Sprintf("provider %q did not grant the scopes %s (declined at consent); the connection keeps the scopes it was granted, and a new authorization must ask for these again",
		providerID, strings.Join(missing, ", ")))
}

// verifyRefresh refreshes a freshly granted token once
// (oauth2.verify_refresh) and returns the refreshed token, which replaces
// the granted one (a provider that rotates refresh tokens has already
// invalidated the first). Its error is client-safe: the provider's OAuth
// error code and description, never a body. On failure nothing is stored:
// the flow fails, and a connection the user already had stays as it was.
func (e *Engine) verifyRefresh(ctx context.Context, p *authflow.Provider, tok *authflow.Token, scopes []string) (*authflow.Token, error) {
	if tok.RefreshToken == "" {
		e.metrics.Refreshes.WithLabelValues(p.ID(), "verify_failed").Inc()
		return nil, errors.New("the provider issued no refresh token, and oauth2.verify_refresh needs one (does the authorization ask for offline access?)")
	}
	req := *tok
	req.Scopes = scopes
	pctx, cancel := e.providerContext(ctx)
	start := time.Now()
	refreshed, err := p.Refresh(pctx, e.clientFor(p), &req)
	cancel()
	e.metrics.observe(p.ID(), "refresh", start, err)
	if err != nil {
		e.metrics.Refreshes.WithLabelValues(p.ID(), "verify_failed").Inc()
		return nil, errors.New("the refresh right after the grant failed: " + providerReason(err))
	}
	e.metrics.Refreshes.WithLabelValues(p.ID(), "verified").Inc()
	return refreshed, nil
}
