package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authengine/authengine/engine/store"
)

// The connection change feed (store.ConnectionFeed).
//
// Every connection write PUBLISHes the connection's id on <prefix>connfeed
// inside the MULTI/EXEC that writes it, so the announcement leaves Redis
// only once the write is applied: an instance that reads the key after
// the message gets the write (reads go to the master that ran the EXEC;
// on Cluster, PUBLISH reaches the subscribers of every node).
//
// Each Store that is watched holds one more connection: a subscription to
// <prefix>connfeed, separate from the flow notifications'. The feed is up
// once Redis confirms that subscription. Every HeartbeatInterval the Store
// publishes a heartbeat of its own on the channel. The feed goes down when:
//   - reading the subscription fails (the connection was closed, reset,
//     killed, or Redis stopped): at once;
//   - nothing, not even a heartbeat, arrived for HeartbeatTimeout (a
//     subscription that silently stopped delivering);
//   - a heartbeat cannot be published (Redis does not take commands).
//
// So a feed that stops delivering is noticed within HeartbeatTimeout (a
// connection that fails, at once). A lost subscription comes back up only
// when Redis confirms it again (go-redis dials and re-subscribes on the
// next read), and a feed that went down without losing it only when a
// heartbeat published after the down is received; both mean down then up
// to the watchers, who forget what they kept, since messages published
// meanwhile are lost.

// Heartbeat timing of the connection feed.
const (
	// HeartbeatInterval is how often a watched Store publishes its
	// heartbeat.
	HeartbeatInterval = 200 * time.Millisecond
	// HeartbeatTimeout is how long the Store's own heartbeat may be away
	// before the feed is reported down.
	HeartbeatTimeout = time.Second
)

// heartbeatPrefix starts a heartbeat's payload; a connection id never
// holds a space.
const heartbeatPrefix = "heartbeat "

var _ store.ConnectionFeed = (*Store)(nil)

func (s *Store) connFeedChannel() string { return s.prefix + "connfeed" }

// connFeed is a Store's connection feed subscription.
type connFeed struct {
	watchers store.FeedWatchers
	// nonce tells this Store's heartbeats from other instances'.
	nonce string

	started bool
	ps      *goredis.PubSub
	stop    chan struct{}
	done    sync.WaitGroup

	mu sync.Mutex
	// subscribed: Redis confirmed the subscription and no read failed
	// since; everSubscribed: it was confirmed once.
	subscribed, everSubscribed bool
	// sent is the last heartbeat published; seen the last one received,
	// at seenAt; downAt is sent when the feed was last reported down by a
	// heartbeat check (only a heartbeat sent after it brings it back).
	sent, seen, downAt uint64
}

// WatchConnections reports every connection write, made by any instance
// sharing this Redis, once Redis has applied it (see the comment above for
// when the feed is up). The first call opens the feed's subscription and
// starts its heartbeat; Close ends both.
func (s *Store) WatchConnections(changed func(id string), up func(bool)) (cancel func()) {
	s.mu.Lock()
	if !s.closed && !s.feed.started {
		s.feed.started = true
		s.startFeedLocked()
	}
	s.mu.Unlock()
	return s.feed.watchers.Watch(changed, up)
}

// startFeedLocked opens the subscription and starts its two goroutines.
func (s *Store) startFeedLocked() {
	f := &s.feed
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	f.nonce = hex.EncodeToString(b[:])
	f.stop = make(chan struct{})
	f.ps = s.client.Subscribe(context.Background())
	f.done.Add(2)
	go s.feedReceive()
	go s.feedHeartbeat()
}

