package redis_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/redis"
	"github.com/authengine/authengine/internal/redistest"
)

// expectSignal fails t unless ch delivers within d.
func expectSignal(t *testing.T, what string, ch <-chan struct{}, d time.Duration) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("%s: no signal within %v", what, d)
	}
}

// drain empties a signal channel.
func drain(ch <-chan struct{}) {
	select {
	case <-ch:
	default:
	}
}

func testConnection(provider, user string) store.Connection {
	return store.Connection{
		ID:         store.ConnectionID(provider, user),
		UserID:     user,
		ProviderID: provider,
		Status:     store.ConnectionConnected,
		Scopes:     []string{"repo"},
		Sealed:     []byte("sealed"),
	}
}

func put(t testing.TB, s *redis.Store, c store.Connection) store.Connection {
	t.Helper()
	got, err := s.UpdateConnection(context.Background(), c.ID, func(store.Connection, bool) (store.Connection, error) { return c, nil })
	if err != nil {
		t.Fatalf("UpdateConnection: %v", err)
	}
	return got
}

func testFlow(now time.Time, n int) store.Flow {
	return store.Flow{
		ID:        "flow-" + strconv.Itoa(n) + "-" + strconv.FormatInt(now.UnixNano(), 36),
		StateHash: store.HashState(fmt.Sprint("state", n, now.UnixNano())),
		UserID:    "u",
		Status:    store.FlowPending,
		CreatedAt: now,
		UpdatedAt: now,
		ExpiresAt: now.Add(10 * time.Minute),
	}
}

func TestKeyLayout(t *testing.T) {
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Millisecond)
	s, client, prefix := newStore(t, func() time.Time { return now })
	f := testFlow(now, 1)
	if err := s.CreateFlow(ctx, f); err != nil {
		t.Fatalf("CreateFlow: %v", err)
	}
	c := put(t, s, testConnection("github", "alice"))
	if err := s.CreateProvider(ctx, store.ProviderRecord{ID: "acme"}); err != nil {
		t.Fatalf("CreateProvider: %v", err)
	}
	if _, err := s.Lock(ctx, "refresh", time.Minute); err != nil {
		t.Fatalf("Lock: %v", err)
	}

	// TTL = ExpiresAt - now + 5m grace; allow a second of slack.
	wantFlowTTL := 15 * time.Minute
	tests := []struct {
		name, key string
		ttlMin    time.Duration // 0: no TTL
		ttlMax    time.Duration
	}{
		{"the flow lives under its hash-tagged id with a GC TTL past expiry", prefix + "flow:{" + f.ID + "}", wantFlowTTL - time.Second, wantFlowTTL},
		{"the state index lives under its hash with the same TTL", prefix + "state:{" + f.StateHash + "}", wantFlowTTL - time.Second, wantFlowTTL},
		{"a connection has no TTL", prefix + "conn:{" + c.ID + "}", 0, 0},
		{"the connection index is one sorted set", prefix + "conns", 0, 0},
		{"a provider has no TTL", prefix + "provider:{acme}", 0, 0},
		{"the provider index is one set", prefix + "providers", 0, 0},
		{"a lock expires by its lease", prefix + "lock:{refresh}", time.Minute - time.Second, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ttl, err := client.PTTL(ctx, tt.key).Result()
			if err != nil {
				t.Fatalf("PTTL: %v", err)
			}
			switch {
			case ttl == -2*time.Nanosecond || ttl == -2*time.Millisecond:
				t.Fatalf("key %q does not exist", tt.key)
			case tt.ttlMax == 0 && ttl >= 0:
				t.Fatalf("key %q has TTL %v, want none", tt.key, ttl)
			case tt.ttlMax > 0 && (ttl < tt.ttlMin || ttl > tt.ttlMax):
				t.Fatalf("key %q has TTL %v, want within [%v, %v]", tt.key, ttl, tt.ttlMin, tt.ttlMax)
			}
		})
	}
}

