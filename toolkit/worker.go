package toolkit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Worker protocol constants.
const (
	// TokenAudience is the aud claim every engine→worker JWT carries.
	TokenAudience = "worker"
	// TokenVersion is the ver claim every engine→worker JWT carries.
	TokenVersion = "1"
	// ClockSkew is how far a token's exp may lag behind the worker's clock.
	ClockSkew = 30 * time.Second
	// DefaultMaxTokenLifetime is how far ahead a token's exp may be.
	DefaultMaxTokenLifetime = 5 * time.Minute
	// DefaultMaxBodyBytes caps an invoke request body.
	DefaultMaxBodyBytes = 4 << 20
	// DefaultVersion is the toolkit version when WorkerOptions leaves it empty.
	DefaultVersion = "0.1.0"
)

// WorkerOptions configures a Worker.
type WorkerOptions struct {
	// Toolkit names the toolkit every registered tool belongs to. Name is
	// required; Version defaults to DefaultVersion.
	Toolkit ToolkitDefinition
	// Secret is the HS256 key the engine signs its JWTs with (the worker's
	// http.secret in the engine's config). Required.
	Secret string
	// Logger receives one line per call; nil discards.
	Logger *slog.Logger
	// MaxBodyBytes caps an invoke body; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxTokenLifetime refuses tokens whose exp is further ahead than this
	// (plus ClockSkew); 0 means DefaultMaxTokenLifetime, negative disables.
	MaxTokenLifetime time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// AllowMissingJTI accepts tokens without a jti claim, which cannot be
	// checked for replay. Off by default: the engine sends a fresh jti with
	// every request, and a worker refuses a jti it has seen before while
	// the token lives.
	AllowMissingJTI bool
	// ReplayCacheSize bounds the remembered token ids; 0 means
	// DefaultReplayCacheSize.
	ReplayCacheSize int
}

// Worker serves tools over Arcade's worker protocol:
// GET /worker/tools, POST /worker/tools/invoke (both JWT-authenticated) and
// GET /worker/health. It is an http.Handler.
type Worker struct {
	opts   WorkerOptions
	secret []byte
	parser *jwt.Parser
	mux    *http.ServeMux

	replay *replayCache

	mu    sync.RWMutex
	tools []*Tool
}

// NewWorker returns a Worker with no tools.
func NewWorker(opts WorkerOptions) (*Worker, error) {
	if opts.Secret == "" {
		return nil, errors.New("toolkit: worker secret is required")
	}
	if !validName(opts.Toolkit.Name) {
		return nil, fmt.Errorf("toolkit: toolkit name %q: want letters, digits and underscores", opts.Toolkit.Name)
	}
	if opts.Toolkit.Version == "" {
		opts.Toolkit.Version = DefaultVersion
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxTokenLifetime == 0 {
		opts.MaxTokenLifetime = DefaultMaxTokenLifetime
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ReplayCacheSize <= 0 {
		opts.ReplayCacheSize = DefaultReplayCacheSize
	}
	w := &Worker{opts: opts, secret: []byte(opts.Secret), mux: http.NewServeMux(), replay: newReplayCache(opts.ReplayCacheSize)}
	w.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithAudience(TokenAudience),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(ClockSkew),
		jwt.WithTimeFunc(opts.Now),
	)
	w.mux.Handle("GET /worker/tools", w.authenticated(http.HandlerFunc(w.serveTools)))
	w.mux.Handle("POST /worker/tools/invoke", w.authenticated(http.HandlerFunc(w.serveInvoke)))
	w.mux.HandleFunc("GET /worker/health", w.serveHealth)
	return w, nil
}

// Register adds tools. It fails, adding none, when a tool's definition is
// invalid or its name is already registered.
func (w *Worker) Register(tools ...*Tool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	seen := map[string]bool{}
	for _, t := range w.tools {
		seen[strings.ToLower(t.def.Name)] = true
	}
	var errs []error
	for _, t := range tools {
		if t == nil {
			errs = append(errs, errors.New("toolkit: nil tool"))
			continue
		}
		if t.err != nil {
			errs = append(errs, fmt.Errorf("toolkit: %w", t.err))
			continue
		}
		key := strings.ToLower(t.def.Name)
		if seen[key] {
			errs = append(errs, fmt.Errorf("toolkit: tool %q registered twice", t.def.Name))
			continue
		}
		seen[key] = true
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	w.tools = append(w.tools, tools...)
	return nil
}

// Definitions returns the definitions GET /worker/tools serves.
func (w *Worker) Definitions() []ToolDefinition {
	w.mu.RLock()
	defer w.mu.RUnlock()
	defs := make([]ToolDefinition, 0, len(w.tools))
	for _, t := range w.tools {
		defs = append(defs, t.definition(w.opts.Toolkit))
	}
	return defs
}

// ServeHTTP serves the worker routes.
func (w *Worker) ServeHTTP(rw http.ResponseWriter, r *http.Request) { w.mux.ServeHTTP(rw, r) }

// ListenAndServe serves the worker on addr until ctx is cancelled, then
// shuts down gracefully, letting running calls finish for up to 10 s.
func (w *Worker) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("toolkit: listen on %s: %w", addr, err)
	}
	return w.Serve(ctx, ln)
}

