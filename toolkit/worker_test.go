package toolkit_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authengine/authengine/toolkit"
)

const testSecret = "test-worker-secret-at-least-32-bytes-long"

// mint signs claims with key using HS256.
func mint(t *testing.T, key string, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// validClaims are what the engine sends, with a fresh jti each call.
func validClaims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"aud": "worker", "ver": "1", "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": rand.Text()}
}

type echoIn struct {
	Message string `json:"message" desc:"What to echo"`
	Times   int    `json:"times,omitempty" desc:"How many times"`
}

// seen records what a tool function was given.
type seen struct {
	calls atomic.Int32
	tc    atomic.Pointer[toolkit.Context]
	in    atomic.Pointer[echoIn]
}

func newTestWorker(t *testing.T, tools ...*toolkit.Tool) *toolkit.Worker {
	t.Helper()
	w, err := toolkit.NewWorker(toolkit.WorkerOptions{
		Toolkit: toolkit.ToolkitDefinition{Name: "Test", Description: "Test tools", Version: "1.0.0"},
		Secret:  testSecret,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Register(tools...); err != nil {
		t.Fatal(err)
	}
	return w
}

func echoTool(s *seen) *toolkit.Tool {
	return toolkit.New(toolkit.Definition{
		Name:         "Echo",
		Description:  "Echoes the message",
		RequiresAuth: &toolkit.OAuth2{ID: "hooli", Scopes: []string{"profile"}},
		Secrets:      []string{"API_KEY"},
	}, func(ctx context.Context, tc toolkit.Context, in echoIn) (any, error) {
		s.calls.Add(1)
		s.tc.Store(&tc)
		s.in.Store(&in)
		return map[string]any{"echo": strings.Repeat(in.Message, max(in.Times, 1))}, nil
	})
}

func goodRequest() toolkit.ToolCallRequest {
	return toolkit.ToolCallRequest{
		RunID: "run-1", ExecutionID: "exec-1", CreatedAt: "2026-01-01T00:00:00Z",
		Tool:   toolkit.ToolReference{Name: "Echo", Toolkit: "Test", Version: "1.0.0"},
		Inputs: map[string]any{"message": "hi", "times": 2},
		Context: toolkit.ToolContext{
			Authorization: &toolkit.ToolAuthorizationContext{
				Token:    "user-access-token-123",
				UserInfo: map[string]any{"sub": "u-42", "email": "ada@example.com", "nested": map[string]any{"n": 1.5}},
			},
			Secrets:  []toolkit.ToolSecretItem{{Key: "api_key", Value: "s3cr3t-value"}},
			Metadata: []toolkit.ToolMetadataItem{{Key: "client_id", Value: "cid"}},
			UserID:   "ada@example.com",
		},
	}
}

func do(t *testing.T, h http.Handler, method, path, auth string, body any) *httptest.ResponseRecorder {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, r)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func invoke(t *testing.T, h http.Handler, req toolkit.ToolCallRequest) toolkit.ToolCallResponse {
	t.Helper()
	rec := do(t, h, http.MethodPost, "/worker/tools/invoke", "Bearer "+mint(t, testSecret, validClaims()), req)
	if rec.Code != http.StatusOK {
		t.Fatalf("invoke: status %d, body %s", rec.Code, rec.Body)
	}
	var resp toolkit.ToolCallResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestInvokeRunsTheToolWithTheContextExactly(t *testing.T) {
	var s seen
	w := newTestWorker(t, echoTool(&s))
	req := goodRequest()
	resp := invoke(t, w, req)

	if !resp.Success || resp.Output == nil || resp.Output.Error != nil {
		t.Fatalf("want success, got %+v", resp)
	}
	if resp.ExecutionID != "exec-1" {
		t.Errorf("execution_id = %q, want exec-1", resp.ExecutionID)
	}
	if _, err := time.Parse(time.RFC3339Nano, resp.FinishedAt); err != nil {
		t.Errorf("finished_at %q: %v", resp.FinishedAt, err)
	}
	if got := fmt.Sprint(resp.Output.Value); got != "map[echo:hihi]" {
		t.Errorf("value = %s, want map[echo:hihi]", got)
	}
	if n := s.calls.Load(); n != 1 {
		t.Fatalf("tool ran %d times, want 1", n)
	}
	tc := s.tc.Load()
	if tc.Authorization.Token != "user-access-token-123" {
		t.Errorf("token = %q", tc.Authorization.Token)
	}
	wantInfo, _ := json.Marshal(req.Context.Authorization.UserInfo)
	gotInfo, _ := json.Marshal(tc.Authorization.UserInfo)
	if !bytes.Equal(wantInfo, gotInfo) {
		t.Errorf("user_info = %s, want %s", gotInfo, wantInfo)
	}
	if tc.UserID != "ada@example.com" {
		t.Errorf("user id = %q", tc.UserID)
	}
	if in := s.in.Load(); *in != (echoIn{Message: "hi", Times: 2}) {
		t.Errorf("inputs = %+v", *in)
	}
	if v, ok := tc.Metadata("CLIENT_ID"); !ok || v != "cid" {
		t.Errorf("metadata client_id = %q, %v", v, ok)
	}
}

func TestSecretLookupIgnoresCase(t *testing.T) {
	tc := toolkit.NewContext(toolkit.ToolContext{Secrets: []toolkit.ToolSecretItem{{Key: "Api_Key", Value: "v"}}})
	for _, key := range []string{"Api_Key", "API_KEY", "api_key"} {
		t.Run("key "+key+" finds the secret", func(t *testing.T) {
			if v, ok := tc.Secret(key); !ok || v != "v" {
				t.Fatalf("Secret(%q) = %q, %v", key, v, ok)
			}
		})
	}
	t.Run("an absent key finds nothing", func(t *testing.T) {
		if v, ok := tc.Secret("other"); ok || v != "" {
			t.Fatalf("Secret(other) = %q, %v", v, ok)
		}
	})
}

func TestAuthenticationRefusesBadTokens(t *testing.T) {
	now := time.Now()
	noneToken := func(t *testing.T) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodNone, validClaims()).SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + s
	}
	hs := func(claims jwt.MapClaims) func(*testing.T) string {
		return func(t *testing.T) string { return "Bearer " + mint(t, testSecret, claims) }
	}
	with := func(k string, v any) jwt.MapClaims {
		c := validClaims()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	cases := []struct {
		name   string
		header func(*testing.T) string
	}{
		{"no header is refused", func(*testing.T) string { return "" }},
		{"a non-bearer scheme is refused", func(t *testing.T) string { return "Basic " + mint(t, testSecret, validClaims()) }},
		{"the raw secret instead of a JWT is refused", func(*testing.T) string { return "Bearer " + testSecret }},
		{"a token signed with another key is refused", func(t *testing.T) string {
			return "Bearer " + mint(t, "another-secret-that-is-32-bytes-long!!", validClaims())
		}},
		{"a token whose signature was altered is refused", func(t *testing.T) string {
			tok := mint(t, testSecret, validClaims())
			return "Bearer " + tok[:len(tok)-2] + "xx"
		}},
		{"an alg none token is refused", noneToken},
		{"an RS256 header on an HMAC signature is refused", func(t *testing.T) string {
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, validClaims())
			tok.Header["alg"] = "RS256"
			signing, err := tok.SigningString()
			if err != nil {
				t.Fatal(err)
			}
			sig, err := jwt.SigningMethodHS256.Sign(signing, []byte(testSecret))
			if err != nil {
				t.Fatal(err)
			}
			return "Bearer " + signing + "." + base64URL(sig)
		}},
		{"an expired token is refused", hs(with("exp", now.Add(-time.Minute).Unix()))},
		{"a token without exp is refused", hs(with("exp", nil))},
		{"a token living longer than five minutes is refused", hs(with("exp", now.Add(time.Hour).Unix()))},
		{"a token for another audience is refused", hs(with("aud", "engine"))},
		{"a token without audience is refused", hs(with("aud", nil))},
		{"a token of another version is refused", hs(with("ver", "2"))},
		{"a token without version is refused", hs(with("ver", nil))},
		{"a token valid only later is refused", hs(with("nbf", now.Add(time.Minute).Unix()))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var s seen
			w := newTestWorker(t, echoTool(&s))
			header := tc.header(t)
			for _, r := range []struct {
				method, path string
				body         any
			}{
				{http.MethodGet, "/worker/tools", nil},
				{http.MethodPost, "/worker/tools/invoke", goodRequest()},
			} {
				rec := do(t, w, r.method, r.path, header, r.body)
				if rec.Code != http.StatusUnauthorized {
					t.Fatalf("%s %s: status %d, want 401", r.method, r.path, rec.Code)
				}
				if got := rec.Header().Get("WWW-Authenticate"); got != "Bearer" {
					t.Errorf("WWW-Authenticate = %q", got)
				}
				var body struct{ Detail string }
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || !strings.HasPrefix(body.Detail, "Invalid token. Error: ") {
					t.Errorf("body %s does not carry the detail", rec.Body)
				}
				if strings.Contains(rec.Body.String(), testSecret) {
					t.Errorf("401 body leaks the secret")
				}
			}
			if n := s.calls.Load(); n != 0 {
				t.Fatalf("tool ran %d times", n)
			}
		})
	}
	t.Run("a token within the 30 s clock skew is accepted", func(t *testing.T) {
		var s seen
		w := newTestWorker(t, echoTool(&s))
		rec := do(t, w, http.MethodGet, "/worker/tools", "Bearer "+mint(t, testSecret, with("exp", now.Add(-10*time.Second).Unix())), nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
	})
	t.Run("an audience list holding worker is accepted", func(t *testing.T) {
		var s seen
		w := newTestWorker(t, echoTool(&s))
		rec := do(t, w, http.MethodGet, "/worker/tools", "Bearer "+mint(t, testSecret, with("aud", []string{"worker"})), nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
	})
}

func base64URL(b []byte) string {
	const enc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var sb strings.Builder
	for i := 0; i < len(b); i += 3 {
		var n uint32
		k := min(3, len(b)-i)
		for j := 0; j < 3; j++ {
			n <<= 8
			if j < k {
				n |= uint32(b[i+j])
			}
		}
		for j := 0; j < k+1; j++ {
			sb.WriteByte(enc[(n>>(18-6*j))&63])
		}
	}
	return sb.String()
}

func TestHealthNeedsNoAuthAndCountsTools(t *testing.T) {
	var s seen
	w := newTestWorker(t, echoTool(&s))
	rec := do(t, w, http.MethodGet, "/worker/health", "", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if got := strings.TrimSpace(rec.Body.String()); got != `{"status":"ok","tool_count":"1"}` {
		t.Fatalf("body %s", got)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}
}

type filterIn struct {
	State  string   `json:"state" enum:"open,closed"`
	Labels []string `json:"labels,omitempty"`
	Limit  *int     `json:"limit" desc:"max results"`
	Owner  struct {
		Login string `json:"login"`
	} `json:"owner,omitempty"`
	Ratio float64 `json:"ratio,omitempty"`
}

func TestInputsAreValidatedBeforeTheToolRuns(t *testing.T) {
	cases := []struct {
		name    string
		inputs  map[string]any
		wantMsg string // empty: success
	}{
		{"valid inputs run the tool", map[string]any{"state": "open", "limit": 3, "labels": []any{"a"}}, ""},
		{"an unknown parameter is refused", map[string]any{"state": "open", "colour": "red"}, `unknown parameter "colour"`},
		{"a missing required parameter is refused", map[string]any{"limit": 3}, `missing required parameter "state"`},
		{"a null required parameter is refused", map[string]any{"state": nil}, `missing required parameter "state"`},
		{"a value outside the enum is refused", map[string]any{"state": "merged"}, `parameter "state" must be one of open, closed`},
		{"a string for an integer is refused", map[string]any{"state": "open", "limit": "three"}, `parameter "limit" must be integer, got string`},
		{"a fraction for an integer is refused", map[string]any{"state": "open", "limit": 2.5}, `parameter "limit" must be integer, got number`},
		{"a number for a string array item is refused", map[string]any{"state": "open", "labels": []any{1}}, `parameter "labels" must be string, got number`},
		{"a string for an array is refused", map[string]any{"state": "open", "labels": "a"}, `parameter "labels" must be array of string, got string`},
		{"an unknown nested field is refused", map[string]any{"state": "open", "owner": map[string]any{"name": "x"}}, `unknown field "name"`},
		{"a wrong nested type is refused", map[string]any{"state": "open", "owner": map[string]any{"login": 5}}, `parameter "owner.login" must be string, got number`},
		{"a string for a number is refused", map[string]any{"state": "open", "ratio": "1"}, `parameter "ratio" must be number, got string`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ran atomic.Int32
			tool := toolkit.New(toolkit.Definition{Name: "Filter", Description: "Filters"},
				func(ctx context.Context, _ toolkit.Context, in filterIn) (any, error) {
					ran.Add(1)
					return in.State, nil
				})
			w := newTestWorker(t, tool)
			req := goodRequest()
			req.Tool.Name = "Filter"
			req.Inputs = tc.inputs
			resp := invoke(t, w, req)
			if tc.wantMsg == "" {
				if !resp.Success || ran.Load() != 1 {
					t.Fatalf("want success, got %+v (ran %d)", resp.Output, ran.Load())
				}
				return
			}
			if resp.Success || resp.Output.Error == nil {
				t.Fatalf("want failure, got %+v", resp.Output)
			}
			if ran.Load() != 0 {
				t.Fatalf("tool ran on bad input")
			}
			e := resp.Output.Error
			if e.Kind != toolkit.KindToolRuntimeBadInputValue || e.Message != tc.wantMsg {
				t.Fatalf("error = %s %q, want %s %q", e.Kind, e.Message, toolkit.KindToolRuntimeBadInputValue, tc.wantMsg)
			}
		})
	}
}

func TestLargeIntegersKeepTheirPrecision(t *testing.T) {
	type in struct {
		ID int64 `json:"id"`
	}
	var got atomic.Int64
	tool := toolkit.New(toolkit.Definition{Name: "Big", Description: "Takes a big id"},
		func(ctx context.Context, _ toolkit.Context, i in) (any, error) { got.Store(i.ID); return nil, nil })
	w := newTestWorker(t, tool)
	body := `{"run_id":"r","execution_id":"e","created_at":"x","tool":{"name":"Big","toolkit":"Test","version":"1.0.0"},` +
		`"inputs":{"id":9007199254740993},"context":{"authorization":null,"secrets":null,"metadata":null,"user_id":null}}`
	req := httptest.NewRequest(http.MethodPost, "/worker/tools/invoke", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+mint(t, testSecret, validClaims()))
	rec := httptest.NewRecorder()
	w.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || got.Load() != 9007199254740993 {
		t.Fatalf("status %d, id %d, body %s", rec.Code, got.Load(), rec.Body)
	}
}

func TestToolFailuresBecomeOutputErrors(t *testing.T) {
	cases := []struct {
		name      string
		fn        func() (any, error)
		wantKind  toolkit.ErrorKind
		wantRetry bool
		wantMsg   string
	}{
		{"a plain error is fatal", func() (any, error) { return nil, errors.New("boom") },
			toolkit.KindToolRuntimeFatal, false, "boom"},
		{"a panic is fatal and the worker survives", func() (any, error) { panic("user-access-token-123") },
			toolkit.KindToolRuntimeFatal, false, "tool Fail failed unexpectedly"},
		{"a retryable error asks for a retry", func() (any, error) {
			return nil, fmt.Errorf("wrapped: %w", &toolkit.RetryableError{Message: "try later", RetryAfter: 2 * time.Second})
		}, toolkit.KindToolRuntimeRetry, true, "try later"},
		{"an upstream auth error maps to the auth kind", func() (any, error) {
			return nil, &toolkit.UpstreamAuthError{Message: "token revoked"}
		}, toolkit.KindUpstreamRuntimeAuthError, false, "token revoked"},
		{"an upstream 429 maps to rate limit", func() (any, error) {
			return nil, &toolkit.UpstreamError{StatusCode: 429, Message: "slow down"}
		}, toolkit.KindUpstreamRuntimeRateLimit, true, "slow down"},
		{"an upstream 404 maps to not found", func() (any, error) {
			return nil, &toolkit.UpstreamError{StatusCode: 404, Message: "no such repo"}
		}, toolkit.KindUpstreamRuntimeNotFound, false, "no such repo"},
		{"an upstream 502 maps to server error", func() (any, error) {
			return nil, &toolkit.UpstreamError{StatusCode: 502, Message: "bad gateway"}
		}, toolkit.KindUpstreamRuntimeServerError, true, "bad gateway"},
		{"an explicit kind is kept", func() (any, error) {
			return nil, &toolkit.Error{Kind: toolkit.KindContextDenied, Message: "no"}
		}, toolkit.KindContextDenied, false, "no"},
		{"a context-required error maps to its kind", func() (any, error) {
			return nil, &toolkit.ContextRequiredError{Message: "need more"}
		}, toolkit.KindToolRuntimeContextRequired, false, "need more"},
		{"a value that is not JSON is a bad output", func() (any, error) { return func() {}, nil },
			toolkit.KindToolRuntimeBadOutputValue, false, "tool Fail returned a value that is not JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tool := toolkit.New(toolkit.Definition{Name: "Fail", Description: "Fails"},
				func(context.Context, toolkit.Context, struct{}) (any, error) { return tc.fn() })
			w := newTestWorker(t, tool)
			req := goodRequest()
			req.Tool.Name = "Fail"
			req.Inputs = nil
			resp := invoke(t, w, req)
			if resp.Success || resp.Output.Error == nil {
				t.Fatalf("want failure, got %+v", resp.Output)
			}
			e := resp.Output.Error
			if e.Kind != tc.wantKind || e.CanRetry != tc.wantRetry || e.Message != tc.wantMsg {
				t.Fatalf("error = %+v, want kind %s retry %v message %q", e, tc.wantKind, tc.wantRetry, tc.wantMsg)
			}
			if resp.Output.Value != nil {
				t.Errorf("a failed call carries a value: %v", resp.Output.Value)
			}
			// The worker still serves after the failure.
			if rec := do(t, w, http.MethodGet, "/worker/health", "", nil); rec.Code != http.StatusOK {
				t.Fatalf("health after failure: %d", rec.Code)
			}
		})
	}
	t.Run("retry_after_ms is set from RetryAfter", func(t *testing.T) {
		tool := toolkit.New(toolkit.Definition{Name: "Fail", Description: "Fails"},
			func(context.Context, toolkit.Context, struct{}) (any, error) {
				return nil, &toolkit.RetryableError{Message: "later", RetryAfter: 1500 * time.Millisecond}
			})
		req := goodRequest()
		req.Tool.Name, req.Inputs = "Fail", nil
		resp := invoke(t, newTestWorker(t, tool), req)
		if got := resp.Output.Error.RetryAfterMS; got == nil || *got != 1500 {
			t.Fatalf("retry_after_ms = %v", got)
		}
	})
}

