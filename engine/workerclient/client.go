// Package workerclient is the engine's side of Arcade's engine-to-worker
// protocol: a Client that lists a worker's tools, invokes them and checks
// its health, signing each call with a fresh HS256 JWT; and a Registry that
// caches the tool catalogs of several workers and resolves tool names.
//
// It takes the wire types from toolkit and imports nothing else of ours. It
// knows nothing of users, tokens or providers: the engine fills the
// ToolCallRequest's context before calling Invoke.
package workerclient

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authengine/authengine/toolkit"
)

// Defaults for Options.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultRetryBackoff = 200 * time.Millisecond
	// MaxResponseBytes caps a worker's response body.
	MaxResponseBytes = 8 << 20
	// TokenLifetime is how long each call's JWT is valid.
	TokenLifetime = 60 * time.Second
)

// ErrUnreachable wraps failures to get an HTTP response from a worker:
// refused connections, DNS failures, resets, timeouts.
var ErrUnreachable = errors.New("worker unreachable")

// WorkerError is an HTTP response from a worker that is not a success.
// Error() never includes the response body.
type WorkerError struct {
	WorkerID string
	Op       string // "tools", "invoke", "health"
	Status   int
	// Detail is the worker's "detail" field when it sent one (FastAPI style),
	// cut to 200 bytes; it is not part of Error().
	Detail string
}

// Error describes the failure without the response body.
func (e *WorkerError) Error() string {
	return fmt.Sprintf("worker %q %s: HTTP %d", e.WorkerID, e.Op, e.Status)
}

// Retryable reports a status worth retrying on an idempotent call.
func (e *WorkerError) Retryable() bool {
	return e.Status == http.StatusBadGateway || e.Status == http.StatusServiceUnavailable || e.Status == http.StatusGatewayTimeout
}

// Options configures a Client.
type Options struct {
	ID     string // the worker's id in the config, used in errors and logs
	URI    string // base URL, e.g. http://127.0.0.1:8002
	Secret string // HS256 key shared with the worker
	// Timeout bounds each attempt; 0 means DefaultTimeout.
	Timeout time.Duration
	// Retry is how many times a failed attempt is retried (0: never). See
	// the Client doc for which failures are retried.
	Retry int
	// RetryBackoff is the wait before the first retry, doubled each time
	// and capped at 5 s; 0 means DefaultRetryBackoff.
	RetryBackoff time.Duration
	// HTTPClient sends the requests; nil means a client that does not
	// follow redirects (a redirect is a *WorkerError).
	HTTPClient *http.Client
	Now        func() time.Time
}

// Client calls one worker.
//
// Tools and Health are idempotent: they are retried on connection errors
// and on 502, 503 and 504. Invoke is retried only when the request never
// reached the worker (no connection could be made), because a tool call may
// have side effects and must not run twice.
type Client struct {
	opts Options
	base string
}

// New returns a Client for one worker.
func New(opts Options) *Client {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Retry < 0 {
		opts.Retry = 0
	}
	if opts.RetryBackoff <= 0 {
		opts.RetryBackoff = DefaultRetryBackoff
	}
	if opts.HTTPClient == nil {
		// A worker has no reason to redirect; following one would resend a
		// tool call (with the user's token) somewhere else.
		opts.HTTPClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Client{opts: opts, base: strings.TrimRight(opts.URI, "/")}
}

// ID returns the worker's id.
func (c *Client) ID() string { return c.opts.ID }

// String names the worker without its secret.
func (c *Client) String() string { return fmt.Sprintf("worker %q at %s", c.opts.ID, c.base) }

// Tools lists the worker's tool definitions.
func (c *Client) Tools(ctx context.Context) ([]toolkit.ToolDefinition, error) {
	var defs []toolkit.ToolDefinition
	if err := c.call(ctx, "tools", http.MethodGet, "/worker/tools", nil, true, &defs); err != nil {
		return nil, err
	}
	return defs, nil
}

// Invoke runs one tool call. A tool's own failure is a successful call whose
// response has Success false and Output.Error set; the error return is for
// failures to talk to the worker.
func (c *Client) Invoke(ctx context.Context, req toolkit.ToolCallRequest) (toolkit.ToolCallResponse, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return toolkit.ToolCallResponse{}, fmt.Errorf("worker %q invoke: encode request: %w", c.opts.ID, err)
	}
	var resp toolkit.ToolCallResponse
	if err := c.call(ctx, "invoke", http.MethodPost, "/worker/tools/invoke", body, false, &resp); err != nil {
		return toolkit.ToolCallResponse{}, err
	}
	return resp, nil
}

