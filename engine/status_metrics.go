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
// scraped. On a store that keeps counts (store.ConnectionCounter) each
// scrape reads them: exact, no record read. Otherwise the count comes from
// one listing of the store (every connection is read once: O(connections),
// shared by every instance since they share the store), and the answer is
// kept for statusCountTTL so frequent scrapes, or several Prometheus
// servers, cost one listing per interval per instance. Labels are provider
// ids and statuses only, never users.
type connectionsGauge struct {
	desc *prometheus.Desc
	// count counts the store's connections, and says whether the count is
	// the store's kept one (exact and cheap: not reused); set by the
	// engine (New), so a reloaded engine takes over the same registered
	// collector.
	count atomic.Pointer[func(ctx context.Context) (counts map[[2]string]int, kept bool, err error)]

	mu     sync.Mutex
	at     time.Time
	counts map[[2]string]int
}

// statusCountTTL is how long a count of connections by status made from a
// listing is reused.
const statusCountTTL = 30 * time.Second

// statusCountTimeout bounds one count.
const statusCountTimeout = 5 * time.Second

func newConnectionsGauge() *connectionsGauge {
	return &connectionsGauge{desc: prometheus.NewDesc("authengine_connections",
		"User connections by provider and status (connected, needs_reauth, expired, revoked), from the store's kept counts (a store without them: counted from a listing at most every 30 s).",
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
		counts, kept, err := (*count)(ctx)
		cancel()
		if err == nil {
			g.counts, g.at = counts, time.Now()
			if kept {
				g.at = time.Time{} // read again at the next scrape
			}
		}
	}
	for k, n := range g.counts {
		ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
}

// countConnections counts user connections by provider and status; every
// status of every provider with a user connection is present, zeros
// included. kept reports that the count is the store's kept one.
func (e *Engine) countConnections(ctx context.Context) (map[[2]string]int, bool, error) {
	all, kept, err := e.countAll(ctx)
	if err != nil {
		return nil, false, err
	}
	counts := map[[2]string]int{}
	for k, n := range all {
		if k.Service {
			continue
		}
		if _, seen := counts[[2]string{k.ProviderID, string(store.ConnectionConnected)}]; !seen {
			for _, s := range store.ConnectionStatuses {
				counts[[2]string{k.ProviderID, string(s)}] = 0
			}
		}
		counts[[2]string{k.ProviderID, string(k.Status)}] += n
	}
	return counts, kept, nil
}
