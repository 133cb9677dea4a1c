package config

import (
	"fmt"
	"slices"
)

// reservedRedirectParams are the callback's own query parameters, which
// are never kept as metadata.
var reservedRedirectParams = []string{"code", "state", "error", "error_description", "error_uri", "iss"}

// validateRedirectMetadata checks oauth2.redirect_metadata: names of
// query parameters, each once, none of the callback's own.
func validateRedirectMetadata(names []string, base string, r *report) {
	for i, n := range names {
		path := fmt.Sprintf("%s.redirect_metadata[%d]", base, i)
		switch {
		case n == "":
			r.errorf(path, "must name a query parameter")
		case slices.Contains(reservedRedirectParams, n):
			r.errorf(path, "%q is the callback's own parameter, not metadata", n)
		case slices.Contains(names[:i], n):
			r.errorf(path, "%q is listed twice", n)
		}
	}
}