func TestMissingRequirementsStopTheCall(t *testing.T) {
	cases := []struct {
		name    string
		edit    func(*toolkit.ToolCallRequest)
		wantMsg string
	}{
		{"a call without a token is refused", func(r *toolkit.ToolCallRequest) { r.Context.Authorization = nil },
			"tool Echo requires authorization but the call carried no token"},
		{"a call with an empty token is refused", func(r *toolkit.ToolCallRequest) { r.Context.Authorization.Token = "" },
			"tool Echo requires authorization but the call carried no token"},
		{"a call without the declared secret is refused", func(r *toolkit.ToolCallRequest) { r.Context.Secrets = nil },
			`tool Echo requires secret "API_KEY" but the call did not carry it`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var s seen
			w := newTestWorker(t, echoTool(&s))
			req := goodRequest()
			tc.edit(&req)
			resp := invoke(t, w, req)
			if resp.Success || resp.Output.Error.Kind != toolkit.KindToolRequirementsNotMet || resp.Output.Error.Message != tc.wantMsg {
				t.Fatalf("got %+v", resp.Output.Error)
			}
			if s.calls.Load() != 0 {
				t.Fatal("tool ran")
			}
		})
	}
}

func TestInvokeRefusesMalformedRequests(t *testing.T) {
	cases := []struct {
		name       string
		body       string
		wantStatus int
	}{
		{"a body that is not JSON is unprocessable", `{"run_id":`, http.StatusUnprocessableEntity},
		{"an unknown tool is not found", `{"tool":{"name":"Nope","toolkit":"Test"},"inputs":{}}`, http.StatusNotFound},
		{"another toolkit is not found", `{"tool":{"name":"Echo","toolkit":"Other"},"inputs":{}}`, http.StatusNotFound},
		{"another version is not found", `{"tool":{"name":"Echo","toolkit":"Test","version":"9.9.9"},"inputs":{}}`, http.StatusNotFound},
		{"an oversized body is too large", `{"inputs":{"message":"` + strings.Repeat("a", toolkit.DefaultMaxBodyBytes) + `"}}`, http.StatusRequestEntityTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var s seen
			w := newTestWorker(t, echoTool(&s))
			req := httptest.NewRequest(http.MethodPost, "/worker/tools/invoke", strings.NewReader(tc.body))
			req.Header.Set("Authorization", "Bearer "+mint(t, testSecret, validClaims()))
			rec := httptest.NewRecorder()
			w.ServeHTTP(rec, req)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d", rec.Code, tc.wantStatus)
			}
			if s.calls.Load() != 0 {
				t.Fatal("tool ran")
			}
		})
	}
	t.Run("tool names match case-insensitively", func(t *testing.T) {
		var s seen
		w := newTestWorker(t, echoTool(&s))
		req := goodRequest()
		req.Tool.Name, req.Tool.Toolkit = "echo", "test"
		if resp := invoke(t, w, req); !resp.Success {
			t.Fatalf("got %+v", resp.Output.Error)
		}
	})
}

