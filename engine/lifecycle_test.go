package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/authengine/authengine/internal/clock"
	"github.com/authengine/authengine/internal/enginetest"
)

// TestCloseStoresUnsavedToken: the server shuts down (SIGTERM) while a
// refreshed token is kept in memory because the store did not take it:
// Close writes it before returning, so it is not lost with the process.
func TestCloseStoresUnsavedToken(t *testing.T) {
	r := newRig(t, rigOptions{saveBudget: 300 * time.Millisecond})
	id := r.connect("ada")
	r.clock.Advance(2 * time.Hour)
	r.st.failWrites.Store(true)
	if _, err := r.authorize(context.Background(), "ada"); !errors.Is(err, ErrStoreUnavailable) {
		t.Fatalf("refresh whose token cannot be stored: %v, want ErrStoreUnavailable", err)
	}
	go func() {
		time.Sleep(500 * time.Millisecond)
		r.st.failWrites.Store(false)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.eng.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if !r.idp.ValidRefreshToken(r.storedToken(id).RefreshToken) {
		t.Fatal("after Close the store does not hold the rotated refresh token")
	}
}

// TestCloseLetsRefreshInFlightLand: Close during a refresh that is at the
// provider waits for it; its token is stored when Close returns.
func TestCloseLetsRefreshInFlightLand(t *testing.T) {
	r := newRig(t, rigOptions{})
	id := r.connect("ada")
	r.clock.Advance(2 * time.Hour)
	r.idp.SetDelay(time.Second)
	done := make(chan error, 1)
	go func() {
		_, err := r.authorize(context.Background(), "ada")
		done <- err
	}()
	time.Sleep(200 * time.Millisecond) // the refresh is at the provider
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.eng.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if !r.idp.ValidRefreshToken(r.storedToken(id).RefreshToken) {
		t.Fatal("Close returned before the refresh in flight was stored")
	}
	if err := <-done; err != nil {
		t.Fatalf("the caller of the refresh in flight: %v", err)
	}
}

// TestCloseGivesUpWhenItsContextEnds: a store that never comes back does
// not hold Close past its context; Close says a token was not stored.
func TestCloseGivesUpWhenItsContextEnds(t *testing.T) {
	r := newRig(t, rigOptions{saveBudget: 200 * time.Millisecond})
	r.connect("ada")
	r.clock.Advance(2 * time.Hour)
	r.st.failWrites.Store(true)
	if _, err := r.authorize(context.Background(), "ada"); !errors.Is(err, ErrStoreUnavailable) {
		t.Fatalf("refresh whose token cannot be stored: %v, want ErrStoreUnavailable", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := r.eng.Close(ctx)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "1 refreshed token(s) kept in memory") {
		t.Fatalf("Close with the store down: %v, want an error saying one kept token was not stored", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Close took %v with a 700ms context", d)
	}
	r.st.failWrites.Store(false)
}

// TestDrainAnswersHeldWaits: a status wait held when the server shuts
// down answers pending at once instead of being cut off.
func TestDrainAnswersHeldWaits(t *testing.T) {
	r := newRig(t, rigOptions{})
	start, err := r.eng.Authorize(context.Background(), AuthorizeRequest{UserID: "ada", ProviderID: "hooli"})
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		a   Authorization
		err error
	}
	held := make(chan result, 1)
	go func() {
		a, err := r.eng.Status(context.Background(), start.ID, time.Minute)
		held <- result{a, err}
	}()
	time.Sleep(200 * time.Millisecond)
	r.eng.Drain()
	select {
	case got := <-held:
		if got.err != nil || got.a.Status != StatusPending {
			t.Fatalf("held wait after Drain: %+v, %v; want pending", got.a, got.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a held wait was not answered after Drain")
	}
}

// TestClosingAHeldWaitAnswersIt: a wait held by Go and closed before its
// answer answers context.Canceled (never hangs), as does one closed before
// Go; either way the engine's Close does not wait for it and the waiters
// gauge is back to zero.
func TestClosingAHeldWaitAnswersIt(t *testing.T) {
	r := newRig(t, rigOptions{})
	start, err := r.eng.Authorize(context.Background(), AuthorizeRequest{UserID: "ada", ProviderID: "hooli"})
	if err != nil {
		t.Fatal(err)
	}
	hold := func() *Wait {
		t.Helper()
		_, w, err := r.eng.StatusWait(context.Background(), start.ID, time.Minute)
		if err != nil || w == nil {
			t.Fatalf("StatusWait on a pending flow: %v, wait %v", err, w)
		}
		return w
	}
	expectCanceled := func(what string, got <-chan error) {
		t.Helper()
		select {
		case err := <-got:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s: answered %v, want context.Canceled", what, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no answer within 5 s", what)
		}
	}

	held := hold()
	got := make(chan error, 1)
	held.Go(context.Background(), func(_ Authorization, err error) { got <- err })
	held.Close()
	expectCanceled("closed while held", got)

	unheld := hold()
	unheld.Close()
	got2 := make(chan error, 1)
	unheld.Go(context.Background(), func(_ Authorization, err error) { got2 <- err })
	expectCanceled("closed before Go", got2)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.eng.Close(ctx); err != nil {
		t.Fatalf("engine Close after the closed waits: %v", err)
	}
	if n := testutil.ToFloat64(r.eng.metrics.Waiters); n != 0 {
		t.Errorf("authengine_status_waiters %v after every wait ended, want 0", n)
	}
}

func TestFlightGroup(t *testing.T) {
	spawn := func(f func()) { go f() }
	t.Run("a panic is every caller's error", func(t *testing.T) {
		var g flightGroup
		release := make(chan struct{})
		errs := make(chan error, 2)
		for range 2 {
			go func() {
				_, err := g.Do(context.Background(), "k", spawn, func() (any, error) {
					<-release
					panic("boom")
				})
				errs <- err
			}()
		}
		time.Sleep(50 * time.Millisecond)
		close(release)
		for range 2 {
			if err := <-errs; err == nil {
				t.Fatal("a caller of a call that panicked got no error")
			}
		}
	})
	t.Run("different keys run apart", func(t *testing.T) {
		var g flightGroup
		v1, _ := g.Do(context.Background(), "a", spawn, func() (any, error) { return 1, nil })
		v2, _ := g.Do(context.Background(), "b", spawn, func() (any, error) { return 2, nil })
		if v1 != 1 || v2 != 2 {
			t.Fatalf("got %v and %v, want 1 and 2", v1, v2)
		}
	})
}

func TestBackoff(t *testing.T) {
	b := newBackoff(100*time.Millisecond, 400*time.Millisecond)
	// Each pause is drawn from the upper half of a span that doubles up
	// to max.
	for i, span := range []time.Duration{100, 200, 400, 400, 400} {
		span *= time.Millisecond
		for range 50 {
			c := *b
			if d := c.pause(); d < span/2 || d > span {
				t.Fatalf("pause %d = %v, want within [%v, %v]", i, d, span/2, span)
			}
		}
		b.pause()
	}
	b.reset(100 * time.Millisecond)
	if d := b.pause(); d < 50*time.Millisecond || d > 100*time.Millisecond {
		t.Fatalf("pause after reset = %v, want within [50ms, 100ms]", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := newBackoff(time.Hour, time.Hour).wait(ctx, clock.Real); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait on an ended context = %v, want context.Canceled", err)
	}

	// The pause is on the clock it is given: advancing it ends an hour's
	// pause at once.
	c := &enginetest.Clock{}
	done := make(chan error, 1)
	go func() { done <- newBackoff(time.Hour, time.Hour).wait(context.Background(), c) }()
	for deadline := time.Now().Add(5 * time.Second); ; {
		c.Advance(time.Hour)
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("wait on an advanced clock = %v", err)
			}
			return
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("an hour's pause did not end when its clock was advanced by hours")
		}
	}
}

// TestLeaseRenewalFollowsTheClock: the refresh lease is renewed on the
// engine's clock. With a 30 s lease (renewed every 10 s), advancing the
// clock past a renewal during a slow provider call renews at once, long
// before 10 s of real time.
func TestLeaseRenewalFollowsTheClock(t *testing.T) {
	r := newRig(t, rigOptions{lease: 30 * time.Second, timeout: 10 * time.Second})
	r.connect("ada")
	r.clock.Advance(2 * time.Hour)
	r.idp.SetDelay(3 * time.Second)
	locks := r.st.locks.Load()
	done := make(chan error, 1)
	go func() {
		_, err := r.authorize(context.Background(), "ada")
		done <- err
	}()
	for r.st.locks.Load() == locks {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // the renewal timer is set once the lock is held
	renews := r.st.renews.Load()
	r.clock.Advance(11 * time.Second)
	deadline := time.Now().Add(2 * time.Second)
	for r.st.renews.Load() == renews && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if r.st.renews.Load() == renews {
		t.Error("advancing the clock past a renewal did not renew the lease")
	}
	if err := <-done; err != nil {
		t.Fatalf("refresh: %v", err)
	}
}

// TestStoreWriteIsRetriedWithinTheSaveBudget: a refreshed token whose
// first write finds the store down is written once the store is back
// within the save budget, and the caller gets it.
func TestStoreWriteIsRetriedWithinTheSaveBudget(t *testing.T) {
	r := newRig(t, rigOptions{saveBudget: 10 * time.Second})
	id := r.connect("ada")
	r.clock.Advance(2 * time.Hour)
	r.st.failWrites.Store(true)
	go func() {
		time.Sleep(300 * time.Millisecond)
		r.st.failWrites.Store(false)
	}()
	a, err := r.authorize(context.Background(), "ada")
	mustComplete(t, "refresh while the store is down for 300 ms", a, err)
	if ts := r.storedToken(id); ts.AccessToken != a.Token {
		t.Error("the stored token is not the one handed out")
	}
}
