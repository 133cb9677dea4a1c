package engine

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Sentinel errors callers act on. engine/httpapi maps each to one status
// and one stable error name.
var (
	// ErrFlowNotFound: no flow with that id, or it expired.
	ErrFlowNotFound = errors.New("authorization flow not found or expired")
	// ErrInvalidState: the callback's state is unknown, expired or used.
	ErrInvalidState = errors.New("unknown, expired or already used authorization state")
	// ErrConnectionNotFound: no connection with that id.
	ErrConnectionNotFound = errors.New("connection not found")
	// ErrNeedsReauth: the user must authorize again (refresh was refused,
	// or the token expired with no way to refresh it).
	ErrNeedsReauth = errors.New("the connection needs re-authorization")
	// ErrStoreUnavailable: the token store did not answer. Retryable.
	ErrStoreUnavailable = errors.New("token store unavailable")
	// ErrProviderUnavailable: the provider timed out, was unreachable or
	// answered 5xx/429. Retryable; the stored state is unchanged.
	ErrProviderUnavailable = errors.New("provider unavailable")
)

// RequestError is a mistake in what the caller sent. Its Message is safe to
// show to the caller.
type RequestError struct {
	// Name is the stable error name, e.g. "unknown_provider".
	Name    string
	Message string
	// Status is the HTTP status; zero means 400.
	Status int
	// RetryAfter, when set, is when the caller may try again (429).
	RetryAfter time.Duration
}

func (e *RequestError) Error() string { return e.Message }

// HTTPStatus returns the status for the error.
func (e *RequestError) HTTPStatus() int {
	if e.Status == 0 {
		return http.StatusBadRequest
	}
	return e.Status
}

func badRequest(name, msg string) *RequestError { return &RequestError{Name: name, Message: msg} }

// FlowFailedError reports a flow that ended failed, with its client-safe
// reason.
type FlowFailedError struct {
	FlowID string
	Reason string
}

func (e *FlowFailedError) Error() string { return "authorization failed: " + e.Reason }

// ProviderFailedError reports a provider that refused a request for a reason
// the engine cannot fix by retrying (for example invalid_client). Its
// message holds only the OAuth error code and description.
type ProviderFailedError struct {
	ProviderID string
	Reason     string
}

func (e *ProviderFailedError) Error() string {
	return "provider " + e.ProviderID + " refused the request: " + e.Reason
}

// KeyMissingError reports a record sealed with a root key that is not in
// security.root_keys (removed from the configuration, or a lost
// development keys file). For a connection it is a needs-reauthorization
// condition (errors.Is(err, ErrNeedsReauth)): Authorize starts a new flow
// whose connection replaces the record. The record itself is left as it is,
// so adding the key back makes it open again.
type KeyMissingError struct {
	// KeyID is the id of the missing root key.
	KeyID string
	// Replaced: a different key is configured under KeyID (regenerated,
	// as a lost development keys file is).
	Replaced bool
}

func (e *KeyMissingError) Error() string {
	if e.Replaced {
		return fmt.Sprintf("the record is sealed with root key %q, and the key configured under that id is a different one (regenerated?): configure the original key, or authorize again (a new authorization replaces the record)", e.KeyID)
	}
	return fmt.Sprintf("the record is sealed with root key %q, which is not configured: add it back to security.root_keys, or authorize again (a new authorization replaces the record)", e.KeyID)
}

// Is makes a missing root key a needs-reauthorization condition.
func (e *KeyMissingError) Is(target error) bool { return target == ErrNeedsReauth }
