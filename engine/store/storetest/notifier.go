package storetest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authengine/authengine/engine/store"
)

// Waits used by the notifier cases. A signal must arrive within
// deliverWithin; silence is checked for quietFor.
const (
	deliverWithin = 5 * time.Second
	quietFor      = 200 * time.Millisecond
)

// expectSignal fails the test unless signals delivers a value in time.
func expectSignal(t *testing.T, what string, signals <-chan struct{}) {
	t.Helper()
	select {
	case _, ok := <-signals:
		if !ok {
			t.Fatalf("%s: the signal channel was closed", what)
		}
	case <-time.After(deliverWithin):
		t.Fatalf("%s: no signal within %v", what, deliverWithin)
	}
}

// expectQuiet fails the test if signals delivers a value (a closed channel
// is fine: it delivers nothing).
func expectQuiet(t *testing.T, what string, signals <-chan struct{}) {
	t.Helper()
	select {
	case _, ok := <-signals:
		if ok {
			t.Fatalf("%s: got a signal, want none", what)
		}
	case <-time.After(quietFor):
	}
}

// mustNotify signals flowID or fails the test.
func mustNotify(t *testing.T, s store.Store, flowID string) {
	t.Helper()
	if err := s.Notify(t.Context(), flowID); err != nil {
		t.Fatalf("Notify(%s): %v", flowID, err)
	}
}

func runNotifier(t *testing.T, newStore NewStore) {
	t.Run("a subscriber receives a signal after notify", func(t *testing.T) {
		s, _ := fresh(t, newStore)
		id := uid("flow")
		signals, cancel := store.SubscribeChan(t.Context(), s, id)
		defer cancel()
		mustNotify(t, s, id)
		expectSignal(t, "after Notify", signals)
		mustNotify(t, s, id)
		expectSignal(t, "after a second Notify", signals)
	})

	t.Run("every subscriber of a flow receives the signal", func(t *testing.T) {
		s, _ := fresh(t, newStore)
		id := uid("flow")
		a, cancelA := store.SubscribeChan(t.Context(), s, id)
		defer cancelA()
		b, cancelB := store.SubscribeChan(t.Context(), s, id)
		defer cancelB()
		mustNotify(t, s, id)
		expectSignal(t, "first subscriber", a)
		expectSignal(t, "second subscriber", b)
	})

	t.Run("notifying a flow nobody watches is harmless", func(t *testing.T) {
		s, _ := fresh(t, newStore)
		mustNotify(t, s, uid("flow"))
	})

	t.Run("signals for other flows do not arrive", func(t *testing.T) {
		s, _ := fresh(t, newStore)
		watched := uid("flow")
		signals, cancel := store.SubscribeChan(t.Context(), s, watched)
		defer cancel()
		mustNotify(t, s, uid("flow"))
		expectQuiet(t, "notify of another flow", signals)
	})

	t.Run("a cancelled subscription receives nothing and cancelling twice is harmless", func(t *testing.T) {
		s, _ := fresh(t, newStore)
		id := uid("flow")
		signals, cancel := store.SubscribeChan(t.Context(), s, id)
		other, cancelOther := store.SubscribeChan(t.Context(), s, id)
		defer cancelOther()
		cancel()
		cancel()
		mustNotify(t, s, id)
		// The live subscriber proves the signal was sent.
		expectSignal(t, "the subscriber still subscribed", other)
		expectQuiet(t, "after cancel", signals)
	})

	t.Run("no signal starts after cancel returns", func(t *testing.T) {
		s, _ := fresh(t, newStore)
		id := uid("flow")
		var cancelled atomic.Bool
		var before, late atomic.Int64
		cancel := s.Subscribe(t.Context(), id, func() {
			if cancelled.Load() {
				late.Add(1)
				return
			}
			before.Add(1)
		})
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					_ = s.Notify(t.Context(), id)
				}
			}()
		}
		deadline := time.Now().Add(deliverWithin)
		for before.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		cancel()
		cancelled.Store(true)
		time.Sleep(quietFor)
		close(stop)
		wg.Wait()
		if before.Load() == 0 {
			t.Fatal("no signal arrived before cancel")
		}
		if n := late.Load(); n != 0 {
			t.Fatalf("%d signals started after cancel returned", n)
		}
	})

	t.Run("notifying a subscriber that does not read never blocks", func(t *testing.T) {
		s, _ := fresh(t, newStore)
		id := uid("flow")
		signals, cancel := store.SubscribeChan(t.Context(), s, id)
		defer cancel()
		done := make(chan error, 1)
		go func() {
			for range 100 {
				if err := s.Notify(t.Context(), id); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Notify: %v", err)
			}
		case <-time.After(deliverWithin):
			t.Fatal("100 notifies to an idle subscriber did not finish")
		}
		expectSignal(t, "after many notifies", signals)
	})
}
