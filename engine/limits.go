package engine

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on what an app may send. Each value ends up in the store (user ids
// and scopes in records and index keys, next_uri in the flow), so without a
// bound one caller could fill the store or make every listing slow. They are
// documented in docs/security.md.
const (
	// MaxUserIDLength bounds user_id, in bytes.
	MaxUserIDLength = 256
	// MaxNextURILength bounds next_uri, in bytes.
	MaxNextURILength = 2048
	// MaxScopes bounds how many scopes one request may name.
	MaxScopes = 64
	// MaxScopeLength bounds one scope, in bytes.
	MaxScopeLength = 256
)

// checkRequestLimits refuses a request whose user id, next_uri or scopes
// exceed the limits above, naming the field and the limit. It runs before
// anything is looked up or stored.
func checkRequestLimits(userID, nextURI string, scopes []string) error {
	if len(userID) > MaxUserIDLength {
		return badRequest("field_too_long", fmt.Sprintf("user_id is %d bytes; the limit is %d", len(userID), MaxUserIDLength))
	}
	if len(nextURI) > MaxNextURILength {
		return badRequest("field_too_long", fmt.Sprintf("next_uri is %d bytes; the limit is %d", len(nextURI), MaxNextURILength))
	}
	if len(scopes) > MaxScopes {
		return badRequest("too_many_scopes", fmt.Sprintf("%d scopes requested; the limit is %d", len(scopes), MaxScopes))
	}
	for i, s := range scopes {
		if len(s) > MaxScopeLength {
			return badRequest("field_too_long", fmt.Sprintf("scope %d is %d bytes; the limit is %d", i, len(s), MaxScopeLength))
		}
	}
	return nil
}

// MaxAccountLength bounds an account label.
const MaxAccountLength = 128

// checkAccount refuses an account label that is too long or holds
// control characters or spaces at its ends: labels are shown in listings
// and logs.
func checkAccount(account string) error {
	if len(account) > MaxAccountLength {
		return badRequest("field_too_long", fmt.Sprintf("auth_requirement.account is %d bytes; the limit is %d", len(account), MaxAccountLength))
	}
	if strings.TrimSpace(account) != account || strings.ContainsFunc(account, unicode.IsControl) || !utf8.ValidString(account) {
		return badRequest("invalid_request", "auth_requirement.account must be printable text without leading or trailing spaces")
	}
	return nil
}