// Serve is ListenAndServe on an existing listener.
func (w *Worker) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           w,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(w.opts.Logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	w.opts.Logger.Info("worker listening", "addr", ln.Addr().String(), "toolkit", w.opts.Toolkit.Name)
	select {
	case err := <-errc:
		return fmt.Errorf("toolkit: serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("toolkit: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("toolkit: serve: %w", err)
	}
	w.opts.Logger.Info("worker shut down", "addr", ln.Addr().String())
	return nil
}

// authenticated checks the engine's JWT before next runs.
func (w *Worker) authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if err := w.verify(r.Header.Get("Authorization")); err != nil {
			w.opts.Logger.Warn("worker refused a request", "path", r.URL.Path, "reason", err.Error())
			rw.Header().Set("WWW-Authenticate", "Bearer")
			writeJSON(rw, http.StatusUnauthorized, map[string]string{"detail": "Invalid token. Error: " + err.Error()})
			return
		}
		next.ServeHTTP(rw, r)
	})
}

// verify checks an Authorization header value. Its errors name what was
// wrong, never the token.
func (w *Worker) verify(header string) error {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return errors.New("missing bearer token")
	}
	claims := jwt.MapClaims{}
	_, err := w.parser.ParseWithClaims(strings.TrimSpace(token), claims, func(*jwt.Token) (any, error) {
		return w.secret, nil
	})
	if err != nil {
		return err
	}
	if v, _ := claims["ver"].(string); v != TokenVersion {
		return errors.New("unsupported token version")
	}
	if w.opts.MaxTokenLifetime > 0 {
		exp, err := claims.GetExpirationTime()
		if err != nil || exp == nil {
			return errors.New("token has no valid exp")
		}
		if exp.Sub(w.opts.Now()) > w.opts.MaxTokenLifetime+ClockSkew {
			return errors.New("token lifetime too long")
		}
	}
	jti, _ := claims["jti"].(string)
	if jti == "" {
		if w.opts.AllowMissingJTI {
			return nil
		}
		return errNoTokenID
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return errors.New("token has no valid exp")
	}
	// Remembered until the parser would refuse the token anyway.
	return w.replay.admit(jti, exp.Add(ClockSkew), w.opts.Now())
}

func (w *Worker) serveTools(rw http.ResponseWriter, _ *http.Request) {
	writeJSON(rw, http.StatusOK, w.Definitions())
}

func (w *Worker) serveHealth(rw http.ResponseWriter, _ *http.Request) {
	w.mu.RLock()
	n := len(w.tools)
	w.mu.RUnlock()
	writeJSON(rw, http.StatusOK, map[string]string{"status": "ok", "tool_count": strconv.Itoa(n)})
}

