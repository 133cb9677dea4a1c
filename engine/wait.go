package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/internal/clock"
)

// Status returns a flow's authorization. With wait > 0 it holds until the
// flow leaves pending or wait passes (then it answers pending). A wait on a
// flow that had already failed is a *FlowFailedError, so clients that loop
// until completed stop.
func (e *Engine) Status(ctx context.Context, id string, wait time.Duration) (Authorization, error) {
	a, w, err := e.StatusWait(ctx, id, wait)
	if w == nil {
		return a, err
	}
	defer w.Close()
	return w.Wait(ctx)
}

// StatusWait is Status without the hold: when the answer has to wait for
// the flow to leave pending, it returns a *Wait instead of an answer, and
// the caller holds it (Wait, or Go, each of which closes it once it has
// answered), or closes it unheld. The wait's subscription lives until
// Close, not until ctx ends.
func (e *Engine) StatusWait(ctx context.Context, id string, wait time.Duration) (Authorization, *Wait, error) {
	if id == "" {
		return Authorization{}, nil, badRequest("invalid_request", "id is required")
	}
	var w *Wait
	cancel := func() {}
	if wait > 0 {
		// Subscribe before the read, so a change made between the two
		// is not missed: its signal is kept until the wait is held.
		w = &Wait{e: e, id: id}
		cancel = e.store.Subscribe(ctx, id, func() { w.post(waitSignal) })
	}
	f, err := e.store.GetFlow(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		cancel()
		a, err := e.connectionStatus(ctx, id)
		return a, nil, err
	case err != nil:
		cancel()
		return Authorization{}, nil, storeErr("read flow", err)
	case wait > 0 && f.Status == store.FlowFailed:
		cancel()
		return Authorization{}, nil, &FlowFailedError{FlowID: f.ID, Reason: f.Error}
	case wait > 0 && isOpen(f.Status):
		e.metrics.Waiters.Inc()
		w.f, w.unsubscribe = f, cancel
		w.timer = e.clock.AfterFunc(wait, func() { w.post(waitTimer) })
		return Authorization{}, w, nil
	}
	cancel()
	a, err := e.flowAuthorization(ctx, f)
	return a, nil, err
}

// Wait is a status wait held until its flow leaves pending, its time
// passes or the engine drains (StatusWait).
//
// A held wait has no goroutine. What can end it (the store's signal that
// the flow may have changed, its timer, a retry's timer, the engine's
// drain, its context) calls post, which records the event and, unless a
// wake-up is already running, starts a short-lived goroutine (run) that
// handles the recorded events one at a time and ends. So 10,000 held
// waits cost 10,000 small structs and their registrations, and no stacks.
type Wait struct {
	e           *Engine
	id          string
	unsubscribe func()
	timer       *clock.Timer
	// f is the flow as last read. Only the running wake-up reads or
	// writes it (one at a time, ordered by mu).
	f store.Flow
	// pauses, while the store fails to answer, grows the pause before
	// the next re-read. Only the running wake-up uses it.
	pauses *backoff
	once   sync.Once

	mu sync.Mutex
	// pending are the events not handled yet (waitEvent bits).
	pending waitEvent
	// running is set while a wake-up goroutine handles pending events.
	running bool
	// closed is set by Close: no event is handled after it.
	closed bool
	// answered is set once answer has been called.
	answered bool
	// Set by Go: the wait is held from then on.
	ctx       context.Context
	answer    func(Authorization, error)
	stopCtx   func() bool
	stopDrain func() bool
	release   func()
	// retry, while the store fails to answer, is the timer of the next
	// re-read.
	retry *clock.Timer
}

// waitEvent is what woke a held wait, as a bit of Wait.pending.
type waitEvent uint8

const (
	waitSignal waitEvent = 1 << iota // the flow may have changed
	waitRetry                        // time to re-read after a store failure
	waitTimer                        // the wait's time passed
	waitDrain                        // the engine is shutting down
	waitDone                         // ctx ended
	waitClosed                       // Close was called before the answer
)

// Wait holds until the flow leaves pending, the wait's time passes (the
// answer is then pending), the engine drains or ctx ends (ctx's error),
// and returns the flow's authorization.
func (w *Wait) Wait(ctx context.Context) (a Authorization, err error) {
	done := make(chan struct{})
	w.Go(ctx, func(got Authorization, gerr error) {
		a, err = got, gerr
		close(done)
	})
	<-done
	return a, err
}

// Go holds the wait and returns at once: answer is called once, on a
// goroutine of the engine's that the engine's Close waits for, with what
// Wait would return, and the wait is then closed. A wait closed before
// Go, or by Close while held, answers context.Canceled. Go may be called
// once.
func (w *Wait) Go(ctx context.Context, answer func(Authorization, error)) {
	w.mu.Lock()
	if w.answer != nil {
		w.mu.Unlock()
		panic("engine: Wait.Go called twice")
	}
	if w.closed {
		w.mu.Unlock()
		answer(Authorization{}, context.Canceled)
		return
	}
	w.mu.Unlock()
	// Register before arming: an event that comes first is recorded and
	// handled once answer is set.
	stopCtx := context.AfterFunc(ctx, func() { w.post(waitDone) })
	stopDrain := context.AfterFunc(w.e.life.drainCtx, func() { w.post(waitDrain) })
	release := w.e.holdWork()
	w.mu.Lock()
	if w.closed {
		// Closed meanwhile (by another goroutine, before it was held).
		w.mu.Unlock()
		stopCtx()
		stopDrain()
		release()
		answer(Authorization{}, context.Canceled)
		return
	}
	w.ctx, w.answer = ctx, answer
	w.stopCtx, w.stopDrain, w.release = stopCtx, stopDrain, release
	start := w.pending != 0 && !w.running
	w.running = w.running || start
	w.mu.Unlock()
	if start {
		go w.run()
	}
}

