package engine

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authengine/authengine/engine/conncache"
	"github.com/authengine/authengine/engine/store"
)

// DefaultConnectionCacheEntries is ConnectionCacheOptions.MaxEntries when
// it is zero.
const DefaultConnectionCacheEntries = 10_000

// ConnectionCacheOptions configure the in-memory cache of opened
// connections (store.cache).
type ConnectionCacheOptions struct {
	// Disabled turns the cache off: every token request reads the store.
	Disabled bool
	// MaxEntries bounds the number of connections kept;
	// DefaultConnectionCacheEntries when 0.
	MaxEntries int
	// MaxAge, when positive, is how long a connection is served from
	// memory after it was read from the store, whatever the feed says.
	MaxAge time.Duration
}

// cachedConn is one opened connection: the record (without its sealed
// blob, which the cache never needs) and its token set, in memory only.
type cachedConn struct {
	conn store.Connection
	ts   tokenSet
}

// startConnCache creates the connection cache and watches the store's
// change feed. A store without a feed, or a disabled cache, leaves a cache
// that never answers.
func (e *Engine) startConnCache(opts ConnectionCacheOptions) {
	size := opts.MaxEntries
	if size == 0 {
		size = DefaultConnectionCacheEntries
	}
	if opts.Disabled {
		size = 0
	}
	// MaxAge runs on the engine's clock, as the refresh margin does.
	e.conns = conncache.New[cachedConn](conncache.Options{MaxEntries: size, MaxAge: opts.MaxAge, Now: e.now})
	feed, ok := e.store.(store.ConnectionFeed)
	if !ok || size <= 0 {
		return
	}
	m := e.metrics.connCache
	e.stopConnFeed = feed.WatchConnections(func(id string) {
		e.conns.Invalidate(id)
		m.invalidations.Inc()
	}, func(up bool) {
		e.conns.SetUp(up)
		m.flushes.Inc()
		if up {
			m.feedUp.Set(1)
			e.log.Info("connection cache on: the store's change feed is up")
		} else {
			m.feedUp.Set(0)
			e.log.Warn("connection cache off until the store's change feed is back: every token request reads the store")
		}
	})
}

// ConnectionCacheUp reports whether token requests are answered from
// memory: the cache is enabled and the store's change feed is up (the
// authengine_connection_cache_feed_up gauge).
func (e *Engine) ConnectionCacheUp() bool { return e.conns.Up() }

// connWritten drops connection id from this engine's cache at once, after
// a write of it (whether or not the write succeeded: a failed write may
// have landed). Other engines learn of it through the store's feed.
func (e *Engine) connWritten(id string) { e.conns.Invalidate(id) }

// cachedToken returns the opened connection id from the cache when it is
// there and its token can be handed out as is: connected, covering scopes
// and not inside the refresh margin. Anything else is read from the store.
func (e *Engine) cachedToken(id string, scopes []string) (cachedConn, bool) {
	c, ok := e.conns.Get(id)
	if !ok || !usable(c.conn) || !covers(c.conn.Scopes, scopes) || e.stale(c.conn) {
		e.metrics.connCache.misses.Inc()
		return cachedConn{}, false
	}
	e.metrics.connCache.hits.Inc()
	return c, true
}

// cacheToken keeps an opened connection read under ticket t.
func (e *Engine) cacheToken(t conncache.Ticket, conn store.Connection, ts tokenSet) {
	conn.Sealed = nil
	e.conns.Put(t, conn.ID, cachedConn{conn: conn, ts: ts})
}

// connCacheMetrics are the connection cache's collectors: counts and the
// feed's state, never a user or a connection id.
type connCacheMetrics struct {
	hits, misses, invalidations, flushes prometheus.Counter
	feedUp                               prometheus.Gauge
	vecs                                 []prometheus.Collector
}

func newConnCacheMetrics() *connCacheMetrics {
	lookups := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "authengine", Name: "connection_cache_lookups_total",
		Help: "Token requests of connected users, by whether the opened connection came from memory (hit) or the store (miss).",
	}, []string{"result"})
	drops := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "authengine", Name: "connection_cache_invalidations_total",
		Help: "Connection cache invalidations: one connection written (write), or the whole cache emptied because the store's change feed went down or came back (flush).",
	}, []string{"kind"})
	return &connCacheMetrics{
		hits: lookups.WithLabelValues("hit"), misses: lookups.WithLabelValues("miss"),
		invalidations: drops.WithLabelValues("write"), flushes: drops.WithLabelValues("flush"),
		feedUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "authengine", Name: "connection_cache_feed_up",
			Help: "1 when the store's connection change feed is up and the connection cache answers, 0 when it is down (every token request reads the store).",
		}),
		vecs: []prometheus.Collector{lookups, drops},
	}
}
