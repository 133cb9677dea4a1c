package lease_test

import (
	"context"
	"errors"
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
	hctx, stop := lease.Hold(ctx, s, "l", token, ttl, func(err error) { t.Errorf("lost: %v", err) })
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
	hctx, stop := lease.Hold(ctx, s, "l", token, ttl, func(err error) { lost <- err })
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
	hctx, stop := lease.Hold(ctx, s, "l", token, time.Minute, func(err error) { t.Errorf("lost: %v", err) })
	stop()
	if hctx.Err() == nil {
		t.Fatal("work context live after stop")
	}
}
