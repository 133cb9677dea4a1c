// Package clock is the time the engine reads and waits on: its pauses,
// retries and lease renewals take a Clock, so a test can move them on by
// advancing a clock rather than sleeping.
package clock

import (
	"context"
	"time"
)

// Clock reads the time and makes timers that fire by it.
type Clock interface {
	Now() time.Time
	// NewTimer returns a timer whose channel receives once d has passed
	// on this clock.
	NewTimer(d time.Duration) *Timer
	// AfterFunc calls f on a goroutine of its own once d has passed on
	// this clock, unless the returned timer is stopped first. The
	// timer's C is nil.
	AfterFunc(d time.Duration, f func()) *Timer
}

// Timer is a one-shot timer of a Clock.
type Timer struct {
	// C receives once when the timer fires.
	C    <-chan time.Time
	stop func() bool
}

// NewTimer is a Timer for Clock implementations: c is its channel, stop
// stops it (reporting whether it had not fired yet).
func NewTimer(c <-chan time.Time, stop func() bool) *Timer { return &Timer{C: c, stop: stop} }

// Stop stops the timer; it reports false when it had fired already.
func (t *Timer) Stop() bool { return t.stop() }

// Real is the system clock.
var Real Clock = FromNow(time.Now)

// FromNow is a clock reading now, whose timers run in real time: for a
// caller that gives only a Now function (offset or fixed clocks of
// callers that never wait on them).
func FromNow(now func() time.Time) Clock { return nowClock(now) }

type nowClock func() time.Time

func (c nowClock) Now() time.Time { return c() }

func (c nowClock) NewTimer(d time.Duration) *Timer {
	t := time.NewTimer(d)
	return NewTimer(t.C, t.Stop)
}

func (c nowClock) AfterFunc(d time.Duration, f func()) *Timer {
	t := time.AfterFunc(d, f)
	return NewTimer(nil, t.Stop)
}

// Sleep waits for d on c, or returns ctx's cause when it ends first.
func Sleep(ctx context.Context, c Clock, d time.Duration) error {
	t := c.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
