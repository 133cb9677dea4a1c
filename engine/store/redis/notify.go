package redis

import (
	"context"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// DefaultSubscribeTimeout bounds the first SUBSCRIBE (Options.SubscribeTimeout);
// when it fails, go-redis keeps the channel and subscribes on its next
// reconnect.
const DefaultSubscribeTimeout = 5 * time.Second

// Notify signals every subscriber of flowID: this instance's directly, and
// every instance's (this one's again) through PUBLISH on <prefix>flows.
// A duplicate signal is harmless; subscribers re-read the flow.
func (s *Store) Notify(ctx context.Context, flowID string) error {
	s.signal(flowID)
	if err := s.client.Publish(ctx, s.flowChannel(), flowID).Err(); err != nil {
		return s.wrap("notify", err)
	}
	return nil
}

// Subscribe calls signal whenever flowID may have changed, and after the
// shared Redis subscription was re-established, since messages may have
// been lost while it was down.
//
// The first Subscribe of a Store opens that subscription and waits (at
// most the subscribe timeout, and never past ctx) until Redis confirms it, so that a caller that
// subscribes and then reads its flow cannot miss a change published in
// between. If the wait times out, every subscriber is signalled once the
// subscription is confirmed, and no later call waits. Calls after the
// confirmation never wait. cancel is idempotent.
func (s *Store) Subscribe(ctx context.Context, flowID string, signal func()) func() {
	sub := &subscriber{signal: signal}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return func() {}
	}
	s.startLocked()
	set := s.subs[flowID]
	if set == nil {
		set = make(map[*subscriber]struct{})
		s.subs[flowID] = set
	}
	set[sub] = struct{}{}
	ready, wait := s.ready, !s.gaveUpWaiting
	s.mu.Unlock()

	select {
	case <-ready:
	default:
		if !wait {
			// An earlier Subscribe timed out: this one is woken with
			// everyone when the subscription is confirmed.
			break
		}
		timer := time.NewTimer(s.subscribeTimeout)
		select {
		case <-ready:
		case <-ctx.Done():
			// This caller stops waiting; the subscription stays and
			// signals once it is confirmed.
		case <-timer.C:
			s.mu.Lock()
			s.gaveUpWaiting = true
			s.mu.Unlock()
		}
		timer.Stop()
	}

	cancel := sync.OnceFunc(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if set := s.subs[flowID]; set != nil {
			delete(set, sub)
			if len(set) == 0 {
				delete(s.subs, flowID)
			}
		}
	})
	return cancel
}

// subscriber is one Subscribe call's signal function.
type subscriber struct{ signal func() }

// startLocked opens the Store's one subscription, once. s.mu is held.
func (s *Store) startLocked() {
	if s.pubsub != nil {
		return
	}
	// No channel yet, so no I/O here; the goroutine subscribes.
	s.pubsub = s.client.Subscribe(context.Background())
	s.loopDone = make(chan struct{})
	s.ready = make(chan struct{})
	go s.receive(s.pubsub, s.loopDone)
}

// receive subscribes and dispatches messages until the PubSub is closed.
// go-redis pings the connection every few seconds and, on any failure,
// reconnects and re-subscribes; the server's subscribe confirmation comes
// through as a *goredis.Subscription. The first one releases the first
// Subscribe calls (see Subscribe); every later one wakes every subscriber.
func (s *Store) receive(ps *goredis.PubSub, done chan<- struct{}) {
	defer close(done)
	defer s.releaseWaiters()
	ctx, cancel := context.WithTimeout(context.Background(), s.subscribeTimeout)
	if err := ps.Subscribe(ctx, s.flowChannel()); err != nil {
		s.log.Warn("redis store: subscribe to flow notifications failed; retrying in the background", "error", err)
	}
	cancel()
	first := true
	for msg := range ps.ChannelWithSubscriptions(goredis.WithChannelSize(64)) {
		switch m := msg.(type) {
		case *goredis.Message:
			s.signal(m.Payload)
		case *goredis.Subscription:
			if m.Kind != "subscribe" {
				continue
			}
			if first {
				first = false
				if !s.releaseWaiters() {
					continue
				}
			} else {
				s.log.Info("redis store: flow notifications re-subscribed; waking every waiter")
			}
			s.signalAll()
		}
	}
}

// releaseWaiters ends the wait of the first Subscribe calls and reports
// whether one of them stopped waiting before the subscription was
// confirmed (its caller may have missed a message).
func (s *Store) releaseWaiters() (missed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.ready:
	default:
		close(s.ready)
	}
	return s.gaveUpWaiting
}

// signal wakes flowID's local subscribers; their signal functions return
// at once.
func (s *Store) signal(flowID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sub := range s.subs[flowID] {
		sub.signal()
	}
}

// signalAll wakes every local subscriber, as signal does.
func (s *Store) signalAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, set := range s.subs {
		for sub := range set {
			sub.signal()
		}
	}
}
