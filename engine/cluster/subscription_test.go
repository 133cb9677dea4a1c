package cluster_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authengine/authengine/internal/providertest"
	"github.com/authengine/authengine/internal/redistest"
)

// resubscribedLog is what engine/store/redis logs when its subscription is
// back after a loss.
const resubscribedLog = "flow notifications re-subscribed"

// TestWaiterSurvivesLostSubscription: the server drops the pub/sub
// connections (CLIENT KILL TYPE pubsub: a failover, a proxy restart, an
// operator) while an app waits on one instance and the user completes the
// flow on another. The notification may be published while the waiter's
// instance has no subscription; the waiter must still get the completion.
func TestWaiterSurvivesLostSubscription(t *testing.T) {
	const promptly = 2 * time.Second
	cases := []struct {
		name string
		// disrupt runs between parking the wait and the callback.
		disrupt func(t *testing.T, kill func())
	}{
		{"the callback lands right after the subscriptions are killed", func(t *testing.T, kill func()) {
			kill()
		}},
		{"the callback lands after the subscriptions were killed and restored", func(t *testing.T, kill func()) {
			kill()
			time.Sleep(500 * time.Millisecond)
		}},
		{"the subscriptions are killed again and again around the callback", func(t *testing.T, kill func()) {
			for range 5 {
				kill()
				time.Sleep(30 * time.Millisecond)
			}
		}},
	}
	// A server of its own: killing pub/sub clients must not touch other
	// tests' subscriptions.
	srv := redistest.Private(t, redistest.PrivateOptions{})
	c := newCluster(t, clusterOptions{redisURL: srv.URL(), idp: providertest.Options{RequirePKCE: true, AccessTokenTTL: time.Hour}})
	admin := goredis.NewClient(&goredis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { admin.Close() })
	for i := range 3 { // every instance has subscribed
		c.connect("warm-up-"+string(rune('a'+i)), (i+1)%3, (i+2)%3, i)
	}
	killed := 0
	kill := func() {
		n, err := admin.Do(context.Background(), "CLIENT", "KILL", "TYPE", "pubsub").Int()
		if err != nil {
			t.Fatalf("CLIENT KILL TYPE pubsub: %v", err)
		}
		killed += n
	}

	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := c.authorize(0, "user-"+string(rune('a'+i)))
			cb := c.consent(start.URL)
			type answer struct {
				resp authResp
				code int
				err  error
				at   time.Time
			}
			answered := make(chan answer, 1)
			before := c.waiters(2)
			go func() {
				resp, code, err := c.status(context.Background(), 2, start.ID, 30)
				answered <- answer{resp, code, err, time.Now()}
			}()
			c.awaitWaiters(2, before+1)

			killed = 0
			resubscribed := strings.Count(c.node(2).logs.String(), resubscribedLog)
			tc.disrupt(t, kill)
			if killed < 3 {
				t.Fatalf("CLIENT KILL TYPE pubsub closed %d connections, want at least one per instance", killed)
			}
			code, err := c.callback(context.Background(), 1, cb)
			calledBack := time.Now()
			if err != nil || code != http.StatusOK {
				t.Fatalf("callback on instance 1: HTTP %d %v", code, err)
			}
			select {
			case a := <-answered:
				if a.err != nil || a.code != http.StatusOK || a.resp.Status != "completed" || !c.idp.ValidAccessToken(a.resp.token()) {
					t.Fatalf("the wait answered HTTP %d %q (%s) %v, want completed with a valid token", a.code, a.resp.Status, a.resp.Name, a.err)
				}
				lag := a.at.Sub(calledBack)
				t.Logf("completion reached the waiter %s after the callback", lag.Round(time.Millisecond))
				if lag > promptly {
					t.Errorf("the wait answered %s after the callback, want within %s", lag, promptly)
				}
			case <-time.After(35 * time.Second):
				t.Fatal("the waiter never got the completion: its wait ran out")
			}
			// The disruption was real: the waiter's instance lost its
			// subscription and re-established it.
			deadline := time.Now().Add(5 * time.Second)
			for strings.Count(c.node(2).logs.String(), resubscribedLog) <= resubscribed {
				if time.Now().After(deadline) {
					t.Fatal("the waiter's instance never logged a re-subscription after the kill")
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}
