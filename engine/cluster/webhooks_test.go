package cluster_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/authengine/authengine/engine/events"
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
func TestThreeInstancesDeliverEachEventOnce(t *testing.T) {
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("cluster-webhook-secret-012345678"))
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string]int{}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := wh.Verify(body, r.Header); err != nil {
			t.Errorf("the Standard Webhooks library refused a delivery: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		got[r.Header.Get("webhook-id")]++
		mu.Unlock()
	}))
	defer rcv.Close()
	sec, err := events.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, clusterOptions{webhooks: []events.Endpoint{{URL: rcv.URL, Secret: sec}}})
	const users = 12
	for u := range users {
		c.connect(fmt.Sprintf("hook-user-%d", u), u%3, (u+1)%3, (u+2)%3)
	}
	count := func() (events, deliveries int) {
		mu.Lock()
		defer mu.Unlock()
		for _, n := range got {
			deliveries += n
		}
		return len(got), deliveries
	}
	deadline := time.Now().Add(15 * time.Second)
	for n, _ := count(); n < users; n, _ = count() {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events delivered", n, users)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // more polls on every instance: nothing is sent again
	if n, d := count(); n != users || d != users {
		t.Errorf("receiver got %d events in %d deliveries, want %d events once each", n, d, users)
	}
}
