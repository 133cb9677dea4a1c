package tools_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authengine/authengine/toolkit"
)

// TestToolNeedingAUserTokenRunsOnceTheUserConnects drives a user-token tool
// through the HTTP API: 403 with a pending authorization for a new user,
// the browser flow, then a run that hands the worker exactly the user's
// current token and user info, and a refresh before the next run once the
// token expired.
func TestToolNeedingAUserTokenRunsOnceTheUserConnects(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	call := executeBody("ada", "Hooli.WhoAmI", nil)

	var pending authResp
	t.Run("a new user gets 403 authorization_required with a pending authorization and its URL", func(t *testing.T) {
		code, out := h.execute(call)
		if code != http.StatusForbidden || out.Name != "authorization_required" {
			t.Fatalf("HTTP %d name %q, want 403 authorization_required", code, out.Name)
		}
		if !strings.Contains(out.Message, "authorization required") || !strings.Contains(out.Message, "hooli") {
			t.Errorf("message %q should say authorization is required for hooli (clients match on it)", out.Message)
		}
		a := out.Authorization
		if a == nil || a.Status != "pending" || a.URL == "" || a.ID == "" {
			t.Fatalf("authorization = %+v, want pending with id and url", a)
		}
		if a.ProviderID != "hooli" || a.UserID != "ada" || !reflect.DeepEqual(a.Scopes, []string{"profile", "email"}) {
			t.Errorf("authorization = %+v, want provider hooli, user ada, the tool's scopes", a)
		}
		if !strings.HasPrefix(a.URL, h.idp.AuthorizeEndpoint()) {
			t.Errorf("url %q does not point at the provider", a.URL)
		}
		if n := len(h.rec.all()); n != 0 {
			t.Errorf("the worker was called %d times before the user connected", n)
		}
		pending = *a
	})
	if pending.URL == "" {
		t.FailNow()
	}

	h.connect(pending.URL)
	var status authResp
	h.do("GET", "/v1/auth/status?id="+pending.ID, nil, &status)
	current := status.Token()
	if status.Status != "completed" || !h.idp.ValidAccessToken(current) {
		t.Fatalf("status after the callback = %s with a token the provider did not issue", status.Status)
	}

	t.Run("after the browser flow the same call runs with exactly the user's token and user info", func(t *testing.T) {
		code, out := h.execute(call)
		if code != http.StatusOK || !out.Success || out.Status != "success" {
			t.Fatalf("HTTP %d success=%v status=%q error=%+v", code, out.Success, out.Status, out.Output.Error)
		}
		got := h.rec.last(t)
		if got.Token != current {
			t.Errorf("the worker received a different token than the user's current one")
		}
		if want := map[string]any{"sub": "u-42", "email": "ada@hooli.example"}; !reflect.DeepEqual(got.UserInfo, want) {
			t.Errorf("user_info = %v, want %v", got.UserInfo, want)
		}
		if got.UserID != "ada" {
			t.Errorf("user_id = %q, want ada", got.UserID)
		}
		if want := map[string]any{"user": "ada", "email": "ada@hooli.example"}; !reflect.DeepEqual(out.Output.Value, want) {
			t.Errorf("output.value = %v, want %v", out.Output.Value, want)
		}
		if out.ID == "" || out.ExecutionID == "" || out.ExecutionType != "immediate" || out.Duration == nil || out.FinishedAt == "" {
			t.Errorf("response lacks Arcade's fields: %+v", out)
		}
		if _, err := time.Parse(time.RFC3339Nano, out.FinishedAt); err != nil {
			t.Errorf("finished_at %q: %v", out.FinishedAt, err)
		}
	})

	t.Run("an expired token is refreshed once before the tool runs and the worker gets the new token", func(t *testing.T) {
		h.clock.Advance(2 * time.Hour)
		before := h.idp.Counts().Refreshes
		code, out := h.execute(call)
		if code != http.StatusOK || !out.Success {
			t.Fatalf("HTTP %d success=%v error=%+v", code, out.Success, out.Output.Error)
		}
		if got := h.idp.Counts().Refreshes - before; got != 1 {
			t.Errorf("the provider saw %d refreshes, want 1", got)
		}
		got := h.rec.last(t).Token
		if got == current || !h.idp.ValidAccessToken(got) {
			t.Errorf("the worker did not receive the refreshed token")
		}
		if h.idp.ValidAccessToken(current) {
			t.Errorf("the old token is still valid at the provider; the clock did not expire it")
		}
	})

	t.Run("no token appears in the engine's logs", func(t *testing.T) {
		logs := h.logs.String()
		for _, c := range h.rec.all() {
			if c.Token != "" && strings.Contains(logs, c.Token) {
				t.Fatal("an access token appears in the logs")
			}
		}
	})
}

