// Package tools runs tools for apps: it lists the tools the configured
// workers serve, answers a tool's authorization requirement through the
// engine, and executes a tool by handing its worker the user's current
// token and user info in the call's context.
//
// It owns the policy between an app's request and a worker call: which
// provider and scopes a tool needs, when the user must connect first, how a
// worker's answer (or its absence) becomes Arcade's ExecuteToolResponse. It
// does not own tokens (the engine fetches and refreshes them), the worker
// protocol (engine/workerclient and toolkit), or HTTP shapes
// (engine/httpapi).
package tools

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/authengine/authengine/engine"
	"github.com/authengine/authengine/engine/workerclient"
	"github.com/authengine/authengine/toolkit"
)

// ErrToolNotFound means no worker serves the named tool (at that version).
// It is workerclient.ErrToolNotFound, so either name matches with errors.Is.
var ErrToolNotFound = workerclient.ErrToolNotFound

// ErrWorkerUnauthorized means the tool was not found while a worker
// refuses the engine's credentials; it is workerclient.ErrWorkerUnauthorized.
var ErrWorkerUnauthorized = workerclient.ErrWorkerUnauthorized

// ErrNoWorkers means the engine has no tool workers configured. It matches
// ErrToolNotFound with errors.Is.
var ErrNoWorkers = fmt.Errorf("%w: no tool workers are configured", ErrToolNotFound)

// ErrWorkerUnreachable means no connection to the tool's worker could be
// made (after the worker client's retries). The worker never saw the call,
// so retrying the whole execution cannot run the tool twice.
var ErrWorkerUnreachable = errors.New("tool worker unreachable")

// Execution types and statuses, as Arcade's ExecuteToolResponse spells them.
const (
	ExecutionImmediate = "immediate"
	StatusSuccess      = "success"
	StatusFailed       = "failed"
)

// AuthorizationRequiredError means the user must authorize the tool's
// provider before the tool can run. Authorization is the pending
// authorization whose URL the user must visit.
type AuthorizationRequiredError struct {
	Tool          string // the tool's fully qualified name
	Authorization engine.Authorization
}

// Error names the provider and the tool; it carries no token or URL.
func (e *AuthorizationRequiredError) Error() string {
	return fmt.Sprintf("authorization required: the user must authorize %s before running %s",
		e.Authorization.ProviderID, e.Tool)
}

// Options configures a Service.
type Options struct {
	// Engine answers authorization requirements. Required unless Registry
	// is nil (a Service without workers serves no tools).
	Engine *engine.Engine
	// Registry resolves tool names to definitions and workers. Nil means
	// no workers are configured: the catalog is empty.
	Registry *workerclient.Registry
	// Logger receives one line per execution; nil discards.
	Logger *slog.Logger
	// Now is the clock for created_at, finished_at and durations; nil
	// means time.Now.
	Now func() time.Time
}

// Service lists, authorizes and executes tools. It is safe for concurrent
// use.
type Service struct {
	engine   *engine.Engine
	registry *workerclient.Registry
	log      *slog.Logger
	now      func() time.Time
}

