package cluster_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/authengine/authengine/engine/events"
	"github.com/authengine/authengine/engine/store"
	redisstore "github.com/authengine/authengine/engine/store/redis"
	"github.com/authengine/authengine/internal/providertest"
	"github.com/authengine/authengine/internal/redistest"
)

// startWebhooks runs a deliverer on instance in's engine lifecycle, as
// serve does, and closes the engine when the test ends.
func (c *cluster) startWebhooks(in *instance, eps []events.Endpoint) {
	d := events.NewDeliverer(events.Options{Store: in.store, Endpoints: eps, Poll: 10 * time.Millisecond, Lease: time.Second})
	if !in.engine.Go(d.Run) {
		c.t.Fatal("engine closed")
	}
	c.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := in.engine.Close(ctx); err != nil {
			c.t.Errorf("Close: %v", err)
		}
	})
}

// TestThreeInstancesDeliverEachEventOnce: three engines on one Redis
// each run a deliverer; connections completed on every instance produce
// connection.created events, and the receiver (verifying with the
// Standard Webhooks library) gets each exactly once.
// hookReceiver is a webhook endpoint that verifies every delivery with
// the Standard Webhooks library and counts them per webhook-id and type.
type hookReceiver struct {
	srv   *httptest.Server
	ep    events.Endpoint
	mu    sync.Mutex
	got   map[string]int
	types map[string]string
}

func newHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("cluster-webhook-secret-012345678"))
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	h := &hookReceiver{got: map[string]int{}, types: map[string]string{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := wh.Verify(body, r.Header); err != nil {
			t.Errorf("the Standard Webhooks library refused a delivery: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var p events.Payload
		_ = json.Unmarshal(body, &p)
		h.mu.Lock()
		h.got[r.Header.Get("webhook-id")]++
		h.types[r.Header.Get("webhook-id")] = p.Type
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	sec, err := events.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	h.ep = events.Endpoint{URL: h.srv.URL, Secret: sec}
	return h
}

// counts returns how many events arrived, how many deliveries, and the
// events by type.
func (h *hookReceiver) counts() (events, deliveries int, byType map[string]int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	byType = map[string]int{}
	for id, n := range h.got {
		deliveries += n
		byType[h.types[id]]++
	}
	return len(h.got), deliveries, byType
}

// await waits (bounded) until n events arrived, then a little more, and
// checks each arrived once.
func (h *hookReceiver) await(t *testing.T, n int) map[string]int {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for got, _, _ := h.counts(); got < n; got, _, _ = h.counts() {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events delivered", got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // more polls on every instance: nothing is sent again
	got, d, byType := h.counts()
	if got != n || d != n {
		t.Errorf("receiver got %d events in %d deliveries, want %d events once each", got, d, n)
	}
	return byType
}

// TestThreeInstancesDeliverEachEventOnce: three engines on one Redis
// each run a deliverer; connections completed on every instance produce
// connection.created events, and the receiver (verifying with the
// Standard Webhooks library) gets each exactly once.
func TestThreeInstancesDeliverEachEventOnce(t *testing.T) {
	h := newHookReceiver(t)
	c := newCluster(t, clusterOptions{webhooks: []events.Endpoint{h.ep}})
	const users = 12
	for u := range users {
		c.connect(fmt.Sprintf("hook-user-%d", u), u%3, (u+1)%3, (u+2)%3)
	}
	h.await(t, users)
}

// TestOutboxOnRedisCluster: on a real Redis Cluster, an event is written
// in the same MULTI as its connection (the event key shares the
// connection's hash slot), for a create and a delete, and three engines
// deliver each once.
func TestOutboxOnRedisCluster(t *testing.T) {
	cl := redistest.StartCluster(t)
	h := newHookReceiver(t)
	c := newCluster(t, clusterOptions{instances: 3, redis: &redisstore.Config{Addrs: cl.Addrs()}, webhooks: []events.Endpoint{h.ep},
		idp: providertest.Options{RequirePKCE: true, AccessTokenTTL: time.Hour}})
	const users = 4
	for u := range users {
		c.connect(fmt.Sprintf("cluster-hook-%d", u), u%3, (u+1)%3, (u+2)%3)
	}
	for u := range 2 {
		id := store.ConnectionID(providerID, fmt.Sprintf("cluster-hook-%d", u))
		if err := c.node(u).engine.Disconnect(context.Background(), id); err != nil {
			t.Fatalf("Disconnect: %v", err)
		}
	}
	byType := h.await(t, users+2)
	if byType[events.ConnectionCreated] != users || byType[events.ConnectionDisconnected] != 2 {
		t.Errorf("events by type = %v, want %d connection.created and 2 connection.disconnected", byType, users)
	}
}
