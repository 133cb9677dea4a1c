package redis_test

import (
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authengine/authengine/engine/store/redis"
	"github.com/authengine/authengine/internal/redistest"
)

// feedEvents records what one watcher of a Store's connection feed hears.
type feedEvents struct {
	ids chan string
	ups chan bool
}

func watch(t *testing.T, s *redis.Store) *feedEvents {
	t.Helper()
	ev := &feedEvents{ids: make(chan string, 1024), ups: make(chan bool, 1024)}
	cancel := s.WatchConnections(func(id string) { ev.ids <- id }, func(up bool) { ev.ups <- up })
	t.Cleanup(cancel)
	return ev
}

// await waits for the feed state want and returns how long it took.
func (ev *feedEvents) await(t *testing.T, what string, want bool, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := time.After(within)
	for {
		select {
		case up := <-ev.ups:
			if up == want {
				return time.Since(start)
			}
		case <-deadline:
			t.Fatalf("%s: the feed did not report up=%v within %v", what, want, within)
		}
	}
}

// TestConnectionFeedGoesDownAndComesBack: a killed subscription is noticed
// at once and reported as down then up once re-subscribed; a stopped Redis
// takes the feed down within the heartbeat bound, and it comes back up
// when Redis does; changes written after that are announced again.
func TestConnectionFeedGoesDownAndComesBack(t *testing.T) {
	srv := redistest.Private(t, redistest.PrivateOptions{AppendOnly: true})
	admin := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = admin.Close() })
	s := redis.New(fastFailClient(t, srv.Addr()), redis.Options{})
	t.Cleanup(func() { _ = s.Close() })
	ev := watch(t, s)
	ev.await(t, "start", true, 5*time.Second)

	announced := func(what string) {
		t.Helper()
		c := put(t, s, testConnection("github", what))
		select {
		case id := <-ev.ids:
			if id != c.ID {
				t.Fatalf("%s: announced %s, want %s", what, id, c.ID)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: the write was not announced", what)
		}
	}
	announced("before")

	// Killing the subscription's connection: down at once, then up when
	// go-redis has subscribed again.
	if err := admin.ClientKillByFilter(t.Context(), "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	down := ev.await(t, "subscription killed", false, redis.HeartbeatTimeout+redis.HeartbeatInterval)
	back := ev.await(t, "subscription killed", true, 5*time.Second)
	t.Logf("killed subscription: down after %s, up again %s later", down.Round(time.Millisecond), back.Round(time.Millisecond))
	announced("after the kill")

	// Redis stopped: down within the bound; up again once it is back.
	srv.Stop()
	down = ev.await(t, "redis stopped", false, redis.HeartbeatTimeout+redis.HeartbeatInterval)
	srv.Start()
	back = ev.await(t, "redis restarted", true, 10*time.Second)
	t.Logf("stopped Redis: down after %s; up %s after the restart", down.Round(time.Millisecond), back.Round(time.Millisecond))
	announced("after the restart")
}
