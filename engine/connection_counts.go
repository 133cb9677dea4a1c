package engine

import (
	"context"
	"errors"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authengine/authengine/engine/store"
)

// connectionCountTTL is how long ConnectionCounts reuses a count made from
// a listing when this engine wrote no connection meanwhile; it bounds how
// long another instance's writes can go unseen on a store that keeps no
// counts.
const connectionCountTTL = 30 * time.Second

// connectionCounts keeps the last count made from a listing, for a store
// that keeps no counts itself. Every connection write of this engine bumps
// gen, which makes the kept count stale at once.
type connectionCounts struct {
	gen atomic.Uint64

	mu     sync.Mutex
	at     time.Time
	atGen  uint64
	counts store.ConnectionCounts
}

// invalidate marks the kept count stale; called after every connection
// write (whether or not it succeeded: a failed write may have landed).
func (c *connectionCounts) invalidate() { c.gen.Add(1) }

// ConnectionCounts counts every connection (user connections and service
// tokens apart) by provider and status. On a store that keeps counts
// (store.ConnectionCounter: bolt, and Redis but for Cluster) it asks the
// store: exact, whichever instance wrote, and without reading a record.
// Otherwise it counts from one listing of the store, reused for up to 30 s
// unless this engine wrote a connection since: this engine's own writes
// show at once, other instances' within 30 s. The result is the caller's
// own copy.
func (e *Engine) ConnectionCounts(ctx context.Context) (store.ConnectionCounts, error) {
	counts, _, err := e.countAll(ctx)
	return counts, err
}

// countAll is ConnectionCounts; kept reports that the counts are the
// store's own (not from a listing).
func (e *Engine) countAll(ctx context.Context) (counts store.ConnectionCounts, kept bool, err error) {
	if counter, ok := e.store.(store.ConnectionCounter); ok {
		counts, err := counter.ConnectionCounts(ctx)
		if err == nil {
			return counts, true, nil
		}
		if !errors.Is(err, store.ErrUnsupported) {
			return nil, false, storeErr("count connections", err)
		}
	}
	c := &e.connCounts
	c.mu.Lock()
	defer c.mu.Unlock()
	gen := c.gen.Load()
	if c.counts == nil || c.atGen != gen || e.now().Sub(c.at) >= connectionCountTTL || e.now().Before(c.at) {
		at := e.now()
		list, _, err := e.store.ListConnections(ctx, store.ConnectionFilter{}, 0, 0)
		if err != nil {
			return nil, false, storeErr("count connections", err)
		}
		counts := store.ConnectionCounts{}
		for _, conn := range list {
			counts.Add(store.CountKeyOf(conn), 1)
		}
		c.counts, c.at, c.atGen = counts, at, gen
	}
	return maps.Clone(c.counts), false, nil
}
