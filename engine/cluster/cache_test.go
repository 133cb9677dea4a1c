package cluster_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authengine/authengine/engine"
	"github.com/authengine/authengine/engine/store"
	redisstore "github.com/authengine/authengine/engine/store/redis"
	"github.com/authengine/authengine/internal/providertest"
	"github.com/authengine/authengine/internal/redistest"
)

// invalidationBound is how soon a connection change on one instance must
// be visible on every other.
const invalidationBound = 50 * time.Millisecond

// ask is instance i's engine.Authorize for user's read token, in process.
func (c *cluster) ask(i int, user string, scopes ...string) (engine.Authorization, error) {
	if scopes == nil {
		scopes = []string{"read"}
	}
	return c.node(i).engine.Authorize(context.Background(), engine.AuthorizeRequest{UserID: user, ProviderID: providerID, Scopes: scopes})
}

// completeOn runs the consent of a pending authorization and delivers its
// callback to instance i.
func (c *cluster) completeOn(i int, a engine.Authorization) {
	c.t.Helper()
	if a.Status != engine.StatusPending || a.URL == "" {
		c.t.Fatalf("want a pending authorization with a URL, got %+v", a.Status)
	}
	if code, err := c.callback(context.Background(), i, c.consent(a.URL)); err != nil || code != http.StatusOK {
		c.t.Fatalf("callback on instance %d: HTTP %d %v", i, code, err)
	}
}

// visible waits until every instance in on answers user's token request
// as ok says, polling each from its own goroutine, and returns the latest
// time one of them first did so, measured from since, and how many
// answers before that did not (served from a cache not yet invalidated).
func (c *cluster) visible(on []int, user string, since time.Time, ok func(engine.Authorization) bool) (time.Duration, int) {
	c.t.Helper()
	var (
		mu    sync.Mutex
		worst time.Duration
		stale int
		wg    sync.WaitGroup
		fails []string
	)
	for _, i := range on {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				a, err := c.ask(i, user)
				took := time.Since(since)
				if err == nil && ok(a) {
					mu.Lock()
					worst, stale = max(worst, took), stale+n
					mu.Unlock()
					return
				}
				if took > 5*time.Second {
					mu.Lock()
					fails = append(fails, fmt.Sprintf("instance %d: %s %v", i, a.Status, err))
					mu.Unlock()
					return
				}
				time.Sleep(100 * time.Microsecond)
			}
		}()
	}
	wg.Wait()
	if len(fails) > 0 {
		c.t.Fatalf("the change was not visible within 5s: %v", fails)
	}
	return worst, stale
}