// Close releases the wait's subscription, timers and registrations. It is
// idempotent. On a wait held by Go and not answered yet, it makes the wait
// answer context.Canceled first (then the wait closes itself).
func (w *Wait) Close() {
	w.mu.Lock()
	if w.answer != nil && !w.answered && !w.closed {
		w.pending |= waitClosed
		start := !w.running
		w.running = true
		w.mu.Unlock()
		if start {
			go w.run()
		}
		return
	}
	w.mu.Unlock()
	w.once.Do(func() {
		w.mu.Lock()
		w.closed = true
		retry, stopCtx, stopDrain, release := w.retry, w.stopCtx, w.stopDrain, w.release
		w.mu.Unlock()
		if w.timer != nil {
			w.timer.Stop()
		}
		if retry != nil {
			retry.Stop()
		}
		if w.unsubscribe != nil {
			w.unsubscribe()
		}
		for _, stop := range []func() bool{stopCtx, stopDrain} {
			if stop != nil {
				stop()
			}
		}
		w.e.metrics.Waiters.Dec()
		if release != nil {
			release()
		}
	})
}

// post records ev and starts a wake-up unless one is running (it will
// handle ev) or the wait is not held yet (Go will). It never blocks, as
// the store's signals require.
func (w *Wait) post(ev waitEvent) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.pending |= ev
	start := w.answer != nil && !w.running
	w.running = w.running || start
	w.mu.Unlock()
	if start {
		go w.run()
	}
}

// run handles the pending events, most final first, until none is left
// or one answered (then it closes the wait).
func (w *Wait) run() {
	for {
		w.mu.Lock()
		ev := w.take()
		if ev == 0 || w.closed {
			w.running = false
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
		if w.wake(ev) {
			w.mu.Lock()
			w.answered = true
			w.mu.Unlock()
			w.Close()
			return
		}
	}
}

// take removes and returns the pending event to handle first (0 when
// none is): Close, then the context's end, then the drain, then a
// re-read, then the timer, so a change that came with the timer is
// answered, not pending.
// w.mu is held.
func (w *Wait) take() waitEvent {
	for _, ev := range []waitEvent{waitClosed, waitDone, waitDrain, waitSignal | waitRetry, waitTimer} {
		if w.pending&ev != 0 {
			w.pending &^= ev
			return ev
		}
	}
	return 0
}

// wake handles ev: it re-reads the flow on a signal or a retry, and calls
// answer (reporting done) when the flow has left pending, the time has
// passed, the engine drains or ctx ended. A store that fails to answer
// does not fail the wait: it is re-read after a pause that grows (250 ms
// to 2 s, jittered), so thousands of held waits do not retry a recovering
// store in step. A panic (a bug) answers an error, as the HTTP server's
// recovery does for a handler.
func (w *Wait) wake(ev waitEvent) (done bool) {
	w.mu.Lock()
	ctx, e := w.ctx, w.e
	given := w.answer
	w.mu.Unlock()
	// answered records that answer was called, so a panic inside it is
	// not answered a second time.
	answered := false
	answer := func(a Authorization, err error) {
		answered = true
		given(a, err)
	}
	defer func() {
		if r := recover(); r != nil {
			e.log.ErrorContext(ctx, "panic in a held status wait", "flow_id", w.id, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			if !answered {
				answer(Authorization{}, fmt.Errorf("panic in a held status wait: %v", r))
			}
			done = true
		}
	}()
	switch ev {
	case waitClosed:
		answer(Authorization{}, context.Canceled)
		return true
	case waitDone:
		answer(Authorization{}, ctx.Err())
		return true
	case waitDrain, waitTimer:
		// Answer what there is.
	default:
		next, err := e.store.GetFlow(ctx, w.id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			answer(Authorization{}, ErrFlowNotFound)
			return true
		case errors.Is(err, store.ErrUnavailable):
			e.log.WarnContext(ctx, "store unavailable while waiting; retrying", "flow_id", w.id, "err", err)
			if w.pauses == nil {
				w.pauses = newBackoff(250*time.Millisecond, 2*time.Second)
			}
			retry := e.clock.AfterFunc(w.pauses.pause(), func() { w.post(waitRetry) })
			w.mu.Lock()
			old := w.retry
			w.retry = retry
			closed := w.closed
			w.mu.Unlock()
			if old != nil {
				old.Stop()
			}
			if closed {
				retry.Stop()
			}
			return false
		case err != nil:
			answer(Authorization{}, storeErr("read flow", err))
			return true
		}
		w.f = next
		if w.pauses != nil {
			w.pauses.reset(250 * time.Millisecond)
		}
		if isOpen(w.f.Status) {
			return false
		}
	}
	// The flow left pending, the time passed or the engine drains: answer
	// what there is.
	answer(e.flowAuthorization(ctx, w.f))
	return true
}
