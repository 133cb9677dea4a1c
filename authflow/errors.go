package authflow

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/authengine/authengine/config"
)

// CompileError is every problem Compile or CompileAll found, in the order
// found, each with its field path (auth.providers[hooli].oauth2.token_request.endpoint),
// so a caller can report them field by field without parsing messages.
type CompileError struct {
	Fields []config.FieldError
}

// Error prints one "path: message" per line.
func (e *CompileError) Error() string {
	lines := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		lines[i] = f.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns each problem as a config.FieldError.
func (e *CompileError) Unwrap() []error {
	out := make([]error, len(e.Fields))
	for i, f := range e.Fields {
		out[i] = f
	}
	return out
}

// problems collects the field errors of a compilation.
type problems []config.FieldError

// addf records one problem with the field at path.
func (ps *problems) addf(path, format string, args ...any) {
	*ps = append(*ps, config.FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
}

// add records the problems of err, a *CompileError.
func (ps *problems) add(err error) {
	if ce, ok := errors.AsType[*CompileError](err); ok {
		*ps = append(*ps, ce.Fields...)
	}
}

// err returns the problems as a *CompileError, or nil when there are none.
func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return &CompileError{Fields: ps}
}

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