func TestListSkipsStaleIndexEntries(t *testing.T) {
	ctx := t.Context()
	s, client, prefix := newStore(t, time.Now)
	put(t, s, testConnection("github", "alice"))
	// An id indexed whose record never got written (a crash between the
	// index and the record) must not show up or be counted.
	if err := client.ZAdd(ctx, prefix+"conns", goredis.Z{Member: store.ConnectionID("github", "ghost")}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := client.SAdd(ctx, prefix+"providers", "ghost").Err(); err != nil {
		t.Fatal(err)
	}
	list, total, err := s.ListConnections(ctx, store.ConnectionFilter{}, 0, 10)
	if err != nil || total != 1 || len(list) != 1 || list[0].UserID != "alice" {
		t.Fatalf("ListConnections = %d of %d, %v; want alice only", len(list), total, err)
	}
	providers, err := s.ListProviders(ctx)
	if err != nil || len(providers) != 0 {
		t.Fatalf("ListProviders = %v, %v; want none", providers, err)
	}
}

func TestCorruptRecordIsAnErrorNotAPanic(t *testing.T) {
	ctx := t.Context()
	s, client, prefix := newStore(t, time.Now)
	id := store.ConnectionID("github", "alice")
	if err := client.Set(ctx, prefix+"conn:{"+id+"}", "{not json", 0).Err(); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetConnection(ctx, id)
	if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("GetConnection of a corrupt record: err = %v, want a decode error", err)
	}
}

func TestTwoStoresShareNotificationsAndLocks(t *testing.T) {
	ctx := t.Context()
	url, prefix := redistest.URL(t), redistest.Prefix(t)
	cleanPrefix(t, url, prefix)
	a := redis.New(newClient(t, url), redis.Options{KeyPrefix: prefix})
	b := redis.New(newClient(t, url), redis.Options{KeyPrefix: prefix})
	t.Cleanup(func() { _ = a.Close(); _ = b.Close() })

	t.Run("a notify on one instance wakes a subscriber on the other", func(t *testing.T) {
		signals, cancel := store.SubscribeChan(t.Context(), b, "flow-1")
		defer cancel()
		drain(signals)
		if err := a.Notify(ctx, "flow-1"); err != nil {
			t.Fatalf("Notify: %v", err)
		}
		expectSignal(t, "subscriber on b", signals, 5*time.Second)
	})
	t.Run("a lock held by one instance is held for the other", func(t *testing.T) {
		token, err := a.Lock(ctx, "conn-1", time.Minute)
		if err != nil {
			t.Fatalf("a.Lock: %v", err)
		}
		if _, err := b.Lock(ctx, "conn-1", time.Minute); !errors.Is(err, store.ErrLockHeld) {
			t.Fatalf("b.Lock while a holds it: err = %v, want ErrLockHeld", err)
		}
		if err := b.Unlock(ctx, "conn-1", "forged"); err != nil {
			t.Fatalf("b.Unlock with a forged token: %v", err)
		}
		if _, err := b.Lock(ctx, "conn-1", time.Minute); !errors.Is(err, store.ErrLockHeld) {
			t.Fatalf("b.Lock after a forged unlock: err = %v, want ErrLockHeld", err)
		}
		if err := a.Unlock(ctx, "conn-1", token); err != nil {
			t.Fatalf("a.Unlock: %v", err)
		}
		if _, err := b.Lock(ctx, "conn-1", time.Minute); err != nil {
			t.Fatalf("b.Lock after a released it: %v", err)
		}
	})
	t.Run("stores with different prefixes do not hear each other", func(t *testing.T) {
		other := redis.New(newClient(t, url), redis.Options{KeyPrefix: redistest.Prefix(t)})
		defer other.Close()
		signals, cancel := store.SubscribeChan(t.Context(), other, "flow-2")
		defer cancel()
		drain(signals)
		if err := a.Notify(ctx, "flow-2"); err != nil {
			t.Fatalf("Notify: %v", err)
		}
		select {
		case <-signals:
			t.Fatal("a store under another prefix got the signal")
		case <-time.After(300 * time.Millisecond):
		}
	})
}