func TestSecretsNeverAppearInPrintsOrLogs(t *testing.T) {
	req := goodRequest()
	tc := toolkit.NewContext(req.Context)
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	logger.Info("ctx", "request", req, "tool_context", req.Context, "context", tc, "auth", tc.Authorization, "secret", req.Context.Secrets[0])
	printed := fmt.Sprintf("%v %+v %v %+v %v", req, req, tc, tc, req.Context.Authorization) + logs.String()
	for _, secret := range []string{"user-access-token-123", "s3cr3t-value"} {
		if strings.Contains(printed, secret) {
			t.Errorf("%q leaked into %s", secret, printed)
		}
	}
	if !strings.Contains(printed, "ada@example.com") {
		t.Errorf("the user id should still be visible: %s", printed)
	}

	t.Run("the worker's own log lines carry no secret", func(t *testing.T) {
		var wlogs bytes.Buffer
		w, err := toolkit.NewWorker(toolkit.WorkerOptions{
			Toolkit: toolkit.ToolkitDefinition{Name: "Test", Version: "1.0.0"}, Secret: testSecret,
			Logger: slog.New(slog.NewJSONHandler(&wlogs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		})
		if err != nil {
			t.Fatal(err)
		}
		var s seen
		panicky := toolkit.New(toolkit.Definition{Name: "Panic", Description: "Panics"},
			func(context.Context, toolkit.Context, struct{}) (any, error) { panic("boom") })
		if err := w.Register(echoTool(&s), panicky); err != nil {
			t.Fatal(err)
		}
		invoke(t, w, goodRequest())
		r := goodRequest()
		r.Tool.Name, r.Inputs = "Panic", nil
		invoke(t, w, r)
		do(t, w, http.MethodGet, "/worker/tools", "Bearer "+mint(t, "wrong-secret-wrong-secret-wrong-secret", validClaims()), nil)
		for _, secret := range []string{"user-access-token-123", "s3cr3t-value", testSecret} {
			if strings.Contains(wlogs.String(), secret) {
				t.Errorf("%q leaked into worker logs", secret)
			}
		}
		if !strings.Contains(wlogs.String(), "tool panicked") {
			t.Errorf("the panic was not logged: %s", wlogs.String())
		}
	})
}

func TestRegisterRefusesBadDefinitions(t *testing.T) {
	noop := func(context.Context, toolkit.Context, struct{}) (any, error) { return nil, nil }
	type badField struct {
		C chan int `json:"c"`
	}
	type dupInner struct {
		A string `json:"a"`
	}
	type dup struct {
		A string `json:"a"`
		dupInner
	}
	type badEnum struct {
		N int `json:"n" enum:"1,2"`
	}
	cases := []struct {
		name string
		tool *toolkit.Tool
	}{
		{"an empty name is refused", toolkit.New(toolkit.Definition{Description: "d"}, noop)},
		{"a dotted name is refused", toolkit.New(toolkit.Definition{Name: "A.B", Description: "d"}, noop)},
		{"a missing description is refused", toolkit.New(toolkit.Definition{Name: "A"}, noop)},
		{"an auth requirement without a provider is refused", toolkit.New(toolkit.Definition{Name: "A", Description: "d", RequiresAuth: &toolkit.OAuth2{}}, noop)},
		{"an empty secret key is refused", toolkit.New(toolkit.Definition{Name: "A", Description: "d", Secrets: []string{""}}, noop)},
		{"a non-struct input is refused", toolkit.New(toolkit.Definition{Name: "A", Description: "d"},
			func(context.Context, toolkit.Context, string) (any, error) { return nil, nil })},
		{"a channel field is refused", toolkit.New(toolkit.Definition{Name: "A", Description: "d"},
			func(context.Context, toolkit.Context, badField) (any, error) { return nil, nil })},
		{"a parameter declared twice is refused", toolkit.New(toolkit.Definition{Name: "A", Description: "d"},
			func(context.Context, toolkit.Context, dup) (any, error) { return nil, nil })},
		{"an enum on an integer is refused", toolkit.New(toolkit.Definition{Name: "A", Description: "d"},
			func(context.Context, toolkit.Context, badEnum) (any, error) { return nil, nil })},
		{"a nil function is refused", toolkit.New[struct{}](toolkit.Definition{Name: "A", Description: "d"}, nil)},
		{"a nil tool is refused", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, err := toolkit.NewWorker(toolkit.WorkerOptions{Toolkit: toolkit.ToolkitDefinition{Name: "T"}, Secret: "s"})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Register(tc.tool); err == nil {
				t.Fatal("Register accepted a bad tool")
			}
			if n := len(w.Definitions()); n != 0 {
				t.Fatalf("%d tools registered", n)
			}
		})
	}
	t.Run("a name registered twice is refused", func(t *testing.T) {
		w, _ := toolkit.NewWorker(toolkit.WorkerOptions{Toolkit: toolkit.ToolkitDefinition{Name: "T"}, Secret: "s"})
		a := toolkit.New(toolkit.Definition{Name: "A", Description: "d"}, noop)
		b := toolkit.New(toolkit.Definition{Name: "a", Description: "d"}, noop)
		if err := w.Register(a, b); err == nil {
			t.Fatal("duplicate accepted")
		}
	})
}

func TestNewWorkerRefusesBadOptions(t *testing.T) {
	cases := []struct {
		name string
		opts toolkit.WorkerOptions
	}{
		{"a worker without a secret is refused", toolkit.WorkerOptions{Toolkit: toolkit.ToolkitDefinition{Name: "T"}}},
		{"a worker without a toolkit name is refused", toolkit.WorkerOptions{Secret: "s"}},
		{"a toolkit name with a dot is refused", toolkit.WorkerOptions{Secret: "s", Toolkit: toolkit.ToolkitDefinition{Name: "A.B"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := toolkit.NewWorker(tc.opts); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestListenAndServeShutsDownWhenTheContextEnds(t *testing.T) {
	var s seen
	w := newTestWorker(t, echoTool(&s))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Serve(ctx, ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/worker/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}
