package engine

import (
	"context"
	"fmt"
	"sync"
)

// flightGroup runs one call per key at a time; callers that arrive while a
// call is running share its result. The call runs on a goroutine of its
// own (started through spawn, so the engine can wait for it on Close): it
// outlives any one caller, and every caller, the first included, stops
// waiting when its own context ends.
type flightGroup struct {
	mu    sync.Mutex
	calls map[string]*flightCall
}

type flightCall struct {
	done chan struct{}
	val  any
	err  error
}

// Do runs fn for key unless a call for key is running, in which case it
// waits for that call. It returns the call's result, or ctx's error when
// ctx ends first (the call goes on and its result is shared with the
// callers still waiting). spawn starts the call's goroutine.
func (g *flightGroup) Do(ctx context.Context, key string, spawn func(func()), fn func() (any, error)) (any, error) {
	g.mu.Lock()
	if g.calls == nil {
		g.calls = map[string]*flightCall{}
	}
	c, ok := g.calls[key]
	if !ok {
		c = &flightCall{done: make(chan struct{})}
		g.calls[key] = c
		spawn(func() { g.run(key, c, fn) })
	}
	g.mu.Unlock()
	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for the connection's refresh: %w", context.Cause(ctx))
	}
}

// run makes the call and hands its result to every waiter. A panic
// becomes the call's error instead of taking the process down from a
// goroutine no caller can recover.
func (g *flightGroup) run(key string, c *flightCall, fn func() (any, error)) {
	defer func() {
		if r := recover(); r != nil {
			c.val, c.err = nil, fmt.Errorf("refresh panicked: %v", r)
		}
		g.mu.Lock()
		delete(g.calls, key)
		g.mu.Unlock()
		close(c.done)
	}()
	c.val, c.err = fn()
}
