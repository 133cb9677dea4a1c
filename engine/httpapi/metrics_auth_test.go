package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/authengine/authengine/engine/httpapi"
)

// metricsOptions is an API whose metrics registry holds one known counter.
func metricsOptions(t *testing.T, h *harness) httpapi.Options {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "authengine_test_marker_total", Help: "marker"})
	reg.MustRegister(c)
	c.Inc()
	return httpapi.Options{Engine: h.engine, APIKeys: []string{apiKey}, AdminKeys: []string{adminKey},
		Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), MetricsPath: "/metrics"}
}

func getMetrics(handler http.Handler, auth string) (int, string, http.Header) {
	req := httptest.NewRequest("GET", "/metrics", nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String(), rec.Header()
}

// TestAttack_MetricsReadableWithoutAuthentication: /metrics answered anyone
// who reached the API listener (the public one) with the engine's
// providers, flow counts and failure reasons. With
// telemetry.metrics.bearer_token it answers only a scraper holding the
// token.
func TestAttack_MetricsReadableWithoutAuthentication(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	const token = "metrics-token-0123456789abcdef"
	opts := metricsOptions(t, h)
	opts.MetricsToken = token
	handler := httpapi.New(opts)
	refused := []struct{ name, auth string }{
		{"no credentials", ""},
		{"a wrong token", "Bearer metrics-token-0123456789abcdeX"},
		{"the token without the Bearer scheme", token},
		{"the token under another scheme", "Basic " + token},
		{"an API key", "Bearer " + apiKey},
		{"an admin key", "Bearer " + adminKey},
	}
	for _, c := range refused {
		t.Run(c.name+" is refused", func(t *testing.T) {
			code, body, hdr := getMetrics(handler, c.auth)
			var e apiErr
			_ = json.Unmarshal([]byte(body), &e)
			if code != 401 || e.Name != "unauthorized" || strings.Contains(body, "authengine_test_marker_total") {
				t.Fatalf("HTTP %d %s, want 401 unauthorized without metrics", code, body)
			}
			if !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q", hdr.Get("WWW-Authenticate"))
			}
			if strings.Contains(body, token) {
				t.Fatal("the error shows the token")
			}
		})
	}
	t.Run("the token is accepted", func(t *testing.T) {
		if code, body, _ := getMetrics(handler, "Bearer "+token); code != 200 || !strings.Contains(body, "authengine_test_marker_total 1") {
			t.Fatalf("HTTP %d %s", code, body)
		}
	})
	t.Run("without a token configured the metrics stay open, as before", func(t *testing.T) {
		if code, _, _ := getMetrics(httpapi.New(metricsOptions(t, h)), ""); code != 200 {
			t.Fatalf("HTTP %d", code)
		}
	})
}

// TestMetricsOnASeparateListener: with telemetry.metrics.listen the main
// server does not serve the metrics at all; the metrics server serves only
// them, with the token when one is set.
func TestMetricsOnASeparateListener(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	opts := metricsOptions(t, h)
	opts.SeparateMetrics = true
	opts.MetricsToken = "metrics-token-0123456789abcdef"
	if code, body, _ := getMetrics(httpapi.New(opts), "Bearer "+opts.MetricsToken); code != 404 || strings.Contains(body, "authengine_test_marker_total") {
		t.Fatalf("main server: HTTP %d %s, want 404", code, body)
	}
	metrics := httpapi.NewMetrics(opts)
	if code, body, _ := getMetrics(metrics, "Bearer "+opts.MetricsToken); code != 200 || !strings.Contains(body, "authengine_test_marker_total 1") {
		t.Fatalf("metrics server: HTTP %d %s", code, body)
	}
	if code, _, _ := getMetrics(metrics, ""); code != 401 {
		t.Fatalf("metrics server without the token: HTTP %d, want 401", code)
	}
	for _, path := range []string{"/v1/health", "/v1/auth/status?id=x", "/oauth/callback", "/v1/admin/auth_providers"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+adminKey)
		metrics.ServeHTTP(rec, req)
		if rec.Code != 404 {
			t.Errorf("metrics server answers %s with HTTP %d, want 404", path, rec.Code)
		}
	}
}
