package lease_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/internal/enginetest"
	"github.com/authengine/authengine/internal/lease"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestHoldKeepsTheLock: held past several lifetimes, the lock stays taken.
func TestHoldKeepsTheLock(t *testing.T) {
	s := enginetest.BoltStore(t, nil)
	ctx := context.Background()
	const ttl = 60 * time.Millisecond
	token, err := s.Lock(ctx, "l", ttl)
	if err != nil {
		t.Fatal(err)
	}
	hctx, stop := lease.Hold(ctx, nil, s, "l", token, ttl, func(err error) { t.Errorf("lost: %v", err) })
	defer stop()
	deadline := time.Now().Add(4 * ttl)
	for time.Now().Before(deadline) {
		if _, err := s.Lock(ctx, "l", ttl); !errors.Is(err, store.ErrLockHeld) {
			t.Fatalf("Lock by another = %v, want ErrLockHeld", err)
		}
		time.Sleep(ttl / 6)
	}
	if hctx.Err() != nil {
		t.Fatalf("work context ended: %v", hctx.Err())
	}
}

// TestHoldEndsTheWorkWhenTheLockIsLost: a failed renewal reports the loss
// and ends the work's context.
func TestHoldEndsTheWorkWhenTheLockIsLost(t *testing.T) {
	s := enginetest.BoltStore(t, nil)
	ctx := context.Background()
	const ttl = 30 * time.Millisecond
	token, err := s.Lock(ctx, "l", ttl)
	if err != nil {
		t.Fatal(err)
	}
	lost := make(chan error, 1)
	hctx, stop := lease.Hold(ctx, nil, s, "l", token, ttl, func(err error) { lost <- err })
	defer stop()
	if err := s.Unlock(ctx, "l", token); err != nil {
		t.Fatal(err)
	}
	select {
	case <-hctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("work context still live after the lock was lost")
	}
	if err := <-lost; !errors.Is(err, store.ErrLockLost) {
		t.Fatalf("lost = %v, want ErrLockLost", err)
	}
}

// TestStopEndsQuietly: stop ends the work and reports no loss.
func TestStopEndsQuietly(t *testing.T) {
	s := enginetest.BoltStore(t, nil)
	ctx := context.Background()
	token, err := s.Lock(ctx, "l", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	hctx, stop := lease.Hold(ctx, nil, s, "l", token, time.Minute, func(err error) { t.Errorf("lost: %v", err) })
	stop()
	if hctx.Err() == nil {
		t.Fatal("work context live after stop")
	}
}

// countingLocker is a real store that counts the renewals made through it.
type countingLocker struct {
	store.Locker
	renews atomic.Int64
}

func (c *countingLocker) Renew(ctx context.Context, name, token string, ttl time.Duration) error {
	c.renews.Add(1)
	return c.Locker.Renew(ctx, name, token, ttl)
}

// TestHoldRenewsOnItsClock: renewals follow the clock Hold is given. With
// a one-minute lease (renewed every 20 s), advancing the clock by 21 s
// renews at once, and the lease then outlives its first minute.
func TestHoldRenewsOnItsClock(t *testing.T) {
	c := &enginetest.Clock{}
	s := enginetest.BoltStore(t, c.Now)
	l := &countingLocker{Locker: s}
	ctx := context.Background()
	token, err := s.Lock(ctx, "l", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	_, stop := lease.Hold(ctx, c, l, "l", token, time.Minute, func(err error) { t.Errorf("lost: %v", err) })
	defer stop()
	for i := 1; i <= 3; i++ {
		deadline := time.Now().Add(2 * time.Second)
		for l.renews.Load() < int64(i) && time.Now().Before(deadline) {
			c.Advance(21 * time.Second) // past the renewal timer, however soon it was set
			time.Sleep(20 * time.Millisecond)
		}
		if n := l.renews.Load(); n < int64(i) {
			t.Fatalf("%d renewals after advancing the clock, want %d", n, i)
		}
	}
	if _, err := s.Lock(ctx, "l", time.Minute); !errors.Is(err, store.ErrLockHeld) {
		t.Fatalf("Lock by another after the first minute on the clock = %v, want ErrLockHeld", err)
	}
}
