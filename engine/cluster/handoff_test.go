package cluster_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/authengine/authengine/internal/providertest"
)

// TestFlowCrossesInstances: behind a load balancer without affinity, the
// app's authorize, the browser's callback and the app's status wait land on
// whichever instance; the wait must still end with the token, promptly.
func TestFlowCrossesInstances(t *testing.T) {
	const promptly = time.Second
	routes := []struct {
		name                   string
		start, callback, waits int
	}{
		{"a flow started on the first instance, completed on the second and waited for on the third", 0, 1, 2},
		{"a flow waited for on the instance that started it and completed on another", 0, 2, 0},
		{"a flow waited for on the instance that completes it", 1, 2, 2},
	}
	c := newCluster(t, clusterOptions{instances: 3, idp: providertest.Options{RequirePKCE: true, AccessTokenTTL: time.Hour}})
	for i, r := range routes {
		t.Run(r.name, func(t *testing.T) {
			user := "user-" + string(rune('a'+i))
			start := c.authorize(r.start, user)
			if start.Status != "pending" || start.URL == "" {
				t.Fatalf("authorize: want pending with a url, got %+v", start)
			}

			type answer struct {
				resp authResp
				code int
				err  error
				at   time.Time
			}
			answered := make(chan answer, 1)
			before := c.waiters(r.waits)
			go func() {
				resp, code, err := c.status(context.Background(), r.waits, start.ID, 30)
				answered <- answer{resp, code, err, time.Now()}
			}()
			c.awaitWaiters(r.waits, before+1)

			cb := c.consent(start.URL)
			code, err := c.callback(context.Background(), r.callback, cb)
			calledBack := time.Now()
			if err != nil || code != http.StatusOK {
				t.Fatalf("callback on instance %d: HTTP %d %v", r.callback, code, err)
			}

			var a answer
			select {
			case a = <-answered:
			case <-time.After(35 * time.Second):
				t.Fatal("the status wait did not answer within its 30 s wait")
			}
			if a.err != nil || a.code != http.StatusOK {
				t.Fatalf("status wait: HTTP %d %v", a.code, a.err)
			}
			if a.resp.Status != "completed" || !c.idp.ValidAccessToken(a.resp.token()) {
				t.Fatalf("status wait answered %q with token valid=%v, want completed with a token the provider issued",
					a.resp.Status, c.idp.ValidAccessToken(a.resp.token()))
			}
			lag := a.at.Sub(calledBack)
			t.Logf("the wait answered %s after the callback returned", lag.Round(time.Millisecond))
			if lag > promptly {
				t.Errorf("the wait on instance %d answered %s after the callback on instance %d returned, want within %s",
					r.waits, lag, r.callback, promptly)
			}
		})
	}
	if v := c.idp.Violations(); len(v) > 0 {
		t.Errorf("protocol violations at the provider: %v", v)
	}
}

// TestCallbackDeliveredToEveryInstanceCompletesOnce: a browser that
// retries, or a load balancer that replays, delivers one callback to every
// instance at once. The state is single use across the cluster: exactly one
// instance exchanges the code and completes the flow, the others answer the
// "expired or already used" page, and the provider sees one exchange.
func TestCallbackDeliveredToEveryInstanceCompletesOnce(t *testing.T) {
	c := newCluster(t, clusterOptions{instances: 3, idp: providertest.Options{RequirePKCE: true, AccessTokenTTL: time.Hour}})
	for round := range 5 {
		start := c.authorize(round%3, fmt.Sprintf("replayed-%d", round))
		cb := c.consent(start.URL)
		before := c.idp.Counts()
		codes := make(chan int, 3)
		release := make(chan struct{})
		for i := range 3 {
			go func() {
				<-release
				code, err := c.callback(context.Background(), i, cb)
				if err != nil {
					t.Errorf("callback on instance %d: %v", i, err)
				}
				codes <- code
			}()
		}
		close(release)
		got := map[int]int{}
		for range 3 {
			got[<-codes]++
		}
		if got[http.StatusOK] != 1 || got[http.StatusBadRequest] != 2 {
			t.Errorf("round %d: callbacks answered %v, want one 200 and two 400", round, got)
		}
		if n := c.idp.Counts().CodeExchanges - before.CodeExchanges; n != 1 {
			t.Errorf("round %d: the provider saw %d code exchanges, want 1", round, n)
		}
		if done, _, _ := c.status(context.Background(), (round+1)%3, start.ID, 5); done.Status != "completed" {
			t.Errorf("round %d: status after the callbacks: %q, want completed", round, done.Status)
		}
	}
	if n := c.idp.Counts().Replays; n != 0 {
		t.Errorf("the provider saw %d replayed codes, want none", n)
	}
}
