package httpapi

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/authengine/authengine/engine/tools"
	"github.com/authengine/authengine/toolkit"
)

// MountTools registers the tools API on e, behind the same API-key check
// and per-key rate limit (limits.APIKey, the limiter New was given) as
// the rest of /v1:
//
//	GET  /v1/tools             list (offset pagination, ?toolkit=)
//	GET  /v1/tools/:name       one definition
//	POST /v1/tools/authorize   the AuthorizationResponse for a tool's requirement
//	POST /v1/tools/execute     run a tool (403 authorization_required when the user must connect first)
//
// A nil svc (no workers configured) serves an empty catalog.
func MountTools(e *echo.Echo, svc *tools.Service, keys *Keys, limits RateLimits) {
	if svc == nil {
		svc = tools.New(tools.Options{})
	}
	h := &toolHandlers{svc: svc}
	key := requireKey(&keys.api, "api_key")
	rate := limit(limits.APIKey, limits.ExemptLoopback, byActor, tooMany)
	e.GET("/v1/tools", h.list, key, rate)
	e.GET("/v1/tools/:name", h.get, key, rate)
	e.POST("/v1/tools/authorize", h.authorize, key, rate)
	e.POST("/v1/tools/execute", h.execute, key, rate)
}

type toolHandlers struct {
	svc *tools.Service
}

// toolResponse is a tool definition as Arcade's engine lists it.
type toolResponse struct {
	toolkit.ToolDefinition
	Requirements toolRequirements `json:"requirements"`
}

type toolRequirements struct {
	// Met is false when the tool needs anything from a user or the
	// operator; without a user the engine cannot know more.
	Met           bool                              `json:"met"`
	Authorization *toolkit.ToolAuthRequirement      `json:"authorization,omitempty"`
	Secrets       []toolkit.ToolSecretRequirement   `json:"secrets,omitempty"`
	Metadata      []toolkit.ToolMetadataRequirement `json:"metadata,omitempty"`
}

func toToolResponse(d toolkit.ToolDefinition) toolResponse {
	r := d.Requirements
	return toolResponse{ToolDefinition: d, Requirements: toolRequirements{
		Met:           r.Authorization == nil && len(r.Secrets) == 0,
		Authorization: r.Authorization,
		Secrets:       r.Secrets,
		Metadata:      r.Metadata,
	}}
}

func (h *toolHandlers) list(c echo.Context) error {
	offset, limit, err := paging(c)
	if err != nil {
		return err
	}
	defs, total, err := h.svc.List(c.Request().Context(), c.QueryParam("toolkit"), offset, limit)
	if err != nil {
		return toolError(err)
	}
	items := make([]toolResponse, 0, len(defs))
	for _, d := range defs {
		items = append(items, toToolResponse(d))
	}
	return c.JSON(http.StatusOK, page(items, offset, limit, total))
}

func (h *toolHandlers) get(c echo.Context) error {
	name, err := url.PathUnescape(c.Param("name"))
	if err != nil {
		return &apiError{status: http.StatusBadRequest, Name: "invalid_request", Message: "the tool name in the path is not validly escaped"}
	}
	d, err := h.svc.Get(c.Request().Context(), name)
	if err != nil {
		return toolError(err)
	}
	return c.JSON(http.StatusOK, toToolResponse(d))
}

func (h *toolHandlers) authorize(c echo.Context) error {
	var body struct {
		ToolName    string `json:"tool_name"`
		ToolVersion string `json:"tool_version"`
		UserID      string `json:"user_id"`
		NextURI     string `json:"next_uri"`
		Account     string `json:"account"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	a, err := h.svc.Authorize(c.Request().Context(), tools.AuthorizeRequest{
		ToolName: body.ToolName, ToolVersion: body.ToolVersion, UserID: body.UserID, NextURI: body.NextURI, Account: body.Account,
	})
	if err != nil {
		return toolError(err)
	}
	return c.JSON(http.StatusOK, toResponse(a))
}

// executeResponse is Arcade's ExecuteToolResponse.
type executeResponse struct {
	ID            string        `json:"id"`
	ExecutionID   string        `json:"execution_id"`
	ExecutionType string        `json:"execution_type"`
	Status        string        `json:"status"`
	Success       bool          `json:"success"`
	Duration      float64       `json:"duration"` // milliseconds
	FinishedAt    string        `json:"finished_at"`
	RunAt         string        `json:"run_at,omitempty"`
	Output        executeOutput `json:"output"`
}

type executeOutput struct {
	Value any                    `json:"value,omitempty"`
	Error *toolkit.ToolCallError `json:"error,omitempty"`
	Logs  []toolkit.ToolCallLog  `json:"logs"`
}

func (h *toolHandlers) execute(c echo.Context) error {
	var body struct {
		ToolName               string         `json:"tool_name"`
		ToolVersion            string         `json:"tool_version"`
		UserID                 string         `json:"user_id"`
		Input                  map[string]any `json:"input"`
		RunAt                  string         `json:"run_at"`
		IncludeErrorStacktrace bool           `json:"include_error_stacktrace"`
		Account                string         `json:"account"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	res, err := h.svc.Execute(c.Request().Context(), tools.ExecuteRequest{
		ToolName: body.ToolName, ToolVersion: body.ToolVersion, UserID: body.UserID, Input: body.Input,
		RunAt: body.RunAt, IncludeErrorStacktrace: body.IncludeErrorStacktrace, Account: body.Account,
	})
	if err != nil {
		return toolError(err)
	}
	out := executeResponse{
		ID: res.ID, ExecutionID: res.ExecutionID, ExecutionType: res.ExecutionType, Status: res.Status,
		Success: res.Success, Duration: float64(res.Duration.Microseconds()) / 1000,
		FinishedAt: res.FinishedAt.Format(time.RFC3339Nano), RunAt: res.RunAt,
		Output: executeOutput{Value: res.Output.Value, Error: res.Output.Error, Logs: res.Output.Logs},
	}
	if out.Output.Logs == nil {
		out.Output.Logs = []toolkit.ToolCallLog{}
	}
	return c.JSON(http.StatusOK, out)
}

// toolError maps the tools service's own errors to API errors; everything
// else (engine errors) goes to the shared error handler unchanged.
func toolError(err error) error {
	var are *tools.AuthorizationRequiredError
	switch {
	case errors.As(err, &are):
		return &apiError{status: http.StatusForbidden, Name: "authorization_required", Message: are.Error(),
			Authorization: toResponse(are.Authorization)}
	case errors.Is(err, tools.ErrWorkerUnauthorized):
		// The message names worker ids and the config key, never a secret.
		return &apiError{status: http.StatusBadGateway, Name: "worker_unauthorized", Message: err.Error()}
	case errors.Is(err, tools.ErrToolNotFound):
		msg := "no configured tool worker serves that tool"
		if errors.Is(err, tools.ErrNoWorkers) {
			msg = "no tool workers are configured (tools.workers in engine.yaml)"
		}
		return &apiError{status: http.StatusNotFound, Name: "tool_not_found", Message: msg}
	case errors.Is(err, tools.ErrWorkerUnreachable):
		// The worker never saw the call, so the client may retry it.
		return &apiError{status: http.StatusServiceUnavailable, Name: "worker_unreachable",
			Message: "the tool's worker is unreachable; retry shortly"}
	}
	return err
}
