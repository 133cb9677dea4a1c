package authflow

import (
	"fmt"
	"log/slog"
	"time"
)

// Token is what a token or refresh request yields. Its String, GoString
// and LogValue redact the secrets, so a Token can never leak through fmt or
// slog by accident.
type Token struct {
	AccessToken  string
	RefreshToken string
	TokenType    string
	IDToken      string
	// Scopes are the scopes the provider says it granted; nil when the
	// response did not say (RFC 6749 5.1: then they equal those requested).
	Scopes []string
	// Expiry is when the access token expires; the zero time means it does
	// not expire.
	Expiry time.Time
	// Extra holds the response_map keys beyond the standard ones (token
	// metadata such as a team id or an API base URL).
	Extra map[string]any
	// Claims are the verified id_token's claims, less those about the
	// token itself (aud, exp, iat, nonce...), for a provider whose user
	// info comes from the id_token; nil otherwise, or when the answer
	// carried no id_token.
	Claims map[string]any
}

// String describes the token with its secrets redacted.
func (t Token) String() string {
	expiry := "never"
	if !t.Expiry.IsZero() {
		expiry = t.Expiry.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("Token{AccessToken:%s RefreshToken:%s IDToken:%s TokenType:%q Scopes:%q Expiry:%s}",
		redacted(t.AccessToken), redacted(t.RefreshToken), redacted(t.IDToken), t.TokenType, t.Scopes, expiry)
}

// GoString redacts for %#v as well.
func (t Token) GoString() string { return "authflow." + t.String() }

// LogValue gives slog the token's shape without its secrets.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("token_type", t.TokenType),
		slog.Bool("has_refresh_token", t.RefreshToken != ""),
		slog.Any("scopes", t.Scopes),
		slog.Time("expiry", t.Expiry),
	)
}

func redacted(s string) string {
	if s == "" {
		return "[none]"
	}
	return "[REDACTED]"
}
