package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/authengine/authengine/engine"
)

// apiError is the JSON error body every failed API call answers:
// {"name": "...", "message": "..."}. Authorization is set only on
// authorization_required.
type apiError struct {
	status        int
	Name          string                 `json:"name"`
	Message       string                 `json:"message"`
	Authorization *authorizationResponse `json:"authorization,omitempty"`
}

func (e *apiError) Error() string { return e.Name + ": " + e.Message }

// errorHandler is the one place where errors become HTTP answers. Domain
// errors map to fixed names and client-safe messages; anything unexpected
// is logged and answered as internal_error without details.
func errorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		ae := errorAnswer(log, c.Path(), err, c.Response().Header())
		if werr := c.JSON(ae.status, ae); werr != nil {
			log.Warn("write error response", "err", werr)
		}
	}
}

// errorAnswer is err's answer. It logs err when the answer is a server
// error, and sets in h the headers the answer calls for (Retry-After).
func errorAnswer(log *slog.Logger, route string, err error, h http.Header) *apiError {
	ae := toAPIError(err)
	if ae.status >= 500 {
		log.Warn("request failed", "route", route, "status", ae.status, "name", ae.Name, "err", err)
	}
	if ae.status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	}
	var re *engine.RequestError
	if errors.As(err, &re) && re.RetryAfter > 0 {
		h.Set("Retry-After", retryAfter(re.RetryAfter))
	}
	return ae
}

func toAPIError(err error) *apiError {
	var (
		ae  *apiError
		re  *engine.RequestError
		ffe *engine.FlowFailedError
		pfe *engine.ProviderFailedError
		kme *engine.KeyMissingError
		se  *engine.StatusError
		he  *echo.HTTPError
	)
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &re):
		return &apiError{status: re.HTTPStatus(), Name: re.Name, Message: re.Message}
	case errors.As(err, &ffe):
		return &apiError{status: http.StatusGone, Name: "flow_failed", Message: ffe.Reason}
	case errors.As(err, &pfe):
		return &apiError{status: http.StatusBadGateway, Name: "provider_error", Message: pfe.Error()}
	case errors.Is(err, engine.ErrFlowNotFound):
		return &apiError{status: http.StatusNotFound, Name: "flow_not_found", Message: "no authorization with that id (it may have expired)"}
	case errors.Is(err, engine.ErrConnectionNotFound):
		return &apiError{status: http.StatusNotFound, Name: "connection_not_found", Message: "no connection with that id"}
	case errors.As(err, &se):
		return &apiError{status: http.StatusConflict, Name: "needs_reauth", Message: se.Error()}
	case errors.As(err, &kme):
		return &apiError{status: http.StatusConflict, Name: "root_key_missing", Message: kme.Error()}
	case errors.Is(err, engine.ErrNeedsReauth):
		return &apiError{status: http.StatusConflict, Name: "needs_reauth", Message: "the connection needs re-authorization; start a new authorization"}
	case errors.Is(err, engine.ErrStoreUnavailable):
		return &apiError{status: http.StatusServiceUnavailable, Name: "store_unavailable", Message: "the token store is unavailable; retry shortly"}
	case errors.Is(err, engine.ErrProviderUnavailable):
		return &apiError{status: http.StatusServiceUnavailable, Name: "provider_unavailable", Message: "the provider did not answer or answered with a server error; retry shortly"}
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads this answer.
		return &apiError{status: 499, Name: "client_closed_request", Message: "the client closed the request"}
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{status: http.StatusServiceUnavailable, Name: "timeout", Message: "the request timed out; retry shortly"}
	case errors.As(err, &he):
		return fromEchoError(he)
	}
	return &apiError{status: http.StatusInternalServerError, Name: "internal_error", Message: "internal error"}
}

func fromEchoError(he *echo.HTTPError) *apiError {
	switch he.Code {
	case http.StatusNotFound:
		return &apiError{status: he.Code, Name: "not_found", Message: "no such route"}
	case http.StatusMethodNotAllowed:
		return &apiError{status: he.Code, Name: "method_not_allowed", Message: "method not allowed on this route"}
	case http.StatusRequestEntityTooLarge:
		return &apiError{status: he.Code, Name: "request_too_large", Message: "the request body is larger than api.max_body_bytes"}
	case http.StatusUnauthorized:
		return &apiError{status: he.Code, Name: "unauthorized", Message: "invalid or missing API key"}
	}
	if he.Code >= 400 && he.Code < 500 {
		return &apiError{status: he.Code, Name: "bad_request", Message: http.StatusText(he.Code)}
	}
	return &apiError{status: http.StatusInternalServerError, Name: "internal_error", Message: "internal error"}
}
