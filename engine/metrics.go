package engine

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authengine/authengine/authflow"
)

// Metrics are the engine's Prometheus collectors. Labels are provider ids,
// operations and outcomes, never users or anything secret.
type Metrics struct {
	FlowsStarted    *prometheus.CounterVec
	FlowsCompleted  *prometheus.CounterVec
	FlowsFailed     *prometheus.CounterVec
	Refreshes       *prometheus.CounterVec
	ProviderLatency *prometheus.HistogramVec
	// RefreshUnsaved is the time from a provider's refresh answer to the
	// new token set being durably stored: the window in which a crash of
	// the engine loses a rotated refresh token.
	RefreshUnsaved prometheus.Histogram
	Waiters        prometheus.Gauge
	// connections is authengine_connections (status_metrics.go).
	connections *connectionsGauge
	// connCache are the connection cache's collectors (conn_cache.go).
	connCache *connCacheMetrics
}

// NewMetrics creates the collectors and registers them with reg (nil: not
// registered, for tests and embedding).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		FlowsStarted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "authengine", Name: "flows_started_total",
			Help: "Authorization flows started, by provider.",
		}, []string{"provider"}),
		FlowsCompleted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "authengine", Name: "flows_completed_total",
			Help: "Authorization flows completed, by provider.",
		}, []string{"provider"}),
		FlowsFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "authengine", Name: "flows_failed_total",
			Help: "Authorization flows failed, by provider and reason kind.",
		}, []string{"provider", "reason"}),
		Refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "authengine", Name: "token_refreshes_total",
			Help: "Token refresh attempts, by provider and outcome.",
		}, []string{"provider", "outcome"}),
		ProviderLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "authengine", Name: "provider_request_duration_seconds",
			Help:    "Latency of requests to providers, by provider, operation and outcome.",
			Buckets: prometheus.DefBuckets,
		}, []string{"provider", "op", "outcome"}),
		RefreshUnsaved: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "authengine", Name: "refresh_unsaved_seconds",
			Help:    "Time from a provider's refresh answer to the new token being durably stored (a crash inside it loses a rotated refresh token).",
			Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		Waiters: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "authengine", Name: "status_waiters",
			Help: "Status requests currently waiting for a flow to end.",
		}),
	}
	m.connections = newConnectionsGauge()
	m.connCache = newConnCacheMetrics()
	if reg != nil {
		reg.MustRegister(m.connCache.vecs...)
		reg.MustRegister(m.connCache.feedUp)
		reg.MustRegister(m.FlowsStarted, m.FlowsCompleted, m.FlowsFailed, m.Refreshes, m.ProviderLatency, m.RefreshUnsaved, m.Waiters)
		reg.MustRegister(m.connections)
	}
	return m
}

func (m *Metrics) observe(provider, op string, start time.Time, err error) {
	outcome := "ok"
	switch {
	case err == nil:
	case authflow.IsRetryable(err):
		outcome = "retryable_error"
	default:
		outcome = "error"
	}
	m.ProviderLatency.WithLabelValues(provider, op, outcome).Observe(time.Since(start).Seconds())
}