// TestToolGetsIDTokenClaimsAsUserInfo: for a provider whose user info is
// the id_token's claims, the worker gets those claims as the user info,
// and the user-info endpoint is never asked.
func TestToolGetsIDTokenClaimsAsUserInfo(t *testing.T) {
	h := newHarness(t, harnessOptions{idTokenUserInfo: true})
	call := executeBody("ada", "Hooli.WhoAmI", nil)
	code, out := h.execute(call)
	if code != http.StatusForbidden || out.Authorization == nil || out.Authorization.URL == "" {
		t.Fatalf("HTTP %d %+v, want 403 with an authorization URL", code, out)
	}
	h.connect(out.Authorization.URL)
	if code, out = h.execute(call); code != http.StatusOK || !out.Success {
		t.Fatalf("after connecting: HTTP %d success=%v error=%+v", code, out.Success, out.Output.Error)
	}
	want := map[string]any{"sub": "u-42", "email": "ada@hooli.example", "iss": h.idp.Issuer()}
	if got := h.rec.last(t).UserInfo; !reflect.DeepEqual(got, want) {
		t.Errorf("user_info = %v, want the id_token's claims %v", got, want)
	}
	if n := h.idp.Counts().UserInfo; n != 0 {
		t.Errorf("the user-info endpoint was asked %d times", n)
	}
}

// TestClientCredentialsToolRunsWithoutABrowserStep shows a tool needing a
// service token runs at once, and 100 concurrent executions cost the
// provider exactly one token request.
func TestClientCredentialsToolRunsWithoutABrowserStep(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	const callers = 100
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			code, out := h.execute(executeBody(fmt.Sprintf("user-%d", i), "Hooli.ServiceStatus", map[string]any{"service": "mail"}))
			if code != http.StatusOK || !out.Success {
				t.Errorf("call %d: HTTP %d success=%v name=%q error=%+v", i, code, out.Success, out.Name, out.Output.Error)
			}
		})
	}
	wg.Wait()
	if got := h.idp.Counts().ClientCredentials; got != 1 {
		t.Fatalf("the provider saw %d client-credentials requests for %d concurrent executions, want exactly 1", got, callers)
	}
	calls := h.rec.all()
	if len(calls) != callers {
		t.Fatalf("the worker received %d calls, want %d", len(calls), callers)
	}
	for _, c := range calls {
		if c.Token != calls[0].Token || !h.idp.ValidAccessToken(c.Token) {
			t.Fatal("the calls did not all receive the one service token")
		}
	}
	if h.idp.Counts().Authorize != 0 {
		t.Error("a client-credentials tool sent someone to the authorize endpoint")
	}
}

