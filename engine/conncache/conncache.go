// Package conncache keeps opened connection records in memory: a bounded
// map from connection id to a value (the engine keeps the record and its
// unsealed token set), emptied and bypassed whenever the store's change
// feed (store.ConnectionFeed) is down, so that a hit costs neither a store
// read nor an unseal and is never older than the last write any engine
// instance made to that connection.
//
// # Correctness
//
// An entry is dropped when the feed announces a write of its id
// (Invalidate), and the whole cache is emptied when the feed goes down and
// again when it comes back (SetUp): a feed that was down may have lost
// announcements. While it is down, Get misses and Put stores nothing.
//
// A read that began before an invalidation must not store what it read:
// the reader takes a Ticket before it reads the store, and Put stores only
// if neither the id's shard was invalidated nor the cache was emptied
// since the ticket was taken, and the feed was up when it was. Each shard
// counts its invalidations (a per-shard generation), and the cache counts
// its flushes (an epoch); both are checked under the shard's lock, the
// same lock Invalidate takes, so an invalidation either happens before the
// check (and Put refuses) or after the entry is stored (and drops it).
//
// # Bounds
//
// MaxEntries bounds the number of entries (spread over the shards); a full
// shard evicts one entry chosen at random (Go's map iteration order) to
// make room. MaxAge, when set, bounds how long an entry is served after
// it was stored, as a defence in depth should an announcement be lost in
// a way the feed did not notice.
package conncache

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// shardCount is the number of shards; a power of two.
const shardCount = 64

// Options configure a Cache.
type Options struct {
	// MaxEntries bounds the number of entries; 0 or less disables the
	// cache (every Get misses).
	MaxEntries int
	// MaxAge, when positive, is how long an entry may be served after it
	// was stored.
	MaxAge time.Duration
	// Now is the clock of MaxAge; time.Now when nil.
	Now func() time.Time
}

// Cache is a bounded map of opened connection records. Its zero value is
// not usable; create it with New. It is safe for concurrent use.
type Cache[V any] struct {
	shards   [shardCount]shard[V]
	seed     maphash.Seed
	perShard int
	maxAge   time.Duration
	now      func() time.Time
	// up is whether the feed is up: Get and Put work only then.
	up atomic.Bool
	// epoch counts flushes (SetUp, Flush).
	epoch atomic.Uint64

	hits, misses, invalidations, flushes atomic.Uint64
}

type shard[V any] struct {
	mu sync.RWMutex
	m  map[string]*entry[V]
	// gen counts the invalidations of the shard's ids.
	gen uint64
}

type entry[V any] struct {
	v  V
	at time.Time
}

// New returns an empty Cache whose feed is down: it answers nothing until
// SetUp(true).
func New[V any](opts Options) *Cache[V] {
	c := &Cache[V]{seed: maphash.MakeSeed(), maxAge: opts.MaxAge, now: opts.Now}
	if c.now == nil {
		c.now = time.Now
	}
	if opts.MaxEntries > 0 {
		c.perShard = max(1, (opts.MaxEntries+shardCount-1)/shardCount)
	}
	for i := range c.shards {
		c.shards[i].m = map[string]*entry[V]{}
	}
	return c
}

func (c *Cache[V]) shardOf(id string) *shard[V] {
	return &c.shards[maphash.String(c.seed, id)&(shardCount-1)]
}

// Get returns the entry of id when the feed is up and the entry is there
// (and younger than MaxAge).
func (c *Cache[V]) Get(id string) (V, bool) {
	var zero V
	if c.perShard == 0 || !c.up.Load() {
		c.misses.Add(1)
		return zero, false
	}
	s := c.shardOf(id)
	s.mu.RLock()
	e := s.m[id]
	s.mu.RUnlock()
	if e == nil || c.maxAge > 0 && c.now().Sub(e.at) >= c.maxAge {
		c.misses.Add(1)
		return zero, false
	}
	c.hits.Add(1)
	return e.v, true
}

// Ticket is what a reader holds while it reads the store: Put stores its
// result only if nothing invalidated the id since the ticket was taken.
type Ticket struct {
	gen, epoch uint64
	ok         bool
}

// Begin takes the ticket of a read of id about to start.
func (c *Cache[V]) Begin(id string) Ticket {
	if c.perShard == 0 {
		return Ticket{}
	}
	// The epoch before the up flag: SetUp(true) flushes (epoch+1) before
	// it raises the flag, so a ticket that saw the flag up has an epoch
	// no older than that flush.
	epoch := c.epoch.Load()
	up := c.up.Load()
	s := c.shardOf(id)
	s.mu.RLock()
	gen := s.gen
	s.mu.RUnlock()
	return Ticket{gen: gen, epoch: epoch, ok: up}
}

// Put stores v as id's entry if t is still current: the feed was up when t
// was taken and neither an invalidation of the id's shard nor a flush has
// happened since. It reports whether v was stored.
func (c *Cache[V]) Put(t Ticket, id string, v V) bool {
	if !t.ok {
		return false
	}
	s := c.shardOf(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != t.gen || c.epoch.Load() != t.epoch || !c.up.Load() {
		return false
	}
	if _, ok := s.m[id]; !ok && len(s.m) >= c.perShard {
		for k := range s.m { // a random entry
			delete(s.m, k)
			break
		}
	}
	s.m[id] = &entry[V]{v: v, at: c.now()}
	return true
}

// Invalidate drops id's entry, and makes every ticket of the id's shard
// taken before it stale.
func (c *Cache[V]) Invalidate(id string) {
	if c.perShard == 0 {
		return
	}
	c.invalidations.Add(1)
	s := c.shardOf(id)
	s.mu.Lock()
	s.gen++
	delete(s.m, id)
	s.mu.Unlock()
}

// SetUp records the feed's health. Both ways the cache is emptied: going
// down, because nothing it holds can be trusted to be invalidated; coming
// up, because announcements made while it was down were lost. Coming up,
// the flush is complete before Get answers again.
func (c *Cache[V]) SetUp(up bool) {
	if !up {
		c.up.Store(false)
	}
	c.Flush()
	if up {
		c.up.Store(true)
	}
}

// Flush empties the cache and makes every ticket taken before it stale.
func (c *Cache[V]) Flush() {
	c.flushes.Add(1)
	c.epoch.Add(1)
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		clear(s.m)
		s.mu.Unlock()
	}
}

// Up reports whether the cache answers (the feed is up and the cache is
// enabled).
func (c *Cache[V]) Up() bool { return c.perShard > 0 && c.up.Load() }

// Len returns the number of entries.
func (c *Cache[V]) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

// Stats are the cache's counters since New.
type Stats struct {
	Hits, Misses, Invalidations, Flushes uint64
}

// Stats returns the counters.
func (c *Cache[V]) Stats() Stats {
	return Stats{Hits: c.hits.Load(), Misses: c.misses.Load(), Invalidations: c.invalidations.Load(), Flushes: c.flushes.Load()}
}
