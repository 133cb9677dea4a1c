package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/authengine/authengine/engine"
)

// authRequirement is Arcade's auth_requirement object.
type authRequirement struct {
	ProviderID   string `json:"provider_id"`
	ID           string `json:"id"`
	ProviderType string `json:"provider_type"`
	OAuth2       *struct {
		Scopes []string `json:"scopes"`
	} `json:"oauth2"`
	// Account labels one of several accounts the user holds at the
	// provider (an authengine addition; absent is the default account).
	Account string `json:"account"`
	// ConnectionVariables are the values of the provider's
	// oauth2.connection_variables for this connection, such as a tenant's
	// subdomain (an authengine addition).
	ConnectionVariables map[string]string `json:"connection_variables"`
}

type authorizeBody struct {
	UserID          string          `json:"user_id"`
	AuthRequirement authRequirement `json:"auth_requirement"`
	NextURI         string          `json:"next_uri"`
}

// authorizationResponse is Arcade's AuthorizationResponse.
type authorizationResponse struct {
	ID         string   `json:"id,omitempty"`
	Status     string   `json:"status"`
	URL        string   `json:"url,omitempty"`
	Scopes     []string `json:"scopes"`
	ProviderID string   `json:"provider_id"`
	UserID     string   `json:"user_id"`
	// Context is set on completed authorizations (a value, not a
	// pointer, saves an allocation per answer).
	Context authContext `json:"context,omitzero"`
	// Reason explains a failed authorization (an authengine addition).
	Reason string `json:"reason,omitempty"`
	// The fields below are authengine additions too: ReasonName names the
	// failure (scope_not_granted, access_denied, ...), MissingScopes are
	// the scopes a provider did not grant, DeclinedScopes (on a pending
	// answer) the requested scopes an earlier authorization was refused,
	// Account the account label.
	ReasonName     string   `json:"reason_name,omitempty"`
	MissingScopes  []string `json:"missing_scopes,omitempty"`
	DeclinedScopes []string `json:"declined_scopes,omitempty"`
	Account        string   `json:"account,omitempty"`
}

type authContext struct {
	Token    string         `json:"token,omitempty"`
	UserInfo map[string]any `json:"user_info,omitempty"`
	// Metadata is what the provider said about the grant besides the
	// token: response_map's extra keys and oauth2.redirect_metadata.
	Metadata map[string]any `json:"metadata,omitempty"`
}

func toResponse(a engine.Authorization) *authorizationResponse {
	r := &authorizationResponse{
		ID: a.ID, Status: a.Status, URL: a.URL, Scopes: a.Scopes,
		ProviderID: a.ProviderID, UserID: a.UserID, Reason: a.Reason,
		ReasonName: a.ReasonName, MissingScopes: a.MissingScopes, DeclinedScopes: a.DeclinedScopes, Account: a.Account,
	}
	if r.Scopes == nil {
		r.Scopes = []string{}
	}
	if a.Status == engine.StatusCompleted {
		r.Context = authContext{Token: a.Token, UserInfo: a.UserInfo, Metadata: a.Metadata}
	}
	return r
}

// requirementRequest turns an auth_requirement into an engine request:
// provider_id wins over id when both are set and provider_id names a
// configured provider; the engine falls back to catalog ids itself.
func (r authRequirement) request(userID, nextURI string) engine.AuthorizeRequest {
	id := r.ID
	if id == "" {
		id = r.ProviderID
	}
	req := engine.AuthorizeRequest{UserID: userID, ProviderID: id, ProviderType: r.ProviderType, NextURI: nextURI, Account: r.Account,
		ConnectionVariables: r.ConnectionVariables}
	if r.OAuth2 != nil {
		req.Scopes = r.OAuth2.Scopes
	}
	return req
}

func (h *handlers) authorize(c echo.Context) error {
	var body authorizeBody
	if err := bindPlainJSON(c, &body); err != nil {
		return err
	}
	a, err := h.engine.Authorize(c.Request().Context(), body.AuthRequirement.request(body.UserID, body.NextURI))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toResponse(a))
}

// maxWait is the longest a status request may hold (Arcade's limit).
const maxWait = 59 * time.Second

func (h *handlers) status(c echo.Context) error {
	id := c.QueryParam("id")
	if id == "" {
		return &apiError{status: http.StatusBadRequest, Name: "invalid_request", Message: "query parameter id is required"}
	}
	var wait time.Duration
	if raw := c.QueryParam("wait"); raw != "" {
		// wait bounds the hold: any whole number is read clamped to
		// 0..59 (a negative one as no wait, a larger one as 59, however
		// large); only what is not a whole number is refused.
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return &apiError{status: http.StatusBadRequest, Name: "invalid_request", Message: "query parameter wait must be a whole number of seconds (at most 59 are held)"}
		}
		wait = time.Duration(min(max(n, 0), int64(maxWait/time.Second))) * time.Second
	}
	ctx, cancel := c.Request().Context(), context.CancelFunc(func() {})
	park := wait > 0 && canPark(c)
	if park {
		// A parked wait outlives the handler, and so its request's
		// context; it ends when the client goes away (parked.watch).
		ctx, cancel = context.WithCancel(context.WithoutCancel(ctx))
	}
	a, w, err := h.engine.StatusWait(ctx, id, wait)
	if w != nil && park {
		if p := h.park(c, w, ctx, cancel); p != nil {
			c.Set(parkedKey, p)
			return nil
		}
	}
	defer cancel()
	if w != nil {
		defer w.Close()
		a, err = w.Wait(c.Request().Context())
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toResponse(a))
}

