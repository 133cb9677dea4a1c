package events_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine/events"
	"github.com/authengine/authengine/engine/store"
	redisstore "github.com/authengine/authengine/engine/store/redis"
	"github.com/authengine/authengine/internal/enginetest"
	"github.com/authengine/authengine/internal/redistest"
)

func TestMain(m *testing.M) { redistest.MainNoLeaks(m) }

// testSecret is a whsec_ secret of 32 bytes.
var testSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))

// receiver is a webhook endpoint that verifies every request with the
// Standard Webhooks library and counts the deliveries it accepted per
// webhook-id. While down it answers 503.
type receiver struct {
	t    *testing.T
	srv  *httptest.Server
	down atomic.Bool
	mu   sync.Mutex
	got  map[string]int
	// bodies keeps the accepted payloads by webhook-id.
	bodies map[string]events.Payload
	calls  atomic.Int64
}

func newReceiver(t *testing.T, secret string) *receiver {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{t: t, got: map[string]int{}, bodies: map[string]events.Payload{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.calls.Add(1)
		body, _ := io.ReadAll(req.Body)
		if err := wh.Verify(body, req.Header); err != nil {
			t.Errorf("the Standard Webhooks library refused a delivery: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if r.down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var p events.Payload
		if err := json.Unmarshal(body, &p); err != nil {
			t.Errorf("payload is not JSON: %v", err)
		}
		r.mu.Lock()
		r.got[req.Header.Get("webhook-id")]++
		r.bodies[req.Header.Get("webhook-id")] = p
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) count(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[id]
}

func (r *receiver) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.got {
		n += c
	}
	return n
}

// await waits (bounded) until cond holds.
func await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func endpoint(t *testing.T, url string, types ...string) events.Endpoint {
	t.Helper()
	sec, err := events.ParseSecret(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return events.Endpoint{URL: url, Secret: sec, Events: types}
}

// run starts a deliverer and stops it when the test ends.
func run(t *testing.T, d *events.Deliverer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func appendEvent(t *testing.T, s store.Store, typ, key string) store.Event {
	t.Helper()
	ev, err := events.New(typ, key, time.Now(), events.Data{ProviderID: "github", UserID: "u1", ConnectionID: key, Status: "needs_reauth", Reason: "the provider refused the refresh token"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AppendEvents(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestSignatureIsTheStandardWebhooksOne(t *testing.T) {
	sec, err := events.ParseSecret(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	wh, err := standardwebhooks.NewWebhook(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1_700_000_000, 0)
	body := []byte(`{"type":"connection.created"}`)
	want, err := wh.Sign("evt_1", at, body)
	if err != nil {
		t.Fatal(err)
	}
	if got := events.Sign(sec, "evt_1", at, body); got != want {
		t.Errorf("Sign = %q, the library signs %q", got, want)
	}
	if s := sec.String(); strings.Contains(s, strings.TrimPrefix(testSecret, "whsec_")) {
		t.Errorf("Secret.String() leaks the key: %q", s)
	}
}

func TestParseSecretRefusesWhatIsNotAKey(t *testing.T) {
	for _, bad := range []string{"", "notakey", "whsec_", "whsec_!!!", "whsec_" + base64.StdEncoding.EncodeToString([]byte("short"))} {
		if _, err := events.ParseSecret(bad); err == nil {
			t.Errorf("ParseSecret(%q) succeeded", bad)
		} else if key := strings.TrimPrefix(bad, "whsec_"); len(key) > 3 && strings.Contains(err.Error(), key) {
			t.Errorf("ParseSecret error repeats the input: %v", err)
		}
	}
}

func TestEventsAreDeliveredOnceSignedAndThenRemoved(t *testing.T) {
	s := enginetest.BoltStore(t, nil)
	rcv := newReceiver(t, testSecret)
	other := newReceiver(t, testSecret)
	run(t, events.NewDeliverer(events.Options{
		Store: s, Poll: 10 * time.Millisecond,
		Endpoints: []events.Endpoint{endpoint(t, rcv.srv.URL), endpoint(t, other.srv.URL, events.FlowFailed)},
	}))
	ev := appendEvent(t, s, events.ConnectionNeedsReauth, "conn1")
	await(t, "the event is delivered and removed", func() bool {
		_, err := s.GetEvent(t.Context(), ev.ID)
		return rcv.count(ev.ID) == 1 && err != nil
	})
	rcv.mu.Lock()
	p := rcv.bodies[ev.ID]
	rcv.mu.Unlock()
	if p.Type != events.ConnectionNeedsReauth || p.Data.ConnectionID != "conn1" || p.Data.ProviderID != "github" || p.Data.UserID != "u1" || p.Data.Status != "needs_reauth" || p.Data.Reason == "" {
		t.Errorf("payload = %+v", p)
	}
	time.Sleep(50 * time.Millisecond) // a few more polls: nothing is sent again
	if n := rcv.count(ev.ID); n != 1 {
		t.Errorf("delivered %d times, want once", n)
	}
	if n := other.calls.Load(); n != 0 {
		t.Errorf("an endpoint subscribed to flow.failed only got %d requests for connection.needs_reauth", n)
	}
}

func TestAReceiverDownIsRetriedThenDelivered(t *testing.T) {
	s := enginetest.BoltStore(t, nil)
	rcv := newReceiver(t, testSecret)
	rcv.down.Store(true)
	run(t, events.NewDeliverer(events.Options{
		Store: s, Poll: 5 * time.Millisecond, FirstRetry: 20 * time.Millisecond, MaxRetry: 40 * time.Millisecond,
		Endpoints: []events.Endpoint{endpoint(t, rcv.srv.URL)},
	}))
	ev := appendEvent(t, s, events.ConnectionCreated, "conn2")
	await(t, "three attempts failed", func() bool { return rcv.calls.Load() >= 3 })
	got, err := s.GetEvent(t.Context(), ev.ID)
	if err != nil || got.Status != store.EventPending || got.Attempts < 2 || !strings.Contains(got.LastError, "answered 503") {
		t.Fatalf("event while the receiver is down = %+v, %v", got, err)
	}
	if strings.Contains(got.LastError, rcv.srv.URL+"/") {
		t.Errorf("LastError repeats the URL's path: %q", got.LastError)
	}
	rcv.down.Store(false)
	await(t, "the event is delivered once the receiver is back", func() bool { return rcv.count(ev.ID) == 1 })
	await(t, "the delivered event is removed", func() bool {
		_, err := s.GetEvent(t.Context(), ev.ID)
		return err != nil
	})
}

func TestAttemptsAreBoundedThenTheEventIsFailedAndCanBeReplayed(t *testing.T) {
	s := enginetest.BoltStore(t, nil)
	rcv := newReceiver(t, testSecret)
	rcv.down.Store(true)
	run(t, events.NewDeliverer(events.Options{
		Store: s, Poll: 5 * time.Millisecond, FirstRetry: time.Millisecond, MaxRetry: 2 * time.Millisecond, MaxAttempts: 3,
		Endpoints: []events.Endpoint{endpoint(t, rcv.srv.URL)},
	}))
	ev := appendEvent(t, s, events.FlowFailed, "flow1")
	await(t, "the event is failed", func() bool {
		got, err := s.GetEvent(t.Context(), ev.ID)
		return err == nil && got.Status == store.EventFailed
	})
	time.Sleep(30 * time.Millisecond)
	if n := rcv.calls.Load(); n != 3 {
		t.Errorf("receiver got %d attempts, want MaxAttempts = 3", n)
	}
	failed, total, err := s.ListEvents(t.Context(), store.EventFailed, 0, 10)
	if err != nil || total != 1 || failed[0].ID != ev.ID {
		t.Fatalf("ListEvents(failed) = %v, %d, %v", failed, total, err)
	}
	rcv.down.Store(false)
	if _, err := events.Replay(t.Context(), s, ev.ID, time.Now()); err != nil {
		t.Fatalf("Replay: %v", err)
	}
	await(t, "the replayed event is delivered", func() bool { return rcv.count(ev.ID) == 1 })
	if _, err := events.Replay(t.Context(), s, "evt_missing", time.Now()); err == nil {
		t.Error("Replay of a missing event succeeded")
	}
}

func TestThreeInstancesOnRedisDeliverEachEventOnce(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t)
	rcv := newReceiver(t, testSecret)
	var stores []store.Store
	for range 3 {
		s, err := redisstore.Open(redisstore.Config{URL: url, KeyPrefix: prefix}, redisstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		stores = append(stores, s)
	}
	for _, s := range stores {
		run(t, events.NewDeliverer(events.Options{
			Store: s, Poll: 5 * time.Millisecond, Lease: 300 * time.Millisecond,
			Endpoints: []events.Endpoint{endpoint(t, rcv.srv.URL)},
		}))
	}
	var ids []string
	for i := range 30 {
		ev := appendEvent(t, stores[i%3], events.ConnectionCreated, fmt.Sprintf("conn-%d", i))
		ids = append(ids, ev.ID)
	}
	await(t, "every event is delivered", func() bool { return rcv.total() >= len(ids) })
	time.Sleep(100 * time.Millisecond)
	for _, id := range ids {
		if n := rcv.count(id); n != 1 {
			t.Errorf("event %s delivered %d times, want once", id, n)
		}
	}
	if n := rcv.total(); n != len(ids) {
		t.Errorf("receiver accepted %d deliveries, want %d", n, len(ids))
	}
}

func TestConfigKnowsEveryEventType(t *testing.T) {
	if !slices.Equal(config.WebhookEventTypes, events.Types) {
		t.Errorf("config.WebhookEventTypes = %v, events.Types = %v: keep them the same", config.WebhookEventTypes, events.Types)
	}
}
