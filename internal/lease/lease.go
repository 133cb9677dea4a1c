// Package lease keeps a store lock held while its holder works: it renews
// the lease every third of its lifetime and cancels the work when a
// renewal fails, so another instance can take over.
package lease

import (
	"context"
	"sync"
	"time"

	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/internal/clock"
)

// Hold renews lock name (owned by token) every ttl/3 on clock c (nil: the
// system clock) until the returned stop is called or ctx ends. The returned context ends when ctx does, when
// stop is called, or when a renewal fails; lost is then called with the
// renewal's error (only if the work had not already ended). stop waits for
// the renewals to end; it does not release the lock.
func Hold(ctx context.Context, c clock.Clock, l store.Locker, name, token string, ttl time.Duration, lost func(error)) (context.Context, func()) {
	if c == nil {
		c = clock.Real
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer cancel()
		for {
			if clock.Sleep(ctx, c, ttl/3) != nil {
				return
			}
			if err := l.Renew(ctx, name, token, ttl); err != nil {
				if ctx.Err() == nil {
					lost(err)
				}
				return
			}
		}
	}()
	return ctx, func() { cancel(); wg.Wait() }
}