// TestCacheInvalidationWorstCase makes 1,000 connection changes
// (refreshes, re-authorizations, disconnects, deletes), each on one of
// three instances with their own Redis clients and every instance holding
// the connection in memory, and measures how long each takes to be
// visible on the others. The worst case must be within 50 ms. A refreshed
// (rotated) token is never served after that bound, and no rotated refresh
// token is ever used again.
func TestCacheInvalidationWorstCase(t *testing.T) {
	const changes = 1000
	c := newCluster(t, clusterOptions{instances: 3, idp: providertest.Options{
		RequirePKCE: true, RotateRefreshTokens: true, AccessTokenTTL: time.Hour}})
	const user = "ada"
	id := store.ConnectionID(providerID, user)
	c.connect(user, 0, 1, 2)
	all := []int{0, 1, 2}
	others := func(w int) []int { return slices.DeleteFunc(slices.Clone(all), func(i int) bool { return i == w }) }
	completedWith := func(token string) func(engine.Authorization) bool {
		return func(a engine.Authorization) bool { return a.Status == engine.StatusCompleted && a.Token == token }
	}
	pending := func(a engine.Authorization) bool { return a.Status == engine.StatusPending }
	token := func(w int) string {
		a, err := c.ask(w, user)
		if err != nil || a.Status != engine.StatusCompleted {
			t.Fatalf("instance %d after the change: %+v %v", w, a.Status, err)
		}
		return a.Token
	}
	warm := func() {
		for _, i := range all {
			for range 2 {
				if a, err := c.ask(i, user); err != nil || a.Status != engine.StatusCompleted {
					t.Fatalf("warm instance %d: %+v %v", i, a.Status, err)
				}
			}
		}
	}
	hitsBefore := 0.0
	for _, i := range all {
		hitsBefore += c.metric(i, "authengine_connection_cache_lookups_total", "result", "hit")
	}

	var (
		worst     time.Duration
		worstKind string
		stale     int
		byKind    = map[string]int{}
	)
	record := func(kind string, d time.Duration, n int) {
		byKind[kind]++
		stale += n
		if d > worst {
			worst, worstKind = d, kind
		}
	}
	ctx := context.Background()
	// made measures one change that returned at t0.
	made := func(kind string, t0 time.Time, on []int, ok func(engine.Authorization) bool) {
		d, n := c.visible(on, user, t0, ok)
		record(kind, d, n)
	}
	// reauthorize runs a new authorization of the disconnected user,
	// started and completed on instance r.
	reauthorize := func(r int) {
		a, err := c.ask(r, user)
		if err != nil {
			t.Fatal(err)
		}
		c.completeOn(r, a)
		made("re-authorization", time.Now(), others(r), completedWith(token(r)))
	}
	started := time.Now()
	for k := 0; k < changes; k += 5 {
		w := k % 3
		// A refresh: the provider rotates both tokens.
		warm()
		if _, err := c.node(w).engine.RefreshConnection(ctx, id); err != nil {
			t.Fatalf("refresh on instance %d: %v", w, err)
		}
		made("refresh", time.Now(), others(w), completedWith(token(w)))

		// A disconnect, then a re-authorization on another instance.
		warm()
		if err := c.node(w).engine.Disconnect(ctx, id); err != nil {
			t.Fatalf("disconnect on instance %d: %v", w, err)
		}
		made("disconnect", time.Now(), others(w), pending)
		reauthorize((w + 1) % 3)

		// A delete straight through the store (as a provider's deletion
		// removes its connections), then a re-authorization.
		warm()
		if err := c.node(w).store.DeleteConnection(ctx, id); err != nil {
			t.Fatalf("delete on instance %d: %v", w, err)
		}
		made("delete", time.Now(), all, pending)
		reauthorize(w)
	}
	hits := -hitsBefore
	for _, i := range all {
		hits += c.metric(i, "authengine_connection_cache_lookups_total", "result", "hit")
	}
	t.Logf("invalidation worst case: %s over %d changes (%v; worst: %s) in %s; %d stale answers served before invalidations arrived; %.0f cache hits",
		worst.Round(10*time.Microsecond), changes, byKind, worstKind, time.Since(started).Round(time.Millisecond), stale, hits)
	if worst > invalidationBound {
		t.Errorf("a change took %s to be visible on another instance, want within %s", worst, invalidationBound)
	}
	if hits < changes {
		t.Errorf("only %.0f cache hits: the instances did not answer from memory", hits)
	}
	counts := c.idp.Counts()
	if counts.Replays != 0 || counts.Rejected != 0 {
		t.Errorf("the provider saw %d reused refresh tokens and %d refused requests, want none", counts.Replays, counts.Rejected)
	}
	if v := c.idp.Violations(); len(v) > 0 {
		t.Errorf("protocol violations at the provider: %v", v)
	}
}

// TestCachedTokenInsideTheMarginRefreshesOnce: three instances hold a
// token in memory; once it is inside the refresh margin, 30 concurrent
// requests spread over them cause exactly one refresh.
func TestCachedTokenInsideTheMarginRefreshesOnce(t *testing.T) {
	c := newCluster(t, clusterOptions{instances: 3, idp: providertest.Options{
		RequirePKCE: true, RotateRefreshTokens: true, AccessTokenTTL: time.Hour}})
	first := c.connect("ada", 0, 1, 2).token()
	for i := range 3 {
		for range 2 {
			if a := c.authorize(i, "ada"); a.token() != first {
				t.Fatalf("instance %d: a token other than the connection's", i)
			}
		}
	}
	hits := 0.0
	for i := range 3 {
		hits += c.metric(i, "authengine_connection_cache_lookups_total", "result", "hit")
	}
	if hits < 3 {
		t.Fatalf("%.0f cache hits after six requests; want the token held in memory", hits)
	}
	c.clock.Advance(time.Hour - 30*time.Second) // inside the one-minute margin
	oneRefresh(t, c, 30)
}

