package sweeper_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/authengine/authengine/authflow"
	"github.com/authengine/authengine/engine"
	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/sweeper"
	"github.com/authengine/authengine/internal/enginetest"
	"github.com/authengine/authengine/internal/providertest"
	"github.com/authengine/authengine/internal/redistest"
)

// TestMain fails the package when a test leaves a goroutine running.
func TestMain(m *testing.M) { redistest.MainNoLeaks(m) }

const redirect = "https://engine.example.com/oauth/callback"

// cluster is n engines sharing one store, one clock and one stand-in
// provider that rotates refresh tokens (a second use of one revokes the
// chain, so a double refresh shows).
type cluster struct {
	t       *testing.T
	clock   *enginetest.Clock
	idp     *providertest.Provider
	engines []*engine.Engine
	stores  []store.Store
}

// newCluster opens the store once; with separate, each further engine
// opens its own client of it (Redis), else all share the first (bolt
// locks its file).
func newCluster(t *testing.T, n int, open func(t *testing.T, now func() time.Time) store.Store, separate bool) *cluster {
	t.Helper()
	c := &cluster{t: t, clock: &enginetest.Clock{}}
	c.idp = providertest.New(t, providertest.Options{RedirectURI: redirect, RotateRefreshTokens: true, AccessTokenTTL: time.Hour, Now: c.clock.Now})
	p, err := authflow.Compile(c.idp.Config("hooli"), redirect)
	if err != nil {
		t.Fatal(err)
	}
	sealer := enginetest.Sealer(t)
	shared := open(t, c.clock.Now)
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	for i := range n {
		st := shared
		if i > 0 && separate {
			st = open(t, c.clock.Now) // another client of the same Redis
		}
		eng, err := engine.New(engine.Options{
			Providers: map[string]*authflow.Provider{"hooli": p}, Store: st, Sealer: sealer, HTTPClient: client,
			PublicURL: "https://engine.example.com", AllowPrivateEndpoints: true,
			Logger: slog.New(slog.DiscardHandler), Now: c.clock.Now,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := eng.Close(ctx); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		c.engines = append(c.engines, eng)
		c.stores = append(c.stores, st)
	}
	return c
}

// connect authorizes user at the stand-in through engine 0.
func (c *cluster) connect(user string) string {
	c.t.Helper()
	ctx := context.Background()
	eng := c.engines[0]
	start, err := eng.Authorize(ctx, engine.AuthorizeRequest{UserID: user, ProviderID: "hooli"})
	if err != nil {
		c.t.Fatal(err)
	}
	cb, err := c.idp.Consent(ctx, start.URL)
	if err != nil {
		c.t.Fatal(err)
	}
	u, _ := url.Parse(cb)
	if res, err := eng.Callback(ctx, engine.CallbackQuery{State: u.Query().Get("state"), Code: u.Query().Get("code")}); err != nil || res.Status != store.FlowCompleted {
		c.t.Fatalf("callback: %+v, %v", res, err)
	}
	return store.ConnectionID("hooli", user)
}

func (c *cluster) sweeper(i int, idle time.Duration) *sweeper.Sweeper {
	return sweeper.New(sweeper.Options{Engine: c.engines[i], Locker: c.stores[i], Window: 10 * time.Minute, IdleAfter: idle, Lease: time.Second})
}

func redisStore(t *testing.T, now func() time.Time) store.Store {
	return enginetest.RedisStore(t, now)
}

func boltStore(t *testing.T, now func() time.Time) store.Store {
	return enginetest.BoltStore(t, now)
}

func TestNearExpiryConnectionIsRefreshedOnceAcrossThreeInstances(t *testing.T) {
	for name, tc := range map[string]struct {
		open     func(*testing.T, func() time.Time) store.Store
		separate bool
	}{
		"redis, three instances":          {redisStore, true},
		"bolt, three engines on one file": {boltStore, false},
	} {
		t.Run(name, func(t *testing.T) {
			c := newCluster(t, 3, tc.open, tc.separate)
			near := c.connect("ada")
			ctx := context.Background()
			c.clock.Advance(55 * time.Minute) // ada's token expires in 5 min, within the window
			c.connect("bob")                  // bob's expires in an hour
			before := c.idp.Counts().Refreshes

			var wg sync.WaitGroup
			var mu sync.Mutex
			total := 0
			for i := range c.engines {
				sw := c.sweeper(i, 0)
				wg.Go(func() {
					n, err := sw.Sweep(ctx)
					if err != nil {
						t.Errorf("sweep %d: %v", i, err)
					}
					mu.Lock()
					total += n
					mu.Unlock()
				})
			}
			wg.Wait()
			// Passes that ran after the first find nothing due.
			for i := range c.engines {
				n, err := c.sweeper(i, 0).Sweep(ctx)
				if err != nil {
					t.Fatal(err)
				}
				total += n
			}
			got := c.idp.Counts().Refreshes - before
			if got != 1 || total != 1 {
				t.Fatalf("provider refreshes %d, sweeps reported %d; want exactly 1 (ada's, once)", got, total)
			}
			if r := c.idp.Counts().Replays; r != 0 {
				t.Fatalf("%d refresh tokens were used twice", r)
			}
			conn, err := c.stores[0].GetConnection(ctx, near)
			if err != nil || conn.Status != store.ConnectionConnected || !conn.ExpiresAt.After(c.clock.Now().Add(50*time.Minute)) {
				t.Fatalf("after the sweep: %+v, %v; want connected with a fresh expiry", conn, err)
			}
		})
	}
}

func TestSweepLeavesFreshConnectionsAndKeepsIdleOnesAlive(t *testing.T) {
	c := newCluster(t, 1, boltStore, false)
	ctx := context.Background()
	c.connect("ada")
	sw := c.sweeper(0, 0)
	if n, err := sw.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("a fresh connection was refreshed: %d, %v", n, err)
	}
	// A token that never expires is refreshed only when idle.
	c.clock.Advance(20 * time.Minute)
	if n, _ := c.sweeper(0, time.Hour).Sweep(ctx); n != 0 {
		t.Fatalf("a connection idle for 20 min was refreshed with idle_after 1h")
	}
	if n, _ := c.sweeper(0, 15*time.Minute).Sweep(ctx); n != 1 {
		t.Fatalf("a connection idle for 20 min was not refreshed with idle_after 15m")
	}
}

func TestSweeperStopsWithTheEngine(t *testing.T) {
	c := newCluster(t, 1, boltStore, false)
	sw := sweeper.New(sweeper.Options{Engine: c.engines[0], Locker: c.stores[0], Interval: 10 * time.Millisecond})
	if !c.engines[0].Go(sw.Run) {
		t.Fatal("the engine refused to run the sweeper")
	}
	time.Sleep(50 * time.Millisecond) // a few passes
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.engines[0].Close(ctx); err != nil {
		t.Fatalf("Close with a running sweeper: %v", err)
	}
}
