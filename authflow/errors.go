package authflow

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// ProviderError reports that the provider answered with a failure: a
// non-2xx status, or a 2xx whose body carries a top-level "error" (Slack's
// {"ok": false, "error": "invalid_code"}). It holds what the provider said,
// never the request's secrets nor the raw body.
type ProviderError struct {
	// Op is the request that failed: "token", "refresh",
	// "client_credentials" or "user_info".
	Op string
	// Status is the HTTP status of the response.
	Status int
	// Code is the OAuth error code, such as invalid_grant; "" when the
	// provider gave none.
	Code string
	// Description is the provider's error_description, clipped.
	Description string
}

// Error describes the failure without the body or any secret.
func (e *ProviderError) Error() string {
	msg := fmt.Sprintf("provider %s request failed with HTTP %d", e.Op, e.Status)
	if e.Code != "" {
		msg += ": " + e.Code
	}
	if e.Description != "" {
		msg += " (" + e.Description + ")"
	}
	return msg
}

// Retryable reports whether trying again later may succeed: a 5xx status or
// 429 Too Many Requests.
func (e *ProviderError) Retryable() bool {
	return e.Status >= 500 || e.Status == http.StatusTooManyRequests
}

// networkError marks a failure to reach the provider or to read its answer.
type networkError struct {
	op   string
	host string
	err  error
}

func (e *networkError) Error() string {
	return fmt.Sprintf("provider %s request to %s: %v", e.op, e.host, e.err)
}

func (e *networkError) Unwrap() error { return e.err }

// IsRetryable reports whether err is worth retrying: the provider could not
// be reached, the request timed out, or the provider answered 5xx or 429.
// A cancelled context is not retryable: the caller gave up.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	if pe, ok := errors.AsType[*ProviderError](err); ok {
		return pe.Retryable()
	}
	_, ok := errors.AsType[*networkError](err)
	return ok
}

// IsInvalidGrant reports whether the provider refused the grant (code,
// refresh token) as invalid, expired or revoked: the user must authorize
// again.
func IsInvalidGrant(err error) bool {
	pe, ok := errors.AsType[*ProviderError](err)
	return ok && pe.Code == "invalid_grant"
}
