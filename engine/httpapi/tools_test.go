package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/authengine/authengine/engine"
	"github.com/authengine/authengine/engine/httpapi"
	"github.com/authengine/authengine/engine/tools"
	"github.com/authengine/authengine/engine/workerclient"
	"github.com/authengine/authengine/internal/enginetest"
	"github.com/authengine/authengine/toolkit"
)

const (
	toolsAPIKey       = "httpapi-tools-api-key-0123456789"
	toolsWorkerSecret = "httpapi-tools-worker-secret-32-bytes!!"
)

// toolsServer is the HTTP API with the tools routes mounted, on a bolt store
// with no providers, in front of a toolkit worker serving one tool without
// requirements; without withWorker the routes are mounted with no tools
// service, as when no workers are configured.
func toolsServer(t *testing.T, withWorker bool) *httptest.Server {
	t.Helper()
	eng, err := engine.New(engine.Options{
		Store: enginetest.BoltStore(t, nil), Sealer: enginetest.Sealer(t), PublicURL: "http://127.0.0.1:1",
	})
	if err != nil {
		t.Fatal(err)
	}
	var svc *tools.Service
	if withWorker {
		w, err := toolkit.NewWorker(toolkit.WorkerOptions{Toolkit: toolkit.ToolkitDefinition{Name: "Util", Version: "2.0.0"}, Secret: toolsWorkerSecret})
		if err != nil {
			t.Fatal(err)
		}
		type in struct {
			Text string `json:"text"`
		}
		if err := w.Register(toolkit.New(toolkit.Definition{Name: "Upper", Description: "Upper-cases text."},
			func(_ context.Context, _ toolkit.Context, in in) (any, error) { return strings.ToUpper(in.Text), nil })); err != nil {
			t.Fatal(err)
		}
		ws := httptest.NewServer(w)
		t.Cleanup(ws.Close)
		reg := workerclient.NewRegistry(workerclient.RegistryOptions{Workers: []*workerclient.Client{
			workerclient.New(workerclient.Options{ID: "util", URI: ws.URL, Secret: toolsWorkerSecret}),
		}})
		if err := reg.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		svc = tools.New(tools.Options{Engine: eng, Registry: reg})
	}
	e := httpapi.New(httpapi.Options{Engine: eng, APIKeys: []string{toolsAPIKey}, MaxBodyBytes: 4 << 10})
	httpapi.MountTools(e, svc, httpapi.NewKeys([]string{toolsAPIKey}, nil), httpapi.RateLimits{})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv
}

// call sends a raw request and returns the status and the decoded JSON body.
func call(t *testing.T, srv *httptest.Server, key, method, path, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = bytes.NewBufferString(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", key)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("%s %s: Content-Type %q, want JSON", method, path, resp.Header.Get("Content-Type"))
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: body %s is not a JSON object: %v", method, path, raw, err)
	}
	return resp.StatusCode, out
}

