package toolkit

import (
	"errors"
	"sync"
	"time"
)

// DefaultReplayCacheSize bounds how many token ids a worker remembers.
// At one call per millisecond with 5-minute tokens it would need 300,000;
// a worker that hits the bound refuses new tokens until old ones expire
// (it fails closed rather than forgetting an id that could be replayed).
const DefaultReplayCacheSize = 100_000

var (
	errTokenReplayed   = errors.New("token already used (jti seen before)")
	errNoTokenID       = errors.New("token has no jti")
	errReplayCacheFull = errors.New("too many live tokens; try again shortly")
)

// replayCache remembers the jti of every token a worker accepted until
// the token expires, so a captured token cannot be sent again with another
// body. It is bounded: expired ids are dropped as new ones arrive.
type replayCache struct {
	mu   sync.Mutex
	max  int
	seen map[string]time.Time // jti → the token's exp (plus skew)
	// sweepAt is the earliest moment an entry can expire; no sweep before.
	sweepAt time.Time
}

func newReplayCache(max int) *replayCache {
	return &replayCache{max: max, seen: make(map[string]time.Time)}
}

// admit records jti until exp and fails when it was already recorded.
func (c *replayCache) admit(jti string, exp, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if until, ok := c.seen[jti]; ok && now.Before(until) {
		return errTokenReplayed
	}
	if len(c.seen) >= c.max && !now.Before(c.sweepAt) {
		c.sweep(now)
	}
	if len(c.seen) >= c.max {
		return errReplayCacheFull
	}
	c.seen[jti] = exp
	if c.sweepAt.IsZero() || exp.Before(c.sweepAt) {
		c.sweepAt = exp
	}
	return nil
}

// sweep drops expired ids and notes when the next one expires.
func (c *replayCache) sweep(now time.Time) {
	c.sweepAt = time.Time{}
	for id, until := range c.seen {
		if !now.Before(until) {
			delete(c.seen, id)
			continue
		}
		if c.sweepAt.IsZero() || until.Before(c.sweepAt) {
			c.sweepAt = until
		}
	}
}
