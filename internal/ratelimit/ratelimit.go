// Package ratelimit keeps token buckets per key (an API key, a client
// address, a user), in memory and bounded, for the engine's request limits.
// It owns counting only: callers decide the keys and what a refusal means.
// It imports nothing of the engine.
//
// Buckets live in one process: with N engine instances behind a load
// balancer a key gets up to N times the configured rate. That is the
// documented trade-off (docs/security.md): a limit that needs no store
// round trip and keeps working while the store is down.
package ratelimit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxKeys bounds how many keys a Limiter tracks.
const DefaultMaxKeys = 100_000

// Limiter is a set of token buckets, one per key, each refilling at the
// same rate up to the same burst. A nil *Limiter allows everything.
type Limiter struct {
	limit rate.Limit
	burst int
	max   int

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time
}

// New returns a Limiter refilling every bucket with n tokens per period, up
// to burst. n or burst of zero or less returns nil: no limit.
func New(n int, per time.Duration, burst int) *Limiter {
	if n <= 0 || burst <= 0 || per <= 0 {
		return nil
	}
	return &Limiter{
		limit:   rate.Limit(float64(n) / per.Seconds()),
		burst:   burst,
		max:     DefaultMaxKeys,
		buckets: make(map[string]*bucket),
	}
}

// Allow takes one token from key's bucket at now. When the bucket is empty
// it takes nothing and says how long until a token is there.
func (l *Limiter) Allow(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, found := l.buckets[key]
	if !found {
		if len(l.buckets) >= l.max {
			l.evict(now)
		}
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[key] = b
	}
	b.last = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// evict drops every bucket that has refilled completely (forgetting it
// changes nothing), and, when none has, the half used longest ago.
func (l *Limiter) evict(now time.Time) {
	for k, b := range l.buckets {
		if b.lim.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) < l.max {
		return
	}
	var oldest time.Time
	for _, b := range l.buckets {
		if oldest.IsZero() || b.last.Before(oldest) {
			oldest = b.last
		}
	}
	cut := oldest.Add(now.Sub(oldest) / 2)
	for k, b := range l.buckets {
		if !b.last.After(cut) {
			delete(l.buckets, k)
		}
	}
}

// Len reports how many keys are tracked.
func (l *Limiter) Len() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