// TestCacheOffWhileTheFeedIsDown: the instances answer from memory until
// their change feeds go down; a write made while a feed was down is seen
// once it is back (the cache was emptied before it answered again); while
// Redis is down nothing is answered from memory (503), and once it is
// back the instances answer from the store again.
func TestCacheOffWhileTheFeedIsDown(t *testing.T) {
	srv := redistest.Private(t, redistest.PrivateOptions{AppendOnly: true})
	c := newCluster(t, clusterOptions{redisURL: srv.URL(), idp: providertest.Options{RequirePKCE: true, AccessTokenTTL: time.Hour}})
	admin := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), MaxRetries: -1})
	t.Cleanup(func() { admin.Close() })
	ctx := context.Background()
	c.awaitFeed(true, 5*time.Second)
	token := c.connect("ada", 0, 1, 2).token()
	for i := range 3 {
		if a, err := c.ask(i, "ada"); err != nil || a.Token != token {
			t.Fatalf("instance %d: %+v %v", i, a.Status, err)
		}
	}

	// A write no feed announces (the record removed behind the engines'
	// backs, as if its announcement had been lost): the instances still
	// answer from memory...
	if err := admin.Del(ctx, c.prefix+"conn:{"+store.ConnectionID(providerID, "ada")+"}").Err(); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if a, err := c.ask(i, "ada"); err != nil || a.Token != token {
			t.Fatalf("instance %d before the feed went down: %+v %v; want the token held in memory", i, a.Status, err)
		}
	}
	// ...until their subscriptions are killed: once each feed is back, its
	// cache was emptied, so the missing record shows.
	flushes := func(i int) float64 {
		return c.metric(i, "authengine_connection_cache_invalidations_total", "kind", "flush")
	}
	var before [3]float64
	for i := range 3 {
		before[i] = flushes(i)
	}
	killed := time.Now()
	if err := admin.ClientKillByFilter(ctx, "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		// Down (one flush), then up again (another).
		for flushes(i) < before[i]+2 || !c.node(i).engine.ConnectionCacheUp() {
			if time.Since(killed) > 5*time.Second {
				t.Fatalf("instance %d: the feed did not go down and come back within 5s of the kill", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	back := time.Since(killed)
	t.Logf("subscriptions killed: every cache answering again %s later", back.Round(time.Millisecond))
	for i := range 3 {
		if a, err := c.ask(i, "ada"); err != nil || a.Status != engine.StatusPending {
			t.Fatalf("instance %d after its feed came back: %+v %v; want a new authorization (the cache emptied)", i, a.Status, err)
		}
	}

	// Redis stopped: no instance answers from memory.
	token = c.connect("ada", 1, 2, 0).token()
	for i := range 3 {
		if a, err := c.ask(i, "ada"); err != nil || a.Token != token {
			t.Fatalf("instance %d: %+v %v", i, a.Status, err)
		}
	}
	srv.Stop()
	down := c.awaitFeed(false, redisstore.HeartbeatTimeout+redisstore.HeartbeatInterval)
	t.Logf("Redis stopped: every cache off %s later", down.Round(time.Millisecond))
	for i := range 3 {
		var out authResp
		code, err := c.call(ctx, i, "POST", "/v1/auth/authorize", authorizeBody("ada"), &out)
		if err != nil || code != http.StatusServiceUnavailable || out.Name != "store_unavailable" {
			t.Fatalf("instance %d while Redis is down: HTTP %d %q %v; want 503 store_unavailable", i, code, out.Name, err)
		}
	}
	srv.Start()
	c.awaitFeed(true, 10*time.Second)
	for i := range 3 {
		if a, err := c.ask(i, "ada"); err != nil || a.Token != token {
			t.Fatalf("instance %d after Redis came back: %+v %v", i, a.Status, err)
		}
	}
}
