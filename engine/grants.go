package engine

import (
	"fmt"
	"slices"
	"strings"
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