// TestExecuteAnswers covers what apps get back for bad requests and tool
// failures.
func TestExecuteAnswers(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	cases := []struct {
		name     string
		body     map[string]any
		wantCode int
		wantName string // API error name, for non-200 answers
		wantKind string // output.error.kind, for failed runs
		wantMsg  string // substring of the error message
	}{
		{"an unknown tool is 404 tool_not_found", executeBody("ada", "Hooli.Nope", nil),
			404, "tool_not_found", "", ""},
		{"a known tool at another version is 404 tool_not_found",
			map[string]any{"tool_name": "Hooli.ServiceStatus", "tool_version": "9.9.9", "user_id": "ada"},
			404, "tool_not_found", "", ""},
		{"a missing tool_name is 400 invalid_request", map[string]any{"user_id": "ada"},
			400, "invalid_request", "", "tool_name"},
		{"a run_at in the future is refused, since tools run immediately",
			map[string]any{"tool_name": "Hooli.ServiceStatus", "user_id": "ada", "run_at": time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05")},
			400, "scheduling_not_supported", "", "run_at"},
		{"a malformed run_at is 400", map[string]any{"tool_name": "Hooli.ServiceStatus", "user_id": "ada", "run_at": "tomorrow"},
			400, "invalid_request", "", "run_at"},
		{"an input of the wrong type fails with TOOL_RUNTIME_BAD_INPUT_VALUE",
			executeBody("ada", "Hooli.ServiceStatus", map[string]any{"service": 5}),
			200, "", string(toolkit.KindToolRuntimeBadInputValue), "service"},
		{"an unknown input fails with TOOL_RUNTIME_BAD_INPUT_VALUE",
			executeBody("ada", "Hooli.ServiceStatus", map[string]any{"region": "eu"}),
			200, "", string(toolkit.KindToolRuntimeBadInputValue), "region"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out := h.execute(tc.body)
			if code != tc.wantCode {
				t.Fatalf("HTTP %d (%s: %s), want %d", code, out.Name, out.Message, tc.wantCode)
			}
			if tc.wantCode != 200 {
				if out.Name != tc.wantName || !strings.Contains(out.Message, tc.wantMsg) {
					t.Errorf("error %q %q, want name %q and a message mentioning %q", out.Name, out.Message, tc.wantName, tc.wantMsg)
				}
				return
			}
			if out.Success || out.Status != "failed" || out.Output.Error == nil {
				t.Fatalf("success=%v status=%q error=%+v, want a failed run", out.Success, out.Status, out.Output.Error)
			}
			if out.Output.Error.Kind != tc.wantKind || !strings.Contains(out.Output.Error.Message, tc.wantMsg) {
				t.Errorf("error = %+v, want kind %s and a message mentioning %q", out.Output.Error, tc.wantKind, tc.wantMsg)
			}
		})
	}

	t.Run("a tool's own failure is 200 with success false and the tool's message", func(t *testing.T) {
		auth := h.authorizeTool("ada", "Hooli.WhoAmI")
		h.connect(auth.URL)
		code, out := h.execute(executeBody("ada", "Hooli.WhoAmI", map[string]any{"fail": "the directory is on fire"}))
		if code != http.StatusOK || out.Success || out.Status != "failed" || out.Output.Error == nil {
			t.Fatalf("HTTP %d success=%v status=%q error=%+v", code, out.Success, out.Status, out.Output.Error)
		}
		if out.Output.Error.Message != "the directory is on fire" || out.Output.Error.Kind != string(toolkit.KindToolRuntimeFatal) {
			t.Errorf("error = %+v, want the tool's message as TOOL_RUNTIME_FATAL", out.Output.Error)
		}
		if out.Output.Value != nil {
			t.Errorf("a failed run carries a value: %v", out.Output.Value)
		}
	})

	t.Run("a run_at in the past runs now and is echoed", func(t *testing.T) {
		at := time.Now().Add(-time.Minute).UTC().Format("2006-01-02T15:04:05")
		code, out := h.execute(map[string]any{"tool_name": "Hooli.ServiceStatus", "user_id": "ada", "run_at": at})
		if code != http.StatusOK || !out.Success || out.RunAt != at {
			t.Fatalf("HTTP %d success=%v run_at=%q, want success with run_at %q", code, out.Success, out.RunAt, at)
		}
	})
}

