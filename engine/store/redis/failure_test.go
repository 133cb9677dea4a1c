package redis_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/redis"
	"github.com/authengine/authengine/internal/redistest"
)

// writeOps are the store calls that write, each on fresh records.
func writeOps(s *redis.Store, now time.Time) []struct {
	name string
	op   func(context.Context) error
} {
	keep := func(f store.Flow) (store.Flow, error) { return f, nil }
	conn := testConnection("github", "oom-user")
	return []struct {
		name string
		op   func(context.Context) error
	}{
		{"CreateFlow", func(ctx context.Context) error { return s.CreateFlow(ctx, testFlow(now, 7)) }},
		{"UpdateFlow", func(ctx context.Context) error { _, err := s.UpdateFlow(ctx, testFlow(now, 1).ID, keep); return err }},
		{"UpdateConnection", func(ctx context.Context) error {
			_, err := s.UpdateConnection(ctx, conn.ID, func(store.Connection, bool) (store.Connection, error) { return conn, nil })
			return err
		}},
		{"Lock (refresh lock)", func(ctx context.Context) error { _, err := s.Lock(ctx, "refresh:x", time.Minute); return err }},
		{"CreateProvider", func(ctx context.Context) error {
			return s.CreateProvider(ctx, store.ProviderRecord{ID: "p-new", Sealed: []byte("x")})
		}},
		{"Ping (the health probe writes)", s.Ping},
	}
}

// privateStore is a store on a private redis-server, with an admin client
// to reconfigure the server and one flow (testFlow(now, 1)) written.
func privateStore(t *testing.T) (*redistest.Server, *goredis.Client, *redis.Store, time.Time) {
	t.Helper()
	srv := redistest.Private(t, redistest.PrivateOptions{})
	admin := goredis.NewClient(&goredis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = admin.Close() })
	now := time.Now().UTC().Truncate(time.Millisecond)
	s := redis.New(fastFailClient(t, srv.Addr()), redis.Options{Now: func() time.Time { return now }})
	t.Cleanup(func() { _ = s.Close() })
	if err := s.CreateFlow(t.Context(), testFlow(now, 1)); err != nil {
		t.Fatal(err)
	}
	return srv, admin, s, now
}

// refusesWrites checks that every write fails with store.ErrUnavailable
// (503 store_unavailable, retryable) and names the server's refusal.
func refusesWrites(t *testing.T, s *redis.Store, now time.Time, reply string) {
	t.Helper()
	for _, o := range writeOps(s, now) {
		t.Run(o.name+" is ErrUnavailable", func(t *testing.T) {
			err := o.op(t.Context())
			if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), reply) {
				t.Fatalf("err = %v, want ErrUnavailable carrying the %s reply", err, reply)
			}
		})
	}
}

// TestRedisOutOfMemoryIsUnavailable: with maxmemory reached and the
// noeviction policy docs/production.md recommends, Redis answers every
// write "OOM command not allowed". That used to reach apps as 500
// internal_error; it is the store being unavailable (retryable), reads
// keep working, and writes work again once memory is freed.
func TestRedisOutOfMemoryIsUnavailable(t *testing.T) {
	_, admin, s, now := privateStore(t)
	ctx := t.Context()
	held := put(t, s, testConnection("github", "ada"))

	// A 1-byte maxmemory is below what an empty server uses, so the next
	// write is over the limit: the same state as a full production Redis.
	for _, kv := range [][2]string{{"maxmemory-policy", "noeviction"}, {"maxmemory", "1"}} {
		if err := admin.ConfigSet(ctx, kv[0], kv[1]).Err(); err != nil {
			t.Fatal(err)
		}
	}
	refusesWrites(t, s, now, "OOM")
	if got, err := s.GetConnection(ctx, held.ID); err != nil || got.Version != held.Version {
		t.Fatalf("read while out of memory = %+v, %v; reads must keep working", got, err)
	}

	if err := admin.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping after memory was freed: %v", err)
	}
	if err := s.CreateFlow(ctx, testFlow(now, 8)); err != nil {
		t.Fatalf("CreateFlow after memory was freed: %v", err)
	}
}

// TestRedisMISCONFIsUnavailable: a Redis whose last RDB save failed (its
// directory is gone: a lost volume) refuses every write with MISCONF while
// stop-writes-on-bgsave-error is on (the default). The store reports it as
// unavailable, and so does the health probe.
func TestRedisMISCONFIsUnavailable(t *testing.T) {
	srv, admin, s, now := privateStore(t)
	ctx := t.Context()

	// Redis 7 does not let CONFIG SET move dir, so the save is made to
	// fail by taking its directory away: the forked child cannot create
	// its temporary file there.
	for _, kv := range [][2]string{{"save", "3600 1"}, {"stop-writes-on-bgsave-error", "yes"}} {
		if err := admin.ConfigSet(ctx, kv[0], kv[1]).Err(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = admin.ConfigSet(context.Background(), "save", "").Err() }) // or shutdown would retry the save
	if err := os.RemoveAll(srv.Dir()); err != nil {
		t.Fatal(err)
	}
	if err := admin.BgSave(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		info, err := admin.Info(ctx, "persistence").Result()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(info, "rdb_last_bgsave_status:err") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the RDB save did not fail within 20s: %s", info)
		}
		time.Sleep(50 * time.Millisecond)
	}
	refusesWrites(t, s, now, "MISCONF")
}
