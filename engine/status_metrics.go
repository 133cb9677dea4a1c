package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authengine/authengine/engine/store"
)

// connectionsGauge is authengine_connections{provider, status}: how many
// user connections each provider has in each status. It is computed when
// scraped, from one listing of the store (every connection is read once:
// O(connections), shared by every instance since they share the store),
// and the answer is kept for statusCountTTL so frequent scrapes, or
// several Prometheus servers, cost one listing per interval per instance.
// Labels are provider ids and statuses only, never users.
type connectionsGauge struct {
	desc *prometheus.Desc
	// count lists the store's connections; set by the engine (New), so a
	// reloaded engine takes over the same registered collector.
	count atomic.Pointer[func(ctx context.Context) (map[[2]string]int, error)]

	mu     sync.Mutex
	at     time.Time
	counts map[[2]string]int
}

// statusCountTTL is how long a count of connections by status is reused.
const statusCountTTL = 30 * time.Second

// statusCountTimeout bounds one count.
const statusCountTimeout = 5 * time.Second

func newConnectionsGauge() *connectionsGauge {
	return &connectionsGauge{desc: prometheus.NewDesc("authengine_connections",
		"User connections by provider and status (connected, needs_reauth, expired, revoked), counted from the store at most every 30 s.",
		[]string{"provider", "status"}, nil)}
}

// Describe implements prometheus.Collector.
func (g *connectionsGauge) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

// Collect implements prometheus.Collector. When the store does not answer
// the last count is reported again (none at all before the first count).
func (g *connectionsGauge) Collect(ch chan<- prometheus.Metric) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if count := g.count.Load(); count != nil && time.Since(g.at) >= statusCountTTL {
		ctx, cancel := context.WithTimeout(context.Background(), statusCountTimeout)
		counts, err := (*count)(ctx)
		cancel()
		if err == nil {
			g.counts, g.at = counts, time.Now()
		}
	}
	for k, n := range g.counts {
		ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
}

// countConnections counts user connections by provider and status; every
// status of every provider with a connection is present, zeros included.
func (e *Engine) countConnections(ctx context.Context) (map[[2]string]int, error) {
	list, _, err := e.store.ListConnections(ctx, store.ConnectionFilter{}, 0, 0)
	if err != nil {
		return nil, err
	}
	counts := map[[2]string]int{}
	for _, c := range list {
		if c.UserID == "" {
			continue // service tokens
		}
		if _, seen := counts[[2]string{c.ProviderID, string(store.ConnectionConnected)}]; !seen {
			for _, s := range store.ConnectionStatuses {
				counts[[2]string{c.ProviderID, string(s)}] = 0
			}
		}
		counts[[2]string{c.ProviderID, string(c.Status)}]++
	}
	return counts, nil
}