func (w *Worker) serveInvoke(rw http.ResponseWriter, r *http.Request) {
	started := w.opts.Now()
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, w.opts.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSON(rw, http.StatusRequestEntityTooLarge, map[string]string{"detail": "request body too large"})
			return
		}
		writeJSON(rw, http.StatusBadRequest, map[string]string{"detail": "could not read request body"})
		return
	}
	var req ToolCallRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // keep numbers exact until the input struct decodes them
	if err := dec.Decode(&req); err != nil {
		writeJSON(rw, http.StatusUnprocessableEntity, map[string]string{"detail": "body is not a valid ToolCallRequest"})
		return
	}
	tool := w.find(req.Tool)
	if tool == nil {
		writeJSON(rw, http.StatusNotFound, map[string]string{"detail": fmt.Sprintf("tool %s.%s not found", req.Tool.Toolkit, req.Tool.Name)})
		return
	}
	out := w.call(r.Context(), tool, req)
	finished := w.opts.Now()
	resp := ToolCallResponse{
		ExecutionID: req.ExecutionID,
		FinishedAt:  finished.UTC().Format(time.RFC3339Nano),
		Duration:    float64(finished.Sub(started).Microseconds()) / 1000,
		Success:     out.Error == nil,
		Output:      out,
	}
	level := slog.LevelInfo
	if out.Error != nil {
		level = slog.LevelWarn
	}
	attrs := []any{"tool", tool.def.Name, "execution_id", req.ExecutionID, "success", resp.Success, "duration_ms", resp.Duration}
	if out.Error != nil {
		attrs = append(attrs, "kind", string(out.Error.Kind))
	}
	w.opts.Logger.Log(r.Context(), level, "tool call", attrs...)
	writeJSON(rw, http.StatusOK, resp)
}

// find resolves the tool a request names; names compare case-insensitively,
// as Arcade's fully qualified names do.
func (w *Worker) find(ref ToolReference) *Tool {
	if ref.Toolkit != "" && !strings.EqualFold(ref.Toolkit, w.opts.Toolkit.Name) {
		return nil
	}
	if ref.Version != "" && ref.Version != w.opts.Toolkit.Version {
		return nil
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	for _, t := range w.tools {
		if strings.EqualFold(t.def.Name, ref.Name) {
			return t
		}
	}
	return nil
}

// call validates the inputs and runs the tool, turning errors and panics
// into output.error.
func (w *Worker) call(ctx context.Context, t *Tool, req ToolCallRequest) (out *ToolCallOutput) {
	out = &ToolCallOutput{}
	if t.def.Deprecation != "" {
		out.Logs = append(out.Logs, ToolCallLog{Message: t.def.Deprecation, Level: "warning", Subtype: "deprecation"})
	}
	defer func() {
		if p := recover(); p != nil {
			stack := string(debug.Stack())
			w.opts.Logger.Error("tool panicked", "tool", t.def.Name, "execution_id", req.ExecutionID, "stack", stack)
			out.Value = nil
			out.Error = &ToolCallError{
				Kind:       KindToolRuntimeFatal,
				Message:    fmt.Sprintf("tool %s failed unexpectedly", t.def.Name),
				Stacktrace: stack,
			}
		}
	}()
	tc := NewContext(req.Context)
	if err := t.checkContext(tc); err != nil {
		out.Error = toToolCallError(err)
		return out
	}
	inputs := req.Inputs
	if inputs == nil {
		inputs = map[string]any{}
	}
	if err := t.checkInputs(inputs); err != nil {
		out.Error = toToolCallError(err)
		return out
	}
	raw, err := json.Marshal(inputs)
	if err != nil {
		out.Error = toToolCallError(badInput("inputs are not valid JSON"))
		return out
	}
	value, err := t.run(ctx, tc, raw)
	if err != nil {
		out.Error = toToolCallError(err)
		return out
	}
	encoded, err := json.Marshal(value)
	if err != nil {
		out.Error = &ToolCallError{Kind: KindToolRuntimeBadOutputValue,
			Message: fmt.Sprintf("tool %s returned a value that is not JSON", t.def.Name)}
		return out
	}
	out.Value = json.RawMessage(encoded)
	return out
}

func writeJSON(rw http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"detail":"could not encode response"}`)
	}
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_, _ = rw.Write(append(body, '\n'))
}