func (h *handlers) confirmUser(c echo.Context) error {
	var body struct {
		FlowID string `json:"flow_id"`
		UserID string `json:"user_id"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	next, err := h.engine.ConfirmUser(c.Request().Context(), body.FlowID, body.UserID)
	if err != nil {
		return err
	}
	out := map[string]string{"auth_id": body.FlowID}
	if next != "" {
		out["next_uri"] = next
	}
	return c.JSON(http.StatusOK, out)
}

func (h *handlers) deleteConnection(c echo.Context) error {
	if err := h.engine.Disconnect(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"deleted": true})
}

// paging reads Arcade's offset pagination (limit default 25, at most 100).
func paging(c echo.Context) (offset, limit int, err error) {
	limit = 25
	if raw := c.QueryParam("limit"); raw != "" {
		if limit, err = strconv.Atoi(raw); err != nil || limit < 1 || limit > 100 {
			return 0, 0, &apiError{status: http.StatusBadRequest, Name: "invalid_request", Message: "limit must be between 1 and 100"}
		}
	}
	if raw := c.QueryParam("offset"); raw != "" {
		if offset, err = strconv.Atoi(raw); err != nil || offset < 0 {
			return 0, 0, &apiError{status: http.StatusBadRequest, Name: "invalid_request", Message: "offset must be a whole number, 0 or more"}
		}
	}
	return offset, limit, nil
}

func page[T any](items []T, offset, limit, total int) map[string]any {
	return map[string]any{
		"items": items, "offset": offset, "limit": limit, "total_count": total,
		"page_count": len(items),
	}
}

// bindJSON decodes a JSON object body into v, naming what was wrong.
// Numbers decoded into interface values are json.Number.
func bindJSON(c echo.Context, v any) error {
	dec := json.NewDecoder(c.Request().Body)
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return bindError(err)
	}
	if dec.More() {
		return &apiError{status: http.StatusBadRequest, Name: "invalid_json", Message: "the body holds more than one JSON value"}
	}
	return nil
}

// bodyBuffers are reused by bindPlainJSON.
var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// bindPlainJSON is bindJSON for a v that holds no interface values (so
// json.Number would make no difference): it reads the body into a reused
// buffer and decodes it with json.Unmarshal, which allocates about half of
// what a json.Decoder does. Bad input is refused with the same names.
func bindPlainJSON(c echo.Context, v any) error {
	buf := bodyBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 64<<10 {
			buf.Reset()
			bodyBuffers.Put(buf)
		}
	}()
	if _, err := buf.ReadFrom(c.Request().Body); err != nil {
		return bindError(err)
	}
	data := bytes.TrimSpace(buf.Bytes())
	if len(data) == 0 {
		return bindError(io.EOF)
	}
	if err := json.Unmarshal(data, v); err != nil {
		var syn *json.SyntaxError
		switch {
		case errors.As(err, &syn) && strings.Contains(syn.Error(), "after top-level value"):
			return &apiError{status: http.StatusBadRequest, Name: "invalid_json", Message: "the body holds more than one JSON value"}
		case errors.As(err, &syn) && syn.Offset == int64(len(data)):
			// Cut short: a json.Decoder reports io.ErrUnexpectedEOF.
			return bindError(io.ErrUnexpectedEOF)
		}
		return bindError(err)
	}
	return nil
}

// bindError is the answer to a body that could not be decoded.
func bindError(err error) error {
	var (
		syn    *json.SyntaxError
		typ    *json.UnmarshalTypeError
		tooBig *http.MaxBytesError
	)
	switch {
	case errors.As(err, &tooBig), errors.Is(err, echo.ErrStatusRequestEntityTooLarge):
		return &apiError{status: http.StatusRequestEntityTooLarge, Name: "request_too_large", Message: "the request body is larger than api.max_body_bytes"}
	case errors.Is(err, io.EOF):
		return &apiError{status: http.StatusBadRequest, Name: "invalid_json", Message: "a JSON body is required"}
	case errors.As(err, &syn):
		return &apiError{status: http.StatusBadRequest, Name: "invalid_json", Message: fmt.Sprintf("the body is not valid JSON (at byte %d)", syn.Offset)}
	case errors.As(err, &typ) && typ.Field == "":
		return &apiError{status: http.StatusBadRequest, Name: "invalid_json", Message: "the body must be a JSON object"}
	case errors.As(err, &typ):
		return &apiError{status: http.StatusBadRequest, Name: "invalid_json", Message: fmt.Sprintf("field %q must be %s", typ.Field, typ.Type)}
	default:
		return &apiError{status: http.StatusBadRequest, Name: "invalid_json", Message: "the body is not a valid JSON object"}
	}
}
