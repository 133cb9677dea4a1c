package engine

import (
	"fmt"
	"sync"
)

// flightGroup runs one call per key at a time; callers that arrive while a
// call is running wait for it and share its result.
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
// waits for that call and returns its result.
func (g *flightGroup) Do(key string, fn func() (any, error)) (any, error) {
	g.mu.Lock()
	if g.calls == nil {
		g.calls = map[string]*flightCall{}
	}
	if c, ok := g.calls[key]; ok {
		g.mu.Unlock()
		<-c.done
		return c.val, c.err
	}
	c := &flightCall{done: make(chan struct{})}
	g.calls[key] = c
	g.mu.Unlock()

	defer func() {
		if r := recover(); r != nil {
			// Waiters get an error, not a nil value; the leader panics on.
			c.err = fmt.Errorf("refresh panicked: %v", r)
			g.finish(key, c)
			panic(r)
		}
		g.finish(key, c)
	}()
	c.val, c.err = fn()
	return c.val, c.err
}

func (g *flightGroup) finish(key string, c *flightCall) {
	g.mu.Lock()
	delete(g.calls, key)
	g.mu.Unlock()
	close(c.done)
}
