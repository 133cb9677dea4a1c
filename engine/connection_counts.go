package engine

import (
	"context"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authengine/authengine/engine/store"
)

// connectionCountTTL is how long ConnectionCounts reuses a count when this
// engine wrote no connection meanwhile; it bounds how long another
// instance's writes can go unseen.
const connectionCountTTL = 30 * time.Second

// connectionCounts keeps the last count of connections by provider and
// status. Every connection write of this engine bumps gen, which makes the
// kept count stale at once.
type connectionCounts struct {
	gen atomic.Uint64

	mu     sync.Mutex
	at     time.Time
	atGen  uint64
	counts map[string]map[string]int
}

// invalidate marks the kept count stale; called after every connection
// write (whether or not it succeeded: a failed write may have landed).
func (c *connectionCounts) invalidate() { c.gen.Add(1) }

// ConnectionCounts counts every connection (user connections and service
// tokens) by provider id and status, from one listing of the store. The
// count is reused for up to 30 s unless this engine wrote a connection
// since: this engine's own writes show at once, other instances' writes
// within 30 s. The result is the caller's own copy.
func (e *Engine) ConnectionCounts(ctx context.Context) (map[string]map[string]int, error) {
	c := &e.connCounts
	c.mu.Lock()
	defer c.mu.Unlock()
	gen := c.gen.Load()
	if c.counts == nil || c.atGen != gen || e.now().Sub(c.at) >= connectionCountTTL || e.now().Before(c.at) {
		at := e.now()
		list, _, err := e.store.ListConnections(ctx, store.ConnectionFilter{}, 0, 0)
		if err != nil {
			return nil, storeErr("count connections", err)
		}
		counts := map[string]map[string]int{}
		for _, conn := range list {
			m := counts[conn.ProviderID]
			if m == nil {
				m = map[string]int{}
				counts[conn.ProviderID] = m
			}
			m[string(conn.Status)]++
		}
		c.counts, c.at, c.atGen = counts, at, gen
	}
	out := make(map[string]map[string]int, len(c.counts))
	for id, m := range c.counts {
		out[id] = maps.Clone(m)
	}
	return out, nil
}