// feedReceive subscribes and dispatches the feed's messages until the
// subscription is closed. It reads the subscription itself rather than
// through go-redis's channel, which hides a lost connection: any error
// takes the feed down at once (the next read reconnects and re-subscribes),
// and so does HeartbeatTimeout without a message (heartbeats come every
// HeartbeatInterval).
func (s *Store) feedReceive() {
	f := &s.feed
	defer f.done.Done()
	ctx, cancel := context.WithTimeout(context.Background(), s.subscribeTimeout)
	if err := f.ps.Subscribe(ctx, s.connFeedChannel()); err != nil {
		s.log.Warn("redis store: subscribe to connection changes failed; retrying in the background", "error", err)
	}
	cancel()
	pause := time.Duration(0)
	for {
		msg, err := f.ps.ReceiveTimeout(context.Background(), HeartbeatTimeout)
		if errors.Is(err, goredis.ErrClosed) {
			return
		}
		if err != nil {
			select {
			case <-f.stop:
				return // Close closed the connection under the read
			default:
			}
			s.feedDown("receive", err)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Silent for too long: a ping makes go-redis replace a
				// connection that no longer answers.
				pctx, cancel := context.WithTimeout(context.Background(), HeartbeatInterval)
				_ = f.ps.Ping(pctx)
				cancel()
				continue
			}
			// The connection failed (and was dropped: the next read
			// dials again and re-subscribes). Do not spin while Redis is
			// away.
			if pause == 0 {
				pause = 10 * time.Millisecond // the first retry at once
				continue
			}
			select {
			case <-f.stop:
				return
			case <-time.After(pause):
			}
			pause = min(2*pause, HeartbeatInterval)
			continue
		}
		pause = 0
		switch m := msg.(type) {
		case *goredis.Message:
			if rest, ok := strings.CutPrefix(m.Payload, heartbeatPrefix); ok {
				s.feedHeartbeatSeen(rest)
				continue
			}
			f.watchers.Changed(m.Payload)
		case *goredis.Subscription:
			if m.Kind != "subscribe" {
				continue
			}
			f.mu.Lock()
			again := f.subscribed || f.everSubscribed
			f.subscribed, f.everSubscribed = true, true
			// Up, after a down: whatever was announced before the
			// subscription was made again may be incomplete. Under f.mu,
			// so a feedDown deciding at the same time is applied after.
			f.watchers.Restart()
			f.mu.Unlock()
			if again {
				s.log.Info("redis store: connection changes re-subscribed; the engine empties what it keeps in memory")
			}
		}
	}
}

// feedDown takes the feed down (a failed receive or heartbeat): what the
// engine keeps in memory is dropped and not used until the feed is back.
func (s *Store) feedDown(what string, err error) {
	f := &s.feed
	f.mu.Lock()
	f.downAt = f.sent
	if what == "receive" {
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			// The subscription is gone: only its confirmation brings the
			// feed back.
			f.subscribed = false
		}
	}
	wasUp := f.watchers.Up()
	// Under f.mu, as every change of the feed's state, so that a heartbeat
	// seen before this down cannot bring the feed up after it.
	f.watchers.SetUp(false)
	f.mu.Unlock()
	if wasUp {
		s.log.Warn("redis store: connection changes are not coming through; the engine stops using what it keeps in memory until they are", "failed", what, "error", err)
	}
}

// feedHeartbeatSeen records a heartbeat received ("<nonce> <seq>"), and
// brings a feed a heartbeat check took down back up when the heartbeat was
// sent after that.
func (s *Store) feedHeartbeatSeen(payload string) {
	f := &s.feed
	nonce, seqText, ok := strings.Cut(payload, " ")
	if !ok || nonce != f.nonce {
		return // another instance's
	}
	seq, err := strconv.ParseUint(seqText, 10, 64)
	if err != nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen = max(f.seen, seq)
	if f.subscribed && seq > f.downAt {
		f.watchers.SetUp(true)
	}
}

// feedHeartbeat publishes a heartbeat every HeartbeatInterval while the
// feed is subscribed, and takes the feed down when one cannot be published.
func (s *Store) feedHeartbeat() {
	f := &s.feed
	defer f.done.Done()
	tick := time.NewTicker(HeartbeatInterval)
	defer tick.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-tick.C:
		}
		f.mu.Lock()
		if !f.subscribed {
			f.mu.Unlock()
			continue
		}
		f.sent++
		seq := f.sent
		f.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), HeartbeatTimeout)
		err := s.client.Publish(ctx, s.connFeedChannel(), heartbeatPrefix+f.nonce+" "+strconv.FormatUint(seq, 10)).Err()
		cancel()
		if err != nil {
			s.feedDown("heartbeat", err)
		}
	}
}

// closeFeed ends the feed's subscription and goroutines and reports the
// feed down. s.mu is not held.
func (s *Store) closeFeed() error {
	f := &s.feed
	if !f.started {
		return nil
	}
	close(f.stop)
	err := f.ps.Close()
	f.done.Wait()
	f.watchers.SetUp(false)
	return err
}
