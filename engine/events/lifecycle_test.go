package events_test

import (
	"context"
	"testing"
	"time"

	"github.com/authengine/authengine/engine"
	"github.com/authengine/authengine/engine/events"
	"github.com/authengine/authengine/internal/enginetest"
)

// TestEngineCloseStopsTheDeliverer: a deliverer started on the engine's
// lifecycle (as serve starts it) is stopped and waited for by Close, and
// leaves no goroutine behind (TestMain checks with goleak).
func TestEngineCloseStopsTheDeliverer(t *testing.T) {
	s := enginetest.BoltStore(t, nil)
	eng, err := engine.New(engine.Options{Store: s, Sealer: enginetest.Sealer(t)})
	if err != nil {
		t.Fatal(err)
	}
	rcv := newReceiver(t, testSecret)
	d := events.NewDeliverer(events.Options{Store: s, Poll: 5 * time.Millisecond, Endpoints: []events.Endpoint{endpoint(t, rcv.srv.URL)}})
	stopped := make(chan struct{})
	if !eng.Go(func(ctx context.Context) { d.Run(ctx); close(stopped) }) {
		t.Fatal("Go refused on an open engine")
	}
	ev := appendEvent(t, s, events.ConnectionCreated, "conn-close")
	await(t, "the event is delivered", func() bool { return rcv.count(ev.ID) == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := eng.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-stopped:
	default:
		t.Fatal("Close returned while the deliverer still ran")
	}
	if eng.Go(func(context.Context) {}) {
		t.Error("Go ran a function on a closed engine")
	}
	// The delivery lock was given up: another deliverer takes it at once.
	if _, err := s.Lock(context.Background(), events.LockName, time.Second); err != nil {
		t.Errorf("the delivery lock is still held after Close: %v", err)
	}
}