func (h *harness) authorizeTool(user, tool string) authResp {
	h.t.Helper()
	var out authResp
	if resp := h.do("POST", "/v1/tools/authorize", map[string]any{"tool_name": tool, "user_id": user}, &out); resp.StatusCode != 200 {
		h.t.Fatalf("tools/authorize %s for %s: HTTP %d", tool, user, resp.StatusCode)
	}
	return out
}

// TestToolsAuthorize shows /v1/tools/authorize answers the tool's
// requirement.
func TestToolsAuthorize(t *testing.T) {
	h := newHarness(t, harnessOptions{tools: func(rec *recorder) []*toolkit.Tool {
		return append(hooliTools(rec), toolkit.New(toolkit.Definition{Name: "Echo", Description: "Echoes."},
			func(_ context.Context, tc toolkit.Context, in statusIn) (any, error) {
				rec.record("Echo", tc)
				return in.Service, nil
			}))
	}})

	t.Run("a user-token tool for a new user answers pending with the URL and the tool's scopes", func(t *testing.T) {
		a := h.authorizeTool("bo", "Hooli.WhoAmI")
		if a.Status != "pending" || a.URL == "" || a.ProviderID != "hooli" || !reflect.DeepEqual(a.Scopes, []string{"profile", "email"}) {
			t.Fatalf("got %+v", a)
		}
		h.connect(a.URL)
		again := h.authorizeTool("bo", "Hooli.WhoAmI")
		if again.Status != "completed" || !h.idp.ValidAccessToken(again.Token()) {
			t.Fatalf("after connecting: %s, want completed with a valid token", again.Status)
		}
	})
	t.Run("a client-credentials tool answers completed with the service token", func(t *testing.T) {
		a := h.authorizeTool("bo", "Hooli.ServiceStatus")
		if a.Status != "completed" || !h.idp.ValidAccessToken(a.Token()) || a.ProviderID != "hooli-service" {
			t.Fatalf("got %+v", a)
		}
	})
	t.Run("a tool without a requirement answers completed with no token", func(t *testing.T) {
		a := h.authorizeTool("bo", "Hooli.Echo")
		if a.Status != "completed" || a.Token() != "" {
			t.Fatalf("got %+v", a)
		}
	})
	t.Run("an unknown tool is 404 tool_not_found", func(t *testing.T) {
		var e apiErr
		resp := h.do("POST", "/v1/tools/authorize", map[string]any{"tool_name": "Nope", "user_id": "bo"}, &e)
		if resp.StatusCode != 404 || e.Name != "tool_not_found" {
			t.Fatalf("HTTP %d %+v", resp.StatusCode, e)
		}
	})
	t.Run("a tool without a requirement runs with no authorization in its context", func(t *testing.T) {
		code, out := h.execute(executeBody("", "Hooli.Echo", map[string]any{"service": "hi"}))
		if code != 200 || !out.Success || out.Output.Value != "hi" {
			t.Fatalf("HTTP %d %+v", code, out)
		}
		if got := h.rec.last(t); got.Tool != "Echo" || got.Token != "" || len(got.UserInfo) != 0 {
			t.Fatalf("the tool received %+v, want no token and no user info", got)
		}
	})
}