// New returns a Service.
func New(opts Options) *Service {
	s := &Service{engine: opts.Engine, registry: opts.Registry, log: opts.Logger, now: opts.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// List returns one page of the tools the workers serve, in worker order,
// optionally only those of one toolkit (compared case-insensitively), and
// the total number of tools that match.
func (s *Service) List(_ context.Context, toolkitName string, offset, limit int) ([]toolkit.ToolDefinition, int, error) {
	if s.registry == nil {
		return []toolkit.ToolDefinition{}, 0, nil
	}
	var all []toolkit.ToolDefinition
	for _, t := range s.registry.Tools() {
		if toolkitName == "" || strings.EqualFold(t.Def.Toolkit.Name, toolkitName) {
			all = append(all, t.Def)
		}
	}
	total := len(all)
	offset = min(max(offset, 0), total)
	end := total
	if limit > 0 {
		end = min(offset+limit, total)
	}
	return append([]toolkit.ToolDefinition{}, all[offset:end]...), total, nil
}

// Get returns the definition of the named tool: a fully qualified name
// ("Hooli.WhoAmI@1.0.0"), a qualified name ("Hooli.WhoAmI"), a bare name or
// the Toolkit_Name form models use.
func (s *Service) Get(ctx context.Context, name string) (toolkit.ToolDefinition, error) {
	t, err := s.resolve(ctx, name, "")
	if err != nil {
		return toolkit.ToolDefinition{}, err
	}
	return t.Def, nil
}

// AuthorizeRequest asks for the authorization a tool needs for a user.
type AuthorizeRequest struct {
	ToolName    string
	ToolVersion string
	UserID      string
	// NextURI is where the browser goes after the provider's callback.
	NextURI string
	// Account labels which of the user's accounts at the provider to use;
	// empty leaves the tool requirement's choice (the default account).
	Account string
}

// Authorize returns the authorization for the tool's requirement: completed
// with the token when the user holds one covering the tool's scopes (or
// the service token of a client-credentials provider), otherwise pending
// with the URL the user must visit. A tool without an authorization
// requirement answers completed with no token.
func (s *Service) Authorize(ctx context.Context, req AuthorizeRequest) (engine.Authorization, error) {
	if strings.TrimSpace(req.ToolName) == "" {
		return engine.Authorization{}, &engine.RequestError{Name: "invalid_request", Message: "tool_name is required"}
	}
	t, err := s.resolve(ctx, req.ToolName, req.ToolVersion)
	if err != nil {
		return engine.Authorization{}, err
	}
	return s.authorize(ctx, withAccount(t.Def, req.Account), req.UserID, req.NextURI)
}

// withAccount returns def whose authorization requirement names account
// (when both are set): the caller's choice of account wins over the tool's.
func withAccount(def toolkit.ToolDefinition, account string) toolkit.ToolDefinition {
	if account == "" || def.Requirements.Authorization == nil {
		return def
	}
	req := *def.Requirements.Authorization
	req.Account = account
	def.Requirements.Authorization = &req
	return def
}

// authorize answers def's requirement for userID. The provider is the
// requirement's id (a configured provider instance) or, without one, its
// provider_id (a catalog id); when both are set and id names no enabled
// provider, provider_id is tried.
func (s *Service) authorize(ctx context.Context, def toolkit.ToolDefinition, userID, nextURI string) (engine.Authorization, error) {
	req := def.Requirements.Authorization
	if req == nil {
		return engine.Authorization{Status: engine.StatusCompleted, UserID: userID}, nil
	}
	ar := engine.AuthorizeRequest{UserID: userID, ProviderType: req.ProviderType, NextURI: nextURI, Account: req.Account}
	if req.OAuth2 != nil {
		ar.Scopes = req.OAuth2.Scopes
	}
	candidates := []string{req.ID, req.ProviderID}
	if req.ID == "" || req.ID == req.ProviderID {
		candidates = []string{req.ProviderID}
	} else if req.ProviderID == "" {
		candidates = []string{req.ID}
	}
	var err error
	for i, id := range candidates {
		ar.ProviderID = id
		var a engine.Authorization
		a, err = s.engine.Authorize(ctx, ar)
		if err == nil {
			return a, nil
		}
		var re *engine.RequestError
		if i+1 < len(candidates) && errors.As(err, &re) && re.Name == "unknown_provider" {
			continue
		}
		break
	}
	return engine.Authorization{}, fmt.Errorf("authorize tool %s: %w", def.FullyQualifiedName, err)
}

// ExecuteRequest asks to run a tool for a user.
type ExecuteRequest struct {
	ToolName    string
	ToolVersion string
	UserID      string
	Input       map[string]any
	// RunAt is Arcade's scheduling time ("2006-01-02T15:04:05", UTC, or
	// RFC 3339). The engine runs tools immediately: a time in the past or
	// now is echoed back, one in the future is refused.
	RunAt string
	// IncludeErrorStacktrace keeps a failed tool's stack trace in the
	// result; otherwise it is dropped.
	IncludeErrorStacktrace bool
	// Account labels which of the user's accounts at the provider to use;
	// empty leaves the tool requirement's choice (the default account).
	Account string
}

// ExecuteResult is the outcome of a tool call the worker answered, whether
// the tool succeeded or failed (Arcade's ExecuteToolResponse).
type ExecuteResult struct {
	ID            string
	ExecutionID   string
	ExecutionType string // always ExecutionImmediate
	Status        string // StatusSuccess or StatusFailed
	Success       bool
	// Duration is the time spent calling the worker.
	Duration   time.Duration
	FinishedAt time.Time
	RunAt      string
	Output     Output
}

// Output is what the tool produced: a value on success, an error on
// failure, and its log lines.
type Output struct {
	Value any
	Error *toolkit.ToolCallError
	Logs  []toolkit.ToolCallLog
}

// runAtLayouts are the run_at forms accepted: Arcade's zone-less UTC form
// and RFC 3339.
var runAtLayouts = []string{"2006-01-02T15:04:05", time.RFC3339Nano}

// runAtSlack is how far in the future a run_at may be and still count as now.
const runAtSlack = 5 * time.Second

// Execute runs a tool for a user. The user's token for the tool's
// provider comes from the engine, refreshed first when near expiry; when
// the user must connect first the error is an *AuthorizationRequiredError
// carrying the pending authorization. A tool's own failure is a result
// with Success false, not an error. Errors: ErrToolNotFound,
// ErrWorkerUnreachable, *AuthorizationRequiredError, *engine.RequestError
// for bad requests, and the engine's errors (store or provider
// unavailable) unchanged.
func (s *Service) Execute(ctx context.Context, req ExecuteRequest) (ExecuteResult, error) {
	if strings.TrimSpace(req.ToolName) == "" {
		return ExecuteResult{}, &engine.RequestError{Name: "invalid_request", Message: "tool_name is required"}
	}
	if err := s.checkRunAt(req.RunAt); err != nil {
		return ExecuteResult{}, err
	}
	t, err := s.resolve(ctx, req.ToolName, req.ToolVersion)
	if err != nil {
		return ExecuteResult{}, err
	}
	def := withAccount(t.Def, req.Account)
	call := toolkit.ToolCallRequest{
		RunID:       newID("run_"),
		ExecutionID: newID("exec_"),
		CreatedAt:   s.now().UTC().Format(time.RFC3339Nano),
		Tool:        toolkit.ToolReference{Name: def.Name, Toolkit: def.Toolkit.Name, Version: def.Toolkit.Version},
		Inputs:      req.Input,
		Context: toolkit.ToolContext{
			UserID:   req.UserID,
			Secrets:  []toolkit.ToolSecretItem{},
			Metadata: []toolkit.ToolMetadataItem{},
		},
	}
	if call.Inputs == nil {
		call.Inputs = map[string]any{}
	}
	if def.Requirements.Authorization != nil {
		a, err := s.authorize(ctx, def, req.UserID, "")
		if err != nil {
			return ExecuteResult{}, err
		}
		if a.Status != engine.StatusCompleted {
			return ExecuteResult{}, &AuthorizationRequiredError{Tool: def.FullyQualifiedName, Authorization: a}
		}
		info := a.UserInfo
		if info == nil {
			info = map[string]any{} // Pydantic workers want an object, not null
		}
		call.Context.Authorization = &toolkit.ToolAuthorizationContext{Token: a.Token, UserInfo: info}
	}

	started := s.now()
	resp, err := t.Worker.Invoke(ctx, call)
	finished := s.now()
	res := ExecuteResult{
		ID:            call.RunID,
		ExecutionID:   call.ExecutionID,
		ExecutionType: ExecutionImmediate,
		Duration:      finished.Sub(started),
		FinishedAt:    finished.UTC(),
		RunAt:         req.RunAt,
	}
	if err != nil {
		out, ferr := s.transportFailure(ctx, t, err)
		if ferr != nil {
			s.log.WarnContext(ctx, "tool execution failed", "tool", def.FullyQualifiedName, "worker", t.Worker.ID(),
				"execution_id", call.ExecutionID, "err", ferr)
			return ExecuteResult{}, ferr
		}
		res.Status, res.Output = StatusFailed, out
		s.logResult(ctx, t, res)
		return res, nil
	}
	if ra := outputAuthorization(resp); ra != nil {
		// A worker's answer is never passed through: its authorization_url,
		// id and status could point the user at any page. The engine starts
		// its own flow for the tool's declared requirement, asking also for
		// the scopes the worker named (the provider's allowed_scopes still
		// bound them).
		out, err := s.reauthorize(ctx, def, req.UserID, ra.Scopes)
		if err != nil {
			return ExecuteResult{}, err
		}
		res.Status, res.Output = StatusFailed, out
		s.logResult(ctx, t, res)
		return res, nil
	}
	if resp.Output != nil {
		res.Output = Output{Value: resp.Output.Value, Error: resp.Output.Error, Logs: resp.Output.Logs}
	}
	res.Success = resp.Success && res.Output.Error == nil
	if !res.Success && res.Output.Error == nil {
		res.Output.Error = &toolkit.ToolCallError{Kind: toolkit.KindUnknown, Message: "the tool failed without an error message"}
	}
	if res.Output.Error != nil && !req.IncludeErrorStacktrace && res.Output.Error.Stacktrace != "" {
		e := *res.Output.Error
		e.Stacktrace = ""
		res.Output.Error = &e
	}
	res.Status = StatusSuccess
	if !res.Success {
		res.Status = StatusFailed
		res.Output.Value = nil
	}
	s.logResult(ctx, t, res)
	return res, nil
}

// outputAuthorization returns the worker's request for authorization, if any.
// reauthorize answers a worker that asked for authorization. With no
// declared requirement there is nothing the engine may authorize, and when
// the user already holds what was asked for a new flow would loop: both
// end the run failed. Otherwise the caller gets AuthorizationRequiredError
// carrying the engine's own pending flow.
func (s *Service) reauthorize(ctx context.Context, def toolkit.ToolDefinition, userID string, scopes []string) (Output, error) {
	declared := def.Requirements.Authorization
	if declared == nil {
		return Output{Error: &toolkit.ToolCallError{Kind: toolkit.KindUpstreamRuntimeAuthError,
			Message: "the tool asked for authorization but declares no authorization requirement"}}, nil
	}
	widened := *declared
	o := toolkit.OAuth2Requirement{}
	if declared.OAuth2 != nil {
		o = *declared.OAuth2
	}
	o.Scopes = append(slices.Clone(o.Scopes), scopes...)
	widened.OAuth2 = &o
	def.Requirements.Authorization = &widened
	a, err := s.authorize(ctx, def, userID, "")
	if err != nil {
		return Output{}, err
	}
	if a.Status == engine.StatusCompleted {
		return Output{Error: &toolkit.ToolCallError{Kind: toolkit.KindUpstreamRuntimeAuthError,
			Message: "the tool asked for authorization again although the user holds the token it requires"}}, nil
	}
	return Output{}, &AuthorizationRequiredError{Tool: def.FullyQualifiedName, Authorization: a}
}

func outputAuthorization(resp toolkit.ToolCallResponse) *toolkit.ToolCallRequiresAuthorization {
	if resp.Output == nil {
		return nil
	}
	return resp.Output.RequiresAuthorization
}

// transportFailure classifies a failed worker call. A call that never
// reached the worker is ErrWorkerUnreachable (retryable as a whole). A
// call the worker may have received becomes a failed result, never an
// error a client would retry, because retrying could run the tool twice.
// A cancelled request context is returned as is.
func (s *Service) transportFailure(ctx context.Context, t workerclient.Tool, err error) (Output, error) {
	if ctx.Err() != nil {
		return Output{}, fmt.Errorf("execute tool %s: %w", t.Def.FullyQualifiedName, ctx.Err())
	}
	var (
		we *workerclient.WorkerError
		ne net.Error
	)
	switch {
	case workerclient.IsDialError(err):
		return Output{}, fmt.Errorf("execute tool %s: worker %q: %w: %w", t.Def.FullyQualifiedName, t.Worker.ID(), ErrWorkerUnreachable, err)
	case errors.As(err, &we):
		msg := fmt.Sprintf("the tool's worker answered HTTP %d", we.Status)
		if we.Status == http.StatusUnauthorized {
			msg = "the tool's worker refused the engine's credentials (check the worker secret)"
		}
		return Output{Error: &toolkit.ToolCallError{Kind: toolkit.KindNetworkTransportRuntimeUnmapped,
			Message: msg, DeveloperMessage: we.Detail}}, nil
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return Output{Error: &toolkit.ToolCallError{Kind: toolkit.KindNetworkTransportRuntimeTimeout,
			Message: "the tool's worker did not answer in time; the tool may or may not have run"}}, nil
	default:
		return Output{Error: &toolkit.ToolCallError{Kind: toolkit.KindNetworkTransportRuntimeUnmapped,
			Message: "the call to the tool's worker failed; the tool may or may not have run"}}, nil
	}
}

func (s *Service) logResult(ctx context.Context, t workerclient.Tool, res ExecuteResult) {
	attrs := []slog.Attr{
		slog.String("tool", t.Def.FullyQualifiedName),
		slog.String("worker", t.Worker.ID()),
		slog.String("execution_id", res.ExecutionID),
		slog.Bool("success", res.Success),
		slog.Duration("duration", res.Duration),
	}
	level := slog.LevelInfo
	if res.Output.Error != nil {
		level = slog.LevelWarn
		attrs = append(attrs, slog.String("kind", string(res.Output.Error.Kind)))
	}
	s.log.LogAttrs(ctx, level, "tool executed", attrs...)
}

// resolve finds a tool, refreshing the catalog on a miss (bounded by the
// registry).
func (s *Service) resolve(ctx context.Context, name, version string) (workerclient.Tool, error) {
	if s.registry == nil {
		return workerclient.Tool{}, fmt.Errorf("tool %q: %w", name, ErrNoWorkers)
	}
	if s.engine == nil {
		return workerclient.Tool{}, errors.New("tools: no engine configured")
	}
	return s.registry.Resolve(ctx, name, version)
}

// checkRunAt accepts an empty run_at or one that is not in the future.
func (s *Service) checkRunAt(raw string) error {
	if raw == "" {
		return nil
	}
	for _, layout := range runAtLayouts {
		at, err := time.Parse(layout, raw)
		if err != nil {
			continue
		}
		if at.After(s.now().Add(runAtSlack)) {
			return &engine.RequestError{Name: "scheduling_not_supported",
				Message: "run_at is in the future: this engine runs tools immediately; omit run_at"}
		}
		return nil
	}
	return &engine.RequestError{Name: "invalid_request",
		Message: `run_at must look like "2006-01-02T15:04:05" (UTC) or be an RFC 3339 time`}
}

// newID returns a random id with a prefix.
func newID(prefix string) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}