// Health checks that the worker answers GET /worker/health with status ok.
func (c *Client) Health(ctx context.Context) error {
	var h struct {
		Status string `json:"status"`
	}
	if err := c.call(ctx, "health", http.MethodGet, "/worker/health", nil, true, &h); err != nil {
		return err
	}
	if h.Status != "ok" {
		return fmt.Errorf("worker %q health: status %q", c.opts.ID, h.Status)
	}
	return nil
}

// call performs one logical call with retries. idempotent says whether a
// request that reached the worker may be sent again.
func (c *Client) call(ctx context.Context, op, method, path string, body []byte, idempotent bool, out any) error {
	backoff := c.opts.RetryBackoff
	for attempt := 0; ; attempt++ {
		reached, err := c.attempt(ctx, op, method, path, body, out)
		if err == nil {
			return nil
		}
		if attempt >= c.opts.Retry || ctx.Err() != nil || !retryable(err, reached, idempotent) {
			return err
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func retryable(err error, reached, idempotent bool) bool {
	if !reached {
		return true
	}
	if !idempotent {
		return false
	}
	var we *WorkerError
	if errors.As(err, &we) {
		return we.Retryable()
	}
	return errors.Is(err, ErrUnreachable)
}

// attempt sends one request. reached reports whether a connection to the
// worker was made, i.e. whether the worker may have seen the request.
func (c *Client) attempt(ctx context.Context, op, method, path string, body []byte, out any) (reached bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	var gotConn atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { gotConn.Store(true) },
	})
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return false, fmt.Errorf("worker %q %s: build request: %w", c.opts.ID, op, err)
	}
	token, err := c.sign()
	if err != nil {
		return false, fmt.Errorf("worker %q %s: %w", c.opts.ID, op, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		return gotConn.Load() && !IsDialError(err), fmt.Errorf("worker %q %s: %w: %w", c.opts.ID, op, ErrUnreachable, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return true, fmt.Errorf("worker %q %s: read response: %w: %w", c.opts.ID, op, ErrUnreachable, err)
	}
	if len(data) > MaxResponseBytes {
		return true, fmt.Errorf("worker %q %s: response larger than %d bytes", c.opts.ID, op, MaxResponseBytes)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return true, &WorkerError{WorkerID: c.opts.ID, Op: op, Status: resp.StatusCode, Detail: detail(data)}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return true, fmt.Errorf("worker %q %s: response is not the expected JSON: %w", c.opts.ID, op, err)
	}
	return true, nil
}

// IsDialError reports whether err, as returned by a Client call, is a
// failure to make the connection: the worker never saw the request.
func IsDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// sign mints the JWT for one request.
func (c *Client) sign() (string, error) {
	now := c.opts.Now()
	jti := make([]byte, 12)
	_, _ = rand.Read(jti)
	claims := jwt.MapClaims{
		"aud": toolkit.TokenAudience,
		"ver": toolkit.TokenVersion,
		"iat": now.Unix(),
		"exp": now.Add(TokenLifetime).Unix(),
		"jti": fmt.Sprintf("%x", jti),
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(c.opts.Secret))
	if err != nil {
		return "", errors.New("sign worker token failed")
	}
	return s, nil
}

// detail extracts a FastAPI-style {"detail": "..."} message.
func detail(body []byte) string {
	var d struct {
		Detail any `json:"detail"`
	}
	if json.Unmarshal(body, &d) != nil {
		return ""
	}
	s, ok := d.Detail.(string)
	if !ok {
		return ""
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