// TestListTools shows GET /v1/tools lists both tools with their
// requirements and pages them.
func TestListTools(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	type tool struct {
		Name               string `json:"name"`
		QualifiedName      string `json:"qualified_name"`
		FullyQualifiedName string `json:"fully_qualified_name"`
		Toolkit            struct {
			Name, Version string
		} `json:"toolkit"`
		Requirements struct {
			Met           bool `json:"met"`
			Authorization *struct {
				ID           string `json:"id"`
				ProviderID   string `json:"provider_id"`
				ProviderType string `json:"provider_type"`
				OAuth2       struct {
					Scopes []string `json:"scopes"`
				} `json:"oauth2"`
			} `json:"authorization"`
		} `json:"requirements"`
	}
	type page struct {
		Items      []tool `json:"items"`
		Limit      int    `json:"limit"`
		Offset     int    `json:"offset"`
		PageCount  int    `json:"page_count"`
		TotalCount int    `json:"total_count"`
	}

	t.Run("both tools are listed with their requirements", func(t *testing.T) {
		var p page
		if resp := h.do("GET", "/v1/tools", nil, &p); resp.StatusCode != 200 {
			t.Fatalf("HTTP %d", resp.StatusCode)
		}
		if p.TotalCount != 2 || p.PageCount != 2 || len(p.Items) != 2 || p.Limit != 25 || p.Offset != 0 {
			t.Fatalf("page = %+v", p)
		}
		who, status := p.Items[0], p.Items[1]
		if who.QualifiedName != "Hooli.WhoAmI" || who.FullyQualifiedName != "Hooli.WhoAmI@1.0.0" || who.Toolkit.Name != "Hooli" {
			t.Errorf("first tool = %+v", who)
		}
		if a := who.Requirements.Authorization; a == nil || a.ID != "hooli" || a.ProviderType != "oauth2" ||
			!reflect.DeepEqual(a.OAuth2.Scopes, []string{"profile", "email"}) || who.Requirements.Met {
			t.Errorf("WhoAmI requirements = %+v", who.Requirements)
		}
		if a := status.Requirements.Authorization; status.Name != "ServiceStatus" || a == nil || a.ProviderID != "hooli-service" ||
			!reflect.DeepEqual(a.OAuth2.Scopes, []string{"status:read"}) {
			t.Errorf("ServiceStatus = %+v", status)
		}
	})
	cases := []struct {
		name, query     string
		wantNames       []string
		wantTotal, code int
	}{
		{"a page of one holds the first tool", "?limit=1", []string{"WhoAmI"}, 2, 200},
		{"an offset skips tools", "?limit=1&offset=1", []string{"ServiceStatus"}, 2, 200},
		{"an offset past the end is an empty page", "?offset=5", []string{}, 2, 200},
		{"the toolkit filter ignores case", "?toolkit=hooli", []string{"WhoAmI", "ServiceStatus"}, 2, 200},
		{"another toolkit has no tools", "?toolkit=Other", []string{}, 0, 200},
		{"a limit over 100 is refused", "?limit=1000", nil, 0, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var raw json.RawMessage
			resp := h.do("GET", "/v1/tools"+tc.query, nil, &raw)
			if resp.StatusCode != tc.code {
				t.Fatalf("HTTP %d, want %d", resp.StatusCode, tc.code)
			}
			if tc.code != 200 {
				return
			}
			var p page
			if err := json.Unmarshal(raw, &p); err != nil {
				t.Fatal(err)
			}
			names := []string{}
			for _, it := range p.Items {
				names = append(names, it.Name)
			}
			if !reflect.DeepEqual(names, tc.wantNames) || p.TotalCount != tc.wantTotal || p.PageCount != len(names) {
				t.Errorf("names %v total %d page_count %d, want %v total %d", names, p.TotalCount, p.PageCount, tc.wantNames, tc.wantTotal)
			}
		})
	}
	t.Run("GET /v1/tools/:name accepts the qualified, fully qualified and model forms", func(t *testing.T) {
		for _, name := range []string{"Hooli.WhoAmI", "Hooli.WhoAmI@1.0.0", "Hooli_WhoAmI", "hooli.whoami"} {
			var got tool
			if resp := h.do("GET", "/v1/tools/"+name, nil, &got); resp.StatusCode != 200 || got.FullyQualifiedName != "Hooli.WhoAmI@1.0.0" {
				t.Errorf("GET %s: HTTP %d %+v", name, resp.StatusCode, got)
			}
		}
		var e apiErr
		if resp := h.do("GET", "/v1/tools/Hooli.Nope", nil, &e); resp.StatusCode != 404 || e.Name != "tool_not_found" {
			t.Errorf("unknown tool: HTTP %d %+v", resp.StatusCode, e)
		}
	})
}
