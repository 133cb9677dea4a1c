package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/authengine/authengine/internal/clock"
)

// lifecycle tracks every goroutine the engine starts, so Close can wait
// for them. work are refreshes in flight (they must land); background are
// loops that run until Close (the runtime-provider watcher, the retries
// of tokens the store did not take).
type lifecycle struct {
	mu         sync.Mutex
	closed     bool
	work       sync.WaitGroup
	background sync.WaitGroup
	// ctx ends when Close has let the work land; background loops stop then.
	ctx  context.Context
	stop context.CancelFunc
	// drainCtx ends when Drain is called: held status waits answer at
	// once.
	drainCtx context.Context
	drain    context.CancelFunc
}

func (l *lifecycle) init() {
	l.ctx, l.stop = context.WithCancel(context.Background())
	l.drainCtx, l.drain = context.WithCancel(context.Background())
}

// holdWork counts one piece of work that Close waits for (a held status
// wait) until release is called. After Close it counts nothing.
func (e *Engine) holdWork() (release func()) {
	e.life.mu.Lock()
	defer e.life.mu.Unlock()
	if e.life.closed {
		return func() {}
	}
	e.life.work.Add(1)
	return sync.OnceFunc(e.life.work.Done)
}

// spawnWork runs f on a goroutine Close waits for before it stops the
// background loops. After Close it runs f on the caller's goroutine.
func (e *Engine) spawnWork(f func()) {
	e.life.mu.Lock()
	if e.life.closed {
		e.life.mu.Unlock()
		f()
		return
	}
	e.life.work.Add(1)
	e.life.mu.Unlock()
	go func() {
		defer e.life.work.Done()
		f()
	}()
}

// spawnBackground runs f(ctx) on a goroutine Close waits for; ctx ends
// when Close stops the background loops. It reports false (and does not
// run f) once the engine is closed.
func (e *Engine) spawnBackground(f func(ctx context.Context)) bool {
	e.life.mu.Lock()
	defer e.life.mu.Unlock()
	if e.life.closed {
		return false
	}
	e.life.background.Add(1)
	go func() {
		defer e.life.background.Done()
		f(e.life.ctx)
	}()
	return true
}

// Drain makes every held status wait answer now with the flow's current
// state (pending), as a server shutting down does before it stops
// accepting requests. Later waits answer at once too. It is idempotent.
func (e *Engine) Drain() {
	e.life.drain()
}

// Close shuts the engine down: held waits answer (Drain), refreshes in
// flight land, refreshed tokens the store has not taken yet are written
// (retried until ctx ends), and then every goroutine the engine started is
// stopped and waited for. Call it before closing the store. It returns an
// error when ctx ended first; a token still unsaved then is named in the
// log by connection id (that connection will need re-authorization).
func (e *Engine) Close(ctx context.Context) error {
	e.Drain()
	e.life.mu.Lock()
	e.life.closed = true
	e.life.mu.Unlock()
	var errs []error
	if err := waitFor(ctx, &e.life.work); err != nil {
		errs = append(errs, fmt.Errorf("wait for refreshes in flight: %w", err))
	}
	if err := e.saveAllUnsaved(ctx); err != nil {
		errs = append(errs, err)
	}
	e.life.stop()
	if err := waitFor(ctx, &e.life.background); err != nil {
		errs = append(errs, fmt.Errorf("wait for background work: %w", err))
	}
	e.life.mu.Lock()
	stop := e.stopConnFeed
	e.stopConnFeed = nil
	e.life.mu.Unlock()
	if stop != nil {
		stop()
	}
	// No feed watched any more: nothing may be answered from memory.
	e.conns.SetUp(false)
	return errors.Join(errs...)
}

// saveAllUnsaved writes every kept token, retrying while the store fails,
// until they are all written or ctx ends.
func (e *Engine) saveAllUnsaved(ctx context.Context) error {
	b := newBackoff(100*time.Millisecond, time.Second)
	for {
		e.unsavedMu.Lock()
		ids := make([]string, 0, len(e.unsaved))
		for id := range e.unsaved {
			ids = append(ids, id)
		}
		e.unsavedMu.Unlock()
		if len(ids) == 0 {
			return nil
		}
		for _, id := range ids {
			if err := e.saveUnsaved(ctx, id); err != nil {
				e.log.Warn("store a kept refreshed token at shutdown; retrying", "connection_id", id, "err", err)
			}
		}
		if err := b.wait(ctx, e.clock); err != nil {
			e.unsavedMu.Lock()
			for id := range e.unsaved {
				e.log.Error("a refreshed token was not stored before shutdown; the connection will need re-authorization", "connection_id", id)
			}
			n := len(e.unsaved)
			e.unsavedMu.Unlock()
			if n == 0 {
				return nil
			}
			return fmt.Errorf("store %d refreshed token(s) kept in memory: %w", n, err)
		}
	}
}

// waitFor waits for wg or ctx, whichever ends first.
func waitFor(ctx context.Context, wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// backoff is the engine's one retry pause: it doubles from first up to
// max, and each pause is drawn from its upper half ("equal jitter"), so
// instances retrying against the same store do not retry in step.
type backoff struct{ next, max time.Duration }

func newBackoff(first, max time.Duration) *backoff { return &backoff{next: first, max: max} }

// pause returns the next pause and grows the following one.
func (b *backoff) pause() time.Duration {
	d := b.next
	b.next = min(2*b.next, b.max)
	return d/2 + rand.N(d/2+1)
}

// reset starts the pauses again from first.
func (b *backoff) reset(first time.Duration) { b.next = first }

// wait sleeps for the next pause on c, or returns ctx's error when it ends
// first.
func (b *backoff) wait(ctx context.Context, c clock.Clock) error {
	return clock.Sleep(ctx, c, b.pause())
}