func TestIncrementsAcrossTwoStoresAreNeverLost(t *testing.T) {
	const goroutines = 50
	ctx := t.Context()
	url, prefix := redistest.URL(t), redistest.Prefix(t)
	cleanPrefix(t, url, prefix)
	stores := []*redis.Store{
		redis.New(newClient(t, url), redis.Options{KeyPrefix: prefix}),
		redis.New(newClient(t, url), redis.Options{KeyPrefix: prefix}),
	}
	c := testConnection("github", "counter")
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	conflicts := 0
	start := make(chan struct{})
	for i := range goroutines {
		wg.Go(func() {
			<-start
			s := stores[i%2]
			for {
				_, err := s.UpdateConnection(ctx, c.ID, func(cur store.Connection, exists bool) (store.Connection, error) {
					if !exists {
						cur = c
						cur.Sealed = []byte("0")
					}
					n, err := strconv.Atoi(string(cur.Sealed))
					if err != nil {
						return cur, err
					}
					cur.Sealed = []byte(strconv.Itoa(n + 1))
					return cur, nil
				})
				mu.Lock()
				if errors.Is(err, store.ErrConflict) {
					conflicts++
					mu.Unlock()
					continue
				}
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
				return
			}
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		t.Errorf("UpdateConnection: %v", err)
	}
	got, err := stores[0].GetConnection(ctx, c.ID)
	if err != nil {
		t.Fatalf("GetConnection: %v", err)
	}
	if string(got.Sealed) != strconv.Itoa(goroutines) || got.Version != goroutines {
		t.Fatalf("counter = %s at version %d after %d increments, want %d at version %d (lost update)",
			got.Sealed, got.Version, goroutines, goroutines, goroutines)
	}
	t.Logf("%d increments, %d ErrConflict retries by callers", goroutines, conflicts)
}

// fastFailClient connects to addr with timeouts small enough that a dead
// server is noticed at once, and no retries.
func fastFailClient(t *testing.T, addr string) goredis.UniversalClient {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{
		Addr:          addr,
		DialTimeout:   200 * time.Millisecond,
		ReadTimeout:   200 * time.Millisecond,
		WriteTimeout:  200 * time.Millisecond,
		PoolTimeout:   200 * time.Millisecond,
		MaxRetries:    -1,
		DialerRetries: 1,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestServerDownIsUnavailableAndRecovers(t *testing.T) {
	srv := redistest.Private(t, redistest.PrivateOptions{AppendOnly: true})
	now := time.Now().UTC().Truncate(time.Millisecond)
	s := redis.New(fastFailClient(t, srv.Addr()), redis.Options{Now: func() time.Time { return now }})
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()

	var conns []store.Connection
	for i := range 10 {
		conns = append(conns, put(t, s, testConnection("github", "user-"+strconv.Itoa(i))))
	}
	flow := testFlow(now, 1)
	if err := s.CreateFlow(ctx, flow); err != nil {
		t.Fatalf("CreateFlow: %v", err)
	}
	if err := s.CreateProvider(ctx, store.ProviderRecord{ID: "acme", Sealed: []byte("x")}); err != nil {
		t.Fatalf("CreateProvider: %v", err)
	}

	srv.Stop()

	keep := func(f store.Flow) (store.Flow, error) { return f, nil }
	ops := []struct {
		name string
		op   func(context.Context) error
	}{
		{"Ping", s.Ping},
		{"GetConnection", func(ctx context.Context) error { _, err := s.GetConnection(ctx, conns[0].ID); return err }},
		{"UpdateConnection", func(ctx context.Context) error {
			_, err := s.UpdateConnection(ctx, conns[0].ID, func(c store.Connection, _ bool) (store.Connection, error) { return c, nil })
			return err
		}},
		{"DeleteConnection", func(ctx context.Context) error { return s.DeleteConnection(ctx, conns[0].ID) }},
		{"ListConnections", func(ctx context.Context) error {
			_, _, err := s.ListConnections(ctx, store.ConnectionFilter{}, 0, 10)
			return err
		}},
		{"CreateFlow", func(ctx context.Context) error { return s.CreateFlow(ctx, testFlow(now, 2)) }},
		{"GetFlow", func(ctx context.Context) error { _, err := s.GetFlow(ctx, flow.ID); return err }},
		{"ConsumeState", func(ctx context.Context) error { _, err := s.ConsumeState(ctx, flow.StateHash); return err }},
		{"UpdateFlow", func(ctx context.Context) error { _, err := s.UpdateFlow(ctx, flow.ID, keep); return err }},
		{"CreateProvider", func(ctx context.Context) error { return s.CreateProvider(ctx, store.ProviderRecord{ID: "new"}) }},
		{"PutProvider", func(ctx context.Context) error { return s.PutProvider(ctx, store.ProviderRecord{ID: "acme"}) }},
		{"GetProvider", func(ctx context.Context) error { _, err := s.GetProvider(ctx, "acme"); return err }},
		{"ListProviders", func(ctx context.Context) error { _, err := s.ListProviders(ctx); return err }},
		{"DeleteProvider", func(ctx context.Context) error { return s.DeleteProvider(ctx, "acme") }},
		{"Lock", func(ctx context.Context) error { _, err := s.Lock(ctx, "l", time.Minute); return err }},
		{"Unlock", func(ctx context.Context) error { return s.Unlock(ctx, "l", "token") }},
		{"Notify", func(ctx context.Context) error { return s.Notify(ctx, flow.ID) }},
	}
	for _, o := range ops {
		t.Run(o.name+" fails fast with ErrUnavailable while Redis is down", func(t *testing.T) {
			begin := time.Now()
			err := o.op(ctx)
			if !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			if d := time.Since(begin); d > 2*time.Second {
				t.Fatalf("took %v to fail, want under 2s", d)
			}
		})
	}

	srv.Start()

	t.Run("the same store serves again by itself and the records survived", func(t *testing.T) {
		deadline := time.Now().Add(10 * time.Second)
		for s.Ping(ctx) != nil {
			if time.Now().After(deadline) {
				t.Fatalf("store did not recover within 10s: %v", s.Ping(ctx))
			}
			time.Sleep(50 * time.Millisecond)
		}
		list, total, err := s.ListConnections(ctx, store.ConnectionFilter{ProviderID: "github"}, 0, 100)
		if err != nil || total != len(conns) {
			t.Fatalf("ListConnections after restart = %d records, %v; want %d", total, err, len(conns))
		}
		want := map[string]bool{}
		for _, c := range conns {
			want[c.ID] = true
		}
		for _, c := range list {
			if !want[c.ID] || c.Version != 1 || string(c.Sealed) != "sealed" {
				t.Errorf("record after restart = %+v, want one of the written ones at version 1", c)
			}
			delete(want, c.ID)
		}
		if _, err := s.ConsumeState(ctx, flow.StateHash); err != nil {
			t.Fatalf("ConsumeState after restart: %v", err)
		}
		if _, err := s.GetProvider(ctx, "acme"); err != nil {
			t.Fatalf("GetProvider after restart: %v", err)
		}
		if _, err := s.UpdateConnection(ctx, conns[0].ID, func(c store.Connection, _ bool) (store.Connection, error) { return c, nil }); err != nil {
			t.Fatalf("UpdateConnection after restart: %v", err)
		}
	})
}

func TestLostSubscriptionWakesEverySubscriber(t *testing.T) {
	tests := []struct {
		name string
		// lose drops the store's subscription connection.
		lose func(t *testing.T, srv *redistest.Server, admin goredis.UniversalClient)
	}{
		{
			name: "after CLIENT KILL TYPE pubsub",
			lose: func(t *testing.T, _ *redistest.Server, admin goredis.UniversalClient) {
				if err := admin.Do(t.Context(), "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
					t.Fatalf("CLIENT KILL: %v", err)
				}
			},
		},
		{
			name: "after a server restart",
			lose: func(_ *testing.T, srv *redistest.Server, _ goredis.UniversalClient) {
				srv.Stop()
				srv.Start()
			},
		},
	}
	for _, tt := range tests {
		t.Run("every subscriber is signalled "+tt.name+" and notifications flow again", func(t *testing.T) {
			srv := redistest.Private(t, redistest.PrivateOptions{})
			s := redis.New(newClient(t, srv.URL()), redis.Options{})
			t.Cleanup(func() { _ = s.Close() })
			a, cancelA := store.SubscribeChan(t.Context(), s, "flow-a")
			defer cancelA()
			b, cancelB := store.SubscribeChan(t.Context(), s, "flow-b")
			defer cancelB()
			drain(a)
			drain(b)

			tt.lose(t, srv, newClient(t, srv.URL()))

			// Nobody notified: the wake-up comes from the re-subscription,
			// because a completion published meanwhile would be lost.
			expectSignal(t, "flow-a after the loss", a, 10*time.Second)
			expectSignal(t, "flow-b after the loss", b, 10*time.Second)

			other := redis.New(newClient(t, srv.URL()), redis.Options{})
			defer other.Close()
			if err := other.Notify(t.Context(), "flow-a"); err != nil {
				t.Fatalf("Notify: %v", err)
			}
			expectSignal(t, "flow-a after a notify from another instance", a, 5*time.Second)
		})
	}
}

func TestCloseLeaksNoGoroutine(t *testing.T) {
	url := redistest.URL(t)
	// Warm up anything process-wide (timers, the race detector) first.
	warm := redis.New(newClient(t, url), redis.Options{KeyPrefix: redistest.Prefix(t)})
	store.SubscribeChan(t.Context(), warm, "warm")
	_ = warm.Close()

	before := runtime.NumGoroutine()
	for range 3 {
		client := newClient(t, url)
		s := redis.New(client, redis.Options{KeyPrefix: redistest.Prefix(t)})
		signals, _ := store.SubscribeChan(t.Context(), s, "flow")
		if err := s.Notify(t.Context(), "flow"); err != nil {
			t.Fatalf("Notify: %v", err)
		}
		expectSignal(t, "before Close", signals, 5*time.Second)
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		_ = client.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSubscribeAfterCloseIsInert(t *testing.T) {
	s, _, _ := newStore(t, time.Now)
	_ = s.Close()
	signals, cancel := store.SubscribeChan(t.Context(), s, "flow")
	cancel()
	select {
	case <-signals:
		t.Fatal("a subscription made after Close received a signal")
	case <-time.After(100 * time.Millisecond):
	}
}

func TestSubscribersFromBeforeRedisCameUpAreWoken(t *testing.T) {
	srv := redistest.Private(t, redistest.PrivateOptions{})
	srv.Stop()
	s := redis.New(fastFailClient(t, srv.Addr()), redis.Options{})
	t.Cleanup(func() { _ = s.Close() })

	begin := time.Now()
	first, cancelFirst := store.SubscribeChan(t.Context(), s, "flow-a")
	defer cancelFirst()
	if d := time.Since(begin); d < 4*time.Second {
		t.Fatalf("the first Subscribe returned after %v without a confirmed subscription, want a bounded wait", d)
	}
	begin = time.Now()
	second, cancelSecond := store.SubscribeChan(t.Context(), s, "flow-b")
	defer cancelSecond()
	if d := time.Since(begin); d > time.Second {
		t.Fatalf("a Subscribe after a timed-out one waited %v, want no wait", d)
	}

	srv.Start()
	expectSignal(t, "first subscriber once Redis is up", first, 10*time.Second)
	expectSignal(t, "second subscriber once Redis is up", second, 10*time.Second)
}

// TestSubscribeHonoursItsContext: with Redis not answering, the first
// Subscribe would wait for a confirmation that cannot come. It returns when
// its caller's context ends, or after Options.SubscribeTimeout, whichever
// is first; it never holds a caller up for the full default timeout.
func TestSubscribeHonoursItsContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "redis://" + ln.Addr().String() + "/0"
	ln.Close() // nothing listens there now

	t.Run("the caller's context ends the wait", func(t *testing.T) {
		client := newClient(t, dead)
		s := redis.New(client, redis.Options{KeyPrefix: redistest.Prefix(t), SubscribeTimeout: time.Minute})
		t.Cleanup(func() { _ = s.Close() })
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, unsubscribe := store.SubscribeChan(ctx, s, "flow")
		defer unsubscribe()
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("Subscribe returned after %s, want about 200ms (its context)", d)
		}
	})
	t.Run("the subscribe timeout is an option", func(t *testing.T) {
		client := newClient(t, dead)
		s := redis.New(client, redis.Options{KeyPrefix: redistest.Prefix(t), SubscribeTimeout: 200 * time.Millisecond})
		t.Cleanup(func() { _ = s.Close() })
		start := time.Now()
		_, unsubscribe := store.SubscribeChan(context.Background(), s, "flow")
		defer unsubscribe()
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("Subscribe returned after %s, want about 200ms (SubscribeTimeout)", d)
		}
	})
}
