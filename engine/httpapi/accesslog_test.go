package httpapi_test

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/authengine/authengine/engine"
	"github.com/authengine/authengine/engine/httpapi"
	"github.com/authengine/authengine/internal/enginetest"
)

// accessServer is the API on an engine without providers, logging to
// logs and counting requests in reg.
func accessServer(t *testing.T, noAccessLog bool) (*httptest.Server, *enginetest.LogSink, *prometheus.Registry) {
	t.Helper()
	eng, err := engine.New(engine.Options{Store: enginetest.BoltStore(t, nil), Sealer: enginetest.Sealer(t), PublicURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	logs := &enginetest.LogSink{}
	reg := prometheus.NewRegistry()
	e := httpapi.New(httpapi.Options{Engine: eng, APIKeys: []string{apiKey}, AdminKeys: []string{adminKey},
		Logger:      slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		NoAccessLog: noAccessLog, RequestMetrics: httpapi.NewRequestMetrics(reg)})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv, logs, reg
}

type accessLine struct {
	Level     string `json:"level"`
	Msg       string `json:"msg"`
	Method    string `json:"method"`
	Route     string `json:"route"`
	Status    int    `json:"status"`
	Duration  *int64 `json:"duration"`
	RequestID string `json:"request_id"`
}

func accessLines(t *testing.T, logs *enginetest.LogSink) []accessLine {
	t.Helper()
	var out []accessLine
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var l accessLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("log line is not JSON: %s", sc.Text())
		}
		if l.Msg == "http request" {
			out = append(out, l)
		}
	}
	return out
}

func getWithID(t *testing.T, url, requestID, key string) *http.Response {
	t.Helper()
	method := "GET"
	if strings.Contains(url, "/user_connections/") {
		method = "DELETE"
	}
	req, _ := http.NewRequest(method, url, nil)
	if requestID != "" {
		req.Header.Set(httpapi.HeaderRequestID, requestID)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestAccessLog: one info line per request with the method, the route
// pattern (never the raw path or the callback's query), the status, the
// duration and the request id the answer's X-Request-Id carries; a sane
// incoming id is kept, any other replaced.
func TestAccessLog(t *testing.T) {
	srv, logs, reg := accessServer(t, false)
	const code, state = "code-SECRET-4f9a", "state-SECRET-77c1"
	cases := []struct {
		name, path, sentID, key string
		route                   string
		status                  int
		keepsID                 bool
	}{
		{"a probe is logged by its route", "/v1/health/live", "", "", "/v1/health/live", 200, false},
		{"a sane incoming request id is kept", "/v1/health/live", "trace-0af7651916cd43dd8448eb211c80319c", "", "/v1/health/live", 200, true},
		{"an id with a newline or quote is replaced", "/v1/health/live", "x\" injected=1", "", "/v1/health/live", 200, false},
		{"an id longer than 128 characters is replaced", "/v1/health/live", strings.Repeat("a", 129), "", "/v1/health/live", 200, false},
		{"the callback is logged without its query", "/oauth/callback?code=" + code + "&state=" + state, "", "", "/oauth/callback", 400, false},
		{"a path with an id is logged by its pattern", "/v1/admin/user_connections/conn-SECRET-id-123", "", adminKey, "/v1/admin/user_connections/:id", 404, false},
		{"an unknown path is logged as unmatched", "/no/such/path/SECRET", "", "", "unmatched", 404, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(accessLines(t, logs))
			resp := getWithID(t, srv.URL+tc.path, tc.sentID, tc.key)
			id := resp.Header.Get(httpapi.HeaderRequestID)
			if !regexp.MustCompile(`^[A-Za-z0-9._:/+=-]{1,128}$`).MatchString(id) {
				t.Fatalf("X-Request-Id %q", id)
			}
			if tc.keepsID != (id == tc.sentID) {
				t.Errorf("sent id %q, answered %q", tc.sentID, id)
			}
			lines := accessLines(t, logs)
			if len(lines) != before+1 {
				t.Fatalf("want one access line for the request, got %d", len(lines)-before)
			}
			l := lines[len(lines)-1]
			if l.Level != "INFO" || l.Method != resp.Request.Method || l.Route != tc.route || l.Status != resp.StatusCode || l.Duration == nil || l.RequestID != id {
				t.Errorf("access line %+v, want INFO %s %d with the request id %s", l, tc.route, resp.StatusCode, id)
			}
			if resp.StatusCode != tc.status {
				t.Errorf("HTTP %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
	if strings.Contains(logs.String(), "SECRET") || strings.Contains(logs.String(), "injected") {
		t.Errorf("a raw path, query or bad request id reached the log:\n%s", logs.String())
	}
	// The metrics count by the same patterns: no id, no raw path.
	if n := testutil.ToFloat64(mustCounter(t, reg, "/v1/health/live", "GET", "200")); n != 4 {
		t.Errorf("authengine_http_requests_total for /v1/health/live = %v, want 4", n)
	}
	if n := testutil.ToFloat64(mustCounter(t, reg, "/v1/admin/user_connections/:id", "DELETE", "404")); n != 1 {
		t.Errorf("the request on a connection id is not counted by its pattern (%v)", n)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if strings.Contains(lp.GetValue(), "SECRET") {
					t.Errorf("%s has a label holding a raw path: %s", mf.GetName(), lp.GetValue())
				}
			}
		}
		if mf.GetName() == "authengine_http_request_duration_seconds" && len(mf.GetMetric()) == 0 {
			t.Error("no request latency observed")
		}
	}
}

func mustCounter(t *testing.T, reg *prometheus.Registry, route, method, status string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "found"})
	for _, mf := range mfs {
		if mf.GetName() != "authengine_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			if got["route"] == route && got["method"] == method && got["status"] == status {
				c.Add(m.GetCounter().GetValue())
			}
		}
	}
	return c
}

// TestAccessLogOff: api.access_log: false writes no access line, and the
// request id is answered anyway.
func TestAccessLogOff(t *testing.T) {
	srv, logs, _ := accessServer(t, true)
	resp := getWithID(t, srv.URL+"/v1/health/live", "", "")
	if resp.Header.Get(httpapi.HeaderRequestID) == "" {
		t.Error("no X-Request-Id with the access log off")
	}
	if n := len(accessLines(t, logs)); n != 0 {
		t.Errorf("%d access lines with the access log off", n)
	}
}
