package httpapi_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine"
	"github.com/authengine/authengine/engine/httpapi"
	"github.com/authengine/authengine/internal/providertest"
)

// TestMetrics shows flows and refreshes are counted by provider, and that
// no user id or token reaches a metric.
func TestMetrics(t *testing.T) {
	var idp *providertest.Provider
	h := newHarness(t, harnessOptions{providers: func(h *harness, redirect string) []config.Provider {
		idp = providertest.New(t, providertest.Options{RedirectURI: redirect, ClientAuth: providertest.ClientSecretBasic})
		return []config.Provider{idp.Config("hooli")}
	}})
	// Rebuild the HTTP layer with a registry around the harness's engine.
	reg := prometheus.NewRegistry()
	m := engine.NewMetrics(reg)
	eng, err := engine.New(engine.Options{Store: h.store, Sealer: mustSealer(t, h), PublicURL: h.srv.URL, Metrics: m,
		Providers: h.engine.Providers(), Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	var handler http.Handler = httpapi.New(httpapi.Options{Engine: eng, APIKeys: []string{apiKey}, AdminKeys: []string{adminKey},
		Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), MetricsPath: "/metrics"})
	h.handler.Store(&handler)

	done := h.connect(idp, "user-with-a-secret-name", "hooli")
	start := h.authorize("someone-else", "hooli")
	cb, _ := idp.Deny(t.Context(), start.URL)
	h.browse(cb)

	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	text := string(body)
	for _, want := range []string{
		`authengine_flows_started_total{provider="hooli"} 2`,
		`authengine_flows_completed_total{provider="hooli"} 1`,
		`authengine_flows_failed_total{provider="hooli",reason="access_denied"} 1`,
		`authengine_provider_request_duration_seconds_count{op="token",outcome="ok",provider="hooli"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, secret := range []string{"user-with-a-secret-name", "someone-else", done.Token(), idp.ClientSecret()} {
		if strings.Contains(text, secret) {
			t.Errorf("metrics hold a user id or secret")
		}
	}
}
