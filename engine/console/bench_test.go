package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authengine/authengine/engine/store"
	redisstore "github.com/authengine/authengine/engine/store/redis"
	"github.com/authengine/authengine/internal/enginetest"
	"github.com/authengine/authengine/internal/redistest"
)

// pageCeiling is the most a console page may take to render at the
// server with 500 providers and 10,000 connections.
const pageCeiling = 50 * time.Millisecond

// BenchmarkConsolePages renders each console page at the server (the
// handler, no network) on a store holding 500 runtime providers and
// 10,000 connections, and reports each page's time as a fraction of the
// 50 ms ceiling (ceiling-fraction below 1 is within it). It runs on bolt
// and on Redis, whose kept connection counts and indexes serve
// Integrations and the filtered listings, and, side by side, on bolt with
// its counts hidden from the engine ("bolt-listing-counts"), as a store
// without them is served: Integrations counted from a listing of every
// connection, reused for 30 s. "integrations-after-a-write" renders
// Integrations after a connection write and 30 s more on the clock, so
// that a count made from a listing is never reused.
func BenchmarkConsolePages(b *testing.B) {
	backends := []struct {
		name string
		open func(b *testing.B, h *enginetest.Clock) store.Store
	}{
		{"bolt", func(b *testing.B, c *enginetest.Clock) store.Store { return enginetest.BoltStore(b, c.Now) }},
		{"bolt-listing-counts", func(b *testing.B, c *enginetest.Clock) store.Store {
			return struct{ store.Store }{enginetest.BoltStore(b, c.Now)} // hides store.ConnectionCounter
		}},
		{"redis", func(b *testing.B, c *enginetest.Clock) store.Store { return benchRedisStore(b, c.Now) }},
	}
	for _, backend := range backends {
		b.Run(backend.name, func(b *testing.B) {
			clock := &enginetest.Clock{}
			benchPages(b, newHarness(b, harnessOptions{clock: clock, store: backend.open(b, clock)}))
		})
	}
}

func benchPages(b *testing.B, h *harness) {
	ctx := b.Context()
	// As in a running engine, where the gauge counts at every scrape: a
	// store that keeps counts has built them before the writes below.
	if _, err := h.engine.ConnectionCounts(ctx); err != nil {
		b.Fatal(err)
	}
	for i := range 500 {
		doc := map[string]any{"id": fmt.Sprintf("p%03d", i), "provider_id": "github", "client_id": "client", "client_secret": "secret-0123456789-abcdef"}
		if _, err := h.engine.CreateProvider(ctx, doc); err != nil {
			b.Fatal(err)
		}
	}
	sealed := make([]byte, 600) // about a real token set's sealed size
	statuses := []store.ConnectionStatus{store.ConnectionConnected, store.ConnectionConnected, store.ConnectionConnected, store.ConnectionNeedsReauth}
	var ids []string
	for i := range 10_000 {
		provider, user := fmt.Sprintf("p%03d", i%500), fmt.Sprintf("user-%05d", i)
		id := store.ConnectionID(provider, user)
		_, err := h.store.UpdateConnection(ctx, id, func(c store.Connection, _ bool) (store.Connection, error) {
			c.ID, c.UserID, c.ProviderID, c.Status, c.Sealed = id, user, provider, statuses[i%len(statuses)], sealed
			c.Scopes, c.ExpiresAt = []string{"repo", "read:org"}, time.Now().Add(time.Hour)
			return c, nil
		})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, id)
	}
	client := h.mustSignIn()
	req, _ := http.NewRequest("GET", h.srv.URL+"/console/", nil)
	cookies := client.Jar.Cookies(req.URL)
	handler := *h.handler.Load()
	render := func(b *testing.B, page string) {
		req := httptest.NewRequest("GET", page, nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("%s: HTTP %d", page, rec.Code)
		}
	}
	report := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed())/float64(b.N)/float64(pageCeiling), "ceiling-fraction")
	}
	for _, page := range []string{
		"/console/integrations", "/console/providers", "/console/providers/p250/edit",
		"/console/connections", "/console/connections?page=150",
		"/console/connections?status=needs_reauth&provider=p001", "/console/connections?provider=p001",
		"/console/connections?status=needs_reauth", "/console/connections?status=needs_reauth&page=100",
	} {
		b.Run(page, func(b *testing.B) {
			for b.Loop() {
				render(b, page)
			}
			report(b)
		})
	}
	b.Run("integrations-after-a-write", func(b *testing.B) {
		i := 0
		for b.Loop() {
			b.StopTimer()
			id := ids[i%len(ids)]
			i++
			_, err := h.store.UpdateConnection(ctx, id, func(c store.Connection, _ bool) (store.Connection, error) {
				c.Status = statuses[i%len(statuses)]
				return c, nil
			})
			if err != nil {
				b.Fatal(err)
			}
			h.clock.Advance(31 * time.Second)
			b.StartTimer()
			render(b, "/console/integrations")
		}
		report(b)
	})
}

// benchRedisStore opens a Redis store under a fresh prefix and deletes its
// keys when b ends.
func benchRedisStore(b *testing.B, now func() time.Time) store.Store {
	url, prefix := redistest.URL(b), redistest.Prefix(b)
	st, err := redisstore.Open(redisstore.Config{URL: url, KeyPrefix: prefix}, redisstore.Options{Now: now})
	if err != nil {
		b.Fatal(err)
	}
	opts, err := goredis.ParseURL(url)
	if err != nil {
		b.Fatal(err)
	}
	client := goredis.NewClient(opts)
	b.Cleanup(func() {
		_ = st.Close()
		ctx := context.Background()
		iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			if keys = append(keys, iter.Val()); len(keys) == 1000 {
				client.Del(ctx, keys...)
				keys = keys[:0]
			}
		}
		if len(keys) > 0 {
			client.Del(ctx, keys...)
		}
		_ = client.Close()
	})
	return st
}
