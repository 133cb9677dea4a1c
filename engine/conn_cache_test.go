package engine

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/authengine/authengine/internal/redistest"
)

// hits is how many token requests engine r answered from its cache.
func (r *rig) hits() int { return int(testutil.ToFloat64(r.eng.metrics.connCache.hits)) }

// TestConnectionCacheOnOneEmbeddedStore runs two engines over one bbolt
// store (as two engines in one process would): a token is served from
// memory once read, and every write on either engine is seen by the other
// at once.
func TestConnectionCacheOnOneEmbeddedStore(t *testing.T) {
	a := newRig(t, rigOptions{})
	b := newRig(t, rigOptions{share: a})
	ctx := context.Background()
	id := a.connect("ada")

	first, err := a.authorize(ctx, "ada")
	mustComplete(t, "first authorize", first, err)
	second, err := a.authorize(ctx, "ada")
	mustComplete(t, "second authorize", second, err)
	if a.hits() != 1 || second.Token != first.Token {
		t.Fatalf("second authorize: %d cache hits, same token %v; want 1 hit and the same token", a.hits(), second.Token == first.Token)
	}
	onB, err := b.authorize(ctx, "ada")
	mustComplete(t, "authorize on b", onB, err)
	if _, err := b.authorize(ctx, "ada"); err != nil || b.hits() != 1 {
		t.Fatalf("b's second authorize: %v, %d hits; want a hit", err, b.hits())
	}

	// A refresh on a: b serves the new token on its very next request.
	if _, err := a.eng.RefreshConnection(ctx, id); err != nil {
		t.Fatalf("RefreshConnection: %v", err)
	}
	refreshed := a.storedToken(id).AccessToken
	if refreshed == first.Token {
		t.Fatal("the refresh kept the access token")
	}
	for _, r := range []*rig{a, b} {
		got, err := r.authorize(ctx, "ada")
		mustComplete(t, "authorize after the refresh", got, err)
		if got.Token != refreshed {
			t.Fatal("an engine served the token from before the refresh")
		}
	}

	// A disconnect on b: a starts a new authorization.
	if err := b.eng.Disconnect(ctx, id); err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
	for _, r := range []*rig{a, b} {
		got, err := r.authorize(ctx, "ada")
		if err != nil || got.Status != StatusPending {
			t.Fatalf("authorize after the disconnect: %+v, %v; want a pending flow", got.Status, err)
		}
	}
}

// TestCachedTokenInsideTheMarginIsRefreshed: a token kept in memory that
// comes within the refresh margin is refreshed, once, before it is
// handed out again.
func TestCachedTokenInsideTheMarginIsRefreshed(t *testing.T) {
	a := newRig(t, rigOptions{})
	ctx := context.Background()
	id := a.connect("ada")
	first, err := a.authorize(ctx, "ada")
	mustComplete(t, "first authorize", first, err)
	if _, err := a.authorize(ctx, "ada"); err != nil || a.hits() != 1 {
		t.Fatalf("second authorize: %v, %d hits; want a hit", err, a.hits())
	}
	before := a.idp.Counts().Refreshes
	a.clock.Advance(time.Hour - 30*time.Second) // inside the 60 s margin
	got, err := a.authorize(ctx, "ada")
	mustComplete(t, "authorize inside the margin", got, err)
	if got.Token == first.Token || a.idp.Counts().Refreshes != before+1 {
		t.Fatalf("inside the margin: same token %v, %d refreshes; want a new token after one refresh", got.Token == first.Token, a.idp.Counts().Refreshes-before)
	}
	if got.Token != a.storedToken(id).AccessToken {
		t.Fatal("the token handed out is not the stored one")
	}
}

// TestDisabledConnectionCacheReadsTheStore: store.cache.enabled false.
func TestDisabledConnectionCacheReadsTheStore(t *testing.T) {
	a := newRig(t, rigOptions{})
	a.connect("ada")
	e, err := New(Options{Providers: a.opts.Providers, Store: a.st, Sealer: a.opts.Sealer, Now: a.clock.Now,
		PublicURL: a.opts.PublicURL, AllowPrivateEndpoints: true, HTTPClient: a.opts.HTTPClient,
		ConnectionCache: ConnectionCacheOptions{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	for range 3 {
		got, err := e.Authorize(context.Background(), AuthorizeRequest{UserID: "ada", ProviderID: "hooli"})
		mustComplete(t, "authorize", got, err)
	}
	if n := int(testutil.ToFloat64(e.metrics.connCache.hits)); n != 0 || e.conns.Len() != 0 {
		t.Fatalf("disabled cache: %d hits, %d entries; want none", n, e.conns.Len())
	}
}

// TestConnectionCacheMaxAgeRunsOnTheEngineClock: store.cache.max_age
// is measured on the engine's clock, the one the refresh margin reads: an
// entry older than it by that clock is read from the store again.
func TestConnectionCacheMaxAgeRunsOnTheEngineClock(t *testing.T) {
	a := newRig(t, rigOptions{})
	a.connect("ada")
	e, err := New(Options{Providers: a.opts.Providers, Store: a.st, Sealer: a.opts.Sealer, Now: a.clock.Now,
		PublicURL: a.opts.PublicURL, AllowPrivateEndpoints: true, HTTPClient: a.opts.HTTPClient,
		ConnectionCache: ConnectionCacheOptions{MaxAge: 10 * time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	hits := func() int { return int(testutil.ToFloat64(e.metrics.connCache.hits)) }
	authorize := func(what string) {
		t.Helper()
		got, err := e.Authorize(context.Background(), AuthorizeRequest{UserID: "ada", ProviderID: "hooli"})
		mustComplete(t, what, got, err)
	}
	authorize("first authorize")
	authorize("second authorize")
	if hits() != 1 {
		t.Fatalf("second authorize: %d cache hits, want 1", hits())
	}
	a.clock.Advance(11 * time.Minute) // past max_age, far from the refresh margin
	authorize("authorize past max_age")
	if hits() != 1 {
		t.Fatalf("authorize past max_age: %d cache hits, want still 1 (the entry is older than max_age)", hits())
	}
}

// TestConnectionCacheOnRedisLeavesNoGoroutine: an engine whose cache
// watches a Redis store's change feed (its subscription and heartbeat)
// leaves no goroutine once the engine and the store are closed.
func TestConnectionCacheOnRedisLeavesNoGoroutine(t *testing.T) {
	redistest.URL(t) // the shared server's own goroutine starts first
	before := goleak.IgnoreCurrent()
	t.Run("run", func(t *testing.T) {
		a := newRig(t, rigOptions{store: redisStore})
		deadline := time.Now().Add(5 * time.Second)
		for !a.eng.ConnectionCacheUp() {
			if time.Now().After(deadline) {
				t.Fatal("the connection cache did not come up on Redis within 5s")
			}
			time.Sleep(time.Millisecond)
		}
		a.connect("ada")
		for range 3 {
			got, err := a.authorize(context.Background(), "ada")
			mustComplete(t, "authorize", got, err)
		}
		// The connect's own announcement may reach the feed after the
		// first authorize filled the cache and drop that entry once, so
		// the three authorizes make one or two hits, never none.
		if h := a.hits(); h < 1 || h > 2 {
			t.Fatalf("%d cache hits on Redis; want 1 or 2", h)
		}
	}) // the rig's engine and store close here
	if err := goleak.Find(before); err != nil {
		t.Fatal(err)
	}
}
