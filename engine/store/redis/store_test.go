package redis_test

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/redis"
	"github.com/authengine/authengine/engine/store/storetest"
	"github.com/authengine/authengine/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// newClient connects to url and closes the client when t ends.
func newClient(t testing.TB, url string) goredis.UniversalClient {
	t.Helper()
	opts, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatalf("parse redis URL: %v", err)
	}
	c := goredis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// newStore returns a Store under a fresh prefix on the test Redis; its
// keys are deleted and the store closed when t ends.
func newStore(t testing.TB, now func() time.Time) (*redis.Store, goredis.UniversalClient, string) {
	t.Helper()
	client := newClient(t, redistest.URL(t))
	prefix := redistest.Prefix(t)
	s := redis.New(client, redis.Options{Now: now, KeyPrefix: prefix})
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		deletePrefix(t, client, prefix)
	})
	return s, client, prefix
}

// cleanPrefix deletes the keys under prefix when t ends.
func cleanPrefix(t testing.TB, url, prefix string) {
	t.Helper()
	client := newClient(t, url)
	t.Cleanup(func() { deletePrefix(t, client, prefix) })
}

// deletePrefix removes every key under prefix, so a shared Redis does not
// fill up with test data.
func deletePrefix(t testing.TB, client goredis.UniversalClient, prefix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := client.Scan(ctx, 0, prefix+"*", 500).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Logf("scan test keys: %v", err)
		return
	}
	for len(keys) > 0 {
		n := min(len(keys), 500)
		if err := client.Del(ctx, keys[:n]...).Err(); err != nil {
			t.Logf("delete test keys: %v", err)
			return
		}
		keys = keys[n:]
	}
}

func suiteStore(t *testing.T, now func() time.Time) store.Store {
	s, _, _ := newStore(t, now)
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, suiteStore)
}

func TestConcurrency(t *testing.T) {
	storetest.RunConcurrency(t, suiteStore)
}
