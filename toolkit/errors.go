package toolkit

import (
	"errors"
	"net/http"
	"time"
)

// Error is a tool failure with an explicit kind and the fields Arcade's
// output.error carries. A tool returns it (or one of the shorter typed errors
// below) to control what the caller sees; any other error becomes
// TOOL_RUNTIME_FATAL with the error's text as the message.
type Error struct {
	Kind                    ErrorKind
	Message                 string // shown to the model and the app
	DeveloperMessage        string // for the tool's developer; not meant for the model
	CanRetry                bool
	AdditionalPromptContent string
	RetryAfter              time.Duration
	StatusCode              int
	Extra                   map[string]any
	Err                     error // the cause, for errors.Is/As; not sent
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

func (e *Error) toolCallError() *ToolCallError {
	out := &ToolCallError{
		Message:                 e.Message,
		Kind:                    e.Kind,
		DeveloperMessage:        e.DeveloperMessage,
		CanRetry:                e.CanRetry,
		AdditionalPromptContent: e.AdditionalPromptContent,
		Extra:                   e.Extra,
	}
	if out.Kind == "" {
		out.Kind = KindToolRuntimeFatal
	}
	if e.RetryAfter > 0 {
		ms := e.RetryAfter.Milliseconds()
		out.RetryAfterMS = &ms
	}
	if e.StatusCode != 0 {
		sc := e.StatusCode
		out.StatusCode = &sc
	}
	return out
}

// RetryableError asks the caller to try again, optionally with extra
// instructions for the model (TOOL_RUNTIME_RETRY, can_retry true).
type RetryableError struct {
	Message                 string
	AdditionalPromptContent string
	RetryAfter              time.Duration
	Err                     error
}

// Error returns the message.
func (e *RetryableError) Error() string { return e.Message }

// Unwrap returns the cause.
func (e *RetryableError) Unwrap() error { return e.Err }

// UpstreamError reports a failed call to the service the tool wraps; its kind
// follows the upstream HTTP status (401/403 auth, 404 not found, 429 rate
// limit, 400 bad request, 422 validation, 5xx server error).
type UpstreamError struct {
	StatusCode int
	Message    string
	RetryAfter time.Duration
	Err        error
}

// Error returns the message.
func (e *UpstreamError) Error() string { return e.Message }

// Unwrap returns the cause.
func (e *UpstreamError) Unwrap() error { return e.Err }

// UpstreamAuthError reports that the upstream service refused the token
// (UPSTREAM_RUNTIME_AUTH_ERROR): revoked, expired or missing a scope.
type UpstreamAuthError struct {
	Message string
	Err     error
}

// Error returns the message.
func (e *UpstreamAuthError) Error() string { return e.Message }

// Unwrap returns the cause.
func (e *UpstreamAuthError) Unwrap() error { return e.Err }

// ContextRequiredError reports that the tool needs something the context
// lacks, such as a token or a secret (TOOL_RUNTIME_CONTEXT_REQUIRED).
type ContextRequiredError struct {
	Message string
}

// Error returns the message.
func (e *ContextRequiredError) Error() string { return e.Message }

// upstreamKind maps an upstream HTTP status to an error kind.
func upstreamKind(status int) ErrorKind {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return KindUpstreamRuntimeAuthError
	case status == http.StatusNotFound:
		return KindUpstreamRuntimeNotFound
	case status == http.StatusTooManyRequests:
		return KindUpstreamRuntimeRateLimit
	case status == http.StatusBadRequest:
		return KindUpstreamRuntimeBadRequest
	case status == http.StatusUnprocessableEntity:
		return KindUpstreamRuntimeValidationError
	case status >= 500:
		return KindUpstreamRuntimeServerError
	default:
		return KindUpstreamRuntimeUnmapped
	}
}

// toToolCallError turns what a tool returned into output.error.
func toToolCallError(err error) *ToolCallError {
	var (
		te  *Error
		re  *RetryableError
		ue  *UpstreamError
		ae  *UpstreamAuthError
		cre *ContextRequiredError
	)
	switch {
	case errors.As(err, &te):
		return te.toolCallError()
	case errors.As(err, &re):
		return (&Error{Kind: KindToolRuntimeRetry, Message: re.Message, CanRetry: true,
			AdditionalPromptContent: re.AdditionalPromptContent, RetryAfter: re.RetryAfter}).toolCallError()
	case errors.As(err, &ue):
		retry := ue.StatusCode == http.StatusTooManyRequests || ue.StatusCode >= 500
		return (&Error{Kind: upstreamKind(ue.StatusCode), Message: ue.Message, CanRetry: retry,
			RetryAfter: ue.RetryAfter, StatusCode: ue.StatusCode}).toolCallError()
	case errors.As(err, &ae):
		return (&Error{Kind: KindUpstreamRuntimeAuthError, Message: ae.Message,
			StatusCode: http.StatusUnauthorized}).toolCallError()
	case errors.As(err, &cre):
		return (&Error{Kind: KindToolRuntimeContextRequired, Message: cre.Message}).toolCallError()
	default:
		return &ToolCallError{Kind: KindToolRuntimeFatal, Message: err.Error()}
	}
}