func TestToolsRoutes(t *testing.T) {
	srv := toolsServer(t, true)
	bearer := "Bearer " + toolsAPIKey
	big := `{"tool_name":"Util.Upper","input":{"text":"` + strings.Repeat("a", 8<<10) + `"}}`
	cases := []struct {
		name, key, method, path, body string
		wantStatus                    int
		wantName                      string // error name, or "" for success
	}{
		{"listing without an API key is 401", "", "GET", "/v1/tools", "", 401, "unauthorized"},
		{"executing with a wrong API key is 401", "Bearer nope", "POST", "/v1/tools/execute", `{"tool_name":"Util.Upper"}`, 401, "unauthorized"},
		{"a Bearer key lists tools", bearer, "GET", "/v1/tools", "", 200, ""},
		{"a bare key (Arcade's JS client) lists tools", toolsAPIKey, "GET", "/v1/tools", "", 200, ""},
		{"a path-escaped fully qualified name is found", toolsAPIKey, "GET", "/v1/tools/Util.Upper%402.0.0", "", 200, ""},
		{"a malformed execute body is 400 invalid_json", toolsAPIKey, "POST", "/v1/tools/execute", `{"tool_name":`, 400, "invalid_json"},
		{"an empty execute body is 400 invalid_json", toolsAPIKey, "POST", "/v1/tools/execute", "", 400, "invalid_json"},
		{"input that is not an object is 400 invalid_json", toolsAPIKey, "POST", "/v1/tools/execute", `{"tool_name":"Util.Upper","input":[1]}`, 400, "invalid_json"},
		{"two JSON values are 400 invalid_json", toolsAPIKey, "POST", "/v1/tools/authorize", `{"tool_name":"Util.Upper"}{}`, 400, "invalid_json"},
		{"an oversized body is 413", toolsAPIKey, "POST", "/v1/tools/execute", big, 413, "request_too_large"},
		{"authorize without tool_name is 400 invalid_request", toolsAPIKey, "POST", "/v1/tools/authorize", `{"user_id":"u"}`, 400, "invalid_request"},
		{"a negative offset is 400", toolsAPIKey, "GET", "/v1/tools?offset=-1", "", 400, "invalid_request"},
		{"a tool without requirements runs", toolsAPIKey, "POST", "/v1/tools/execute", `{"tool_name":"Util.Upper","user_id":"u","input":{"text":"hi"}}`, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, out := call(t, srv, tc.key, tc.method, tc.path, tc.body)
			if status != tc.wantStatus {
				t.Fatalf("HTTP %d %v, want %d", status, out, tc.wantStatus)
			}
			if tc.wantName != "" && out["name"] != tc.wantName {
				t.Errorf("name = %v, want %s (body %v)", out["name"], tc.wantName, out)
			}
			if tc.wantName != "" && out["message"] == "" {
				t.Errorf("error without a message: %v", out)
			}
		})
	}

	t.Run("an execute answer carries Arcade's fields", func(t *testing.T) {
		_, out := call(t, srv, toolsAPIKey, "POST", "/v1/tools/execute", `{"tool_name":"Util_Upper","user_id":"u","input":{"text":"hi"}}`)
		for _, k := range []string{"id", "execution_id", "execution_type", "status", "success", "duration", "finished_at", "output"} {
			if _, ok := out[k]; !ok {
				t.Errorf("missing %q in %v", k, out)
			}
		}
		o, _ := out["output"].(map[string]any)
		if o["value"] != "HI" || out["status"] != "success" || out["execution_type"] != "immediate" {
			t.Errorf("answer = %v", out)
		}
		if logs, ok := o["logs"].([]any); !ok || len(logs) != 0 {
			t.Errorf("output.logs = %v, want []", o["logs"])
		}
	})
}

func TestToolsRoutesWithoutWorkers(t *testing.T) {
	srv := toolsServer(t, false)
	cases := []struct {
		name, method, path, body string
		wantStatus               int
		wantName                 string
	}{
		{"the list is an empty page", "GET", "/v1/tools", "", 200, ""},
		{"getting a tool is 404 tool_not_found", "GET", "/v1/tools/Util.Upper", "", 404, "tool_not_found"},
		{"authorizing a tool is 404 tool_not_found", "POST", "/v1/tools/authorize", `{"tool_name":"Util.Upper","user_id":"u"}`, 404, "tool_not_found"},
		{"executing a tool is 404 tool_not_found", "POST", "/v1/tools/execute", `{"tool_name":"Util.Upper","user_id":"u"}`, 404, "tool_not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, out := call(t, srv, toolsAPIKey, tc.method, tc.path, tc.body)
			if status != tc.wantStatus {
				t.Fatalf("HTTP %d %v, want %d", status, out, tc.wantStatus)
			}
			if tc.wantName == "" {
				if out["total_count"] != float64(0) || len(out["items"].([]any)) != 0 {
					t.Errorf("page = %v, want empty", out)
				}
				return
			}
			if out["name"] != tc.wantName || !strings.Contains(out["message"].(string), "no tool workers are configured") {
				t.Errorf("error = %v, want %s saying no workers are configured", out, tc.wantName)
			}
		})
	}
}
