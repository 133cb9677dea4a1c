package cluster_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
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

// deployment is a distributed Redis of the test's own: where the engine
// instances connect, which node holds a key and which replica takes over
// from it, and every live node (to look keys up).
type deployment struct {
	cfg      redisstore.Config
	masterOf func(key string) (master, replica *redistest.Server)
	nodes    func() []*redistest.Server
	// announced, for Sentinel, waits until a Sentinel names the promoted
	// replica as the master: clients learn of a promotion from the
	// Sentinels, about a second after the replica took the role.
	announced func(replica *redistest.Server) time.Time
}

// deployments start a real Redis Cluster (three masters, three replicas)
// and a real Sentinel set (master, replica, three Sentinels).
var deployments = []struct {
	name  string
	start func(t *testing.T) deployment
}{
	{"cluster", func(t *testing.T) deployment {
		cl := redistest.StartCluster(t)
		return deployment{
			cfg:      redisstore.Config{Addrs: cl.Addrs()},
			masterOf: cl.MasterOf,
			nodes:    func() []*redistest.Server { return cl.Nodes },
		}
	}},
	{"sentinel", func(t *testing.T) deployment {
		st := redistest.StartSentinel(t)
		return deployment{
			cfg: redisstore.Config{Addrs: st.SentinelAddrs(), MasterName: st.MasterName},
			masterOf: func(string) (*redistest.Server, *redistest.Server) {
				return st.Master, st.Replica
			},
			nodes:     func() []*redistest.Server { return []*redistest.Server{st.Master, st.Replica} },
			announced: st.AwaitAnnounced,
		}
	}},
}

// failoverRounds is how many times each failover case runs: 1 in
// `make test`, AUTHENGINE_FAILOVER_ROUNDS under `make failover`.
func failoverRounds(t *testing.T) int {
	if v := os.Getenv("AUTHENGINE_FAILOVER_ROUNDS"); v != "" {
		var n int
		if _, err := fmt.Sscan(v, &n); err != nil || n < 1 {
			t.Fatalf("AUTHENGINE_FAILOVER_ROUNDS=%q: want a positive number", v)
		}
		return n
	}
	return 1
}

// TestDistributedRedis runs the multi-instance guarantees on a real Redis
// Cluster and a real Sentinel set: a flow started on one instance is
// completed on another, a wait held on a third is woken, and 300
// concurrent callers on three instances share exactly one refresh.
func TestDistributedRedis(t *testing.T) {
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) {
			dep := d.start(t)
			c := newCluster(t, clusterOptions{instances: 3, redis: &dep.cfg, idp: providertest.Options{
				RequirePKCE: true, RotateRefreshTokens: true, AccessTokenTTL: time.Hour}})

			// A wait held on instance 2 is woken by a callback on instance 1
			// for a flow started on instance 0.
			start := c.authorize(0, "ada")
			if start.Status != "pending" {
				t.Fatalf("authorize: got %+v, want pending", start)
			}
			cb := c.consent(start.URL)
			woken := make(chan authResp, 1)
			go func() {
				out, _, _ := c.status(context.Background(), 2, start.ID, 30)
				woken <- out
			}()
			c.awaitWaiters(2, 1)
			if code, err := c.callback(context.Background(), 1, cb); err != nil || code != http.StatusOK {
				t.Fatalf("callback on instance 1: HTTP %d %v", code, err)
			}
			select {
			case out := <-woken:
				if out.Status != "completed" || !c.idp.ValidAccessToken(out.token()) {
					t.Fatalf("wait on instance 2: got %+v, want completed with a valid token", out)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("the wait on instance 2 was not woken within 20s of the callback on instance 1")
			}

			c.clock.Advance(2 * time.Hour)
			oneRefresh(t, c, 300)

			// The connection caches work on this deployment: the
			// instances hold the token in memory, and a disconnect on one
			// is seen by the others within the bound.
			c.awaitFeed(true, 5*time.Second)
			hits := 0.0
			for i := range 3 {
				for range 2 {
					if a, err := c.ask(i, "ada"); err != nil || a.Status != engine.StatusCompleted {
						t.Fatalf("instance %d: %+v %v", i, a.Status, err)
					}
				}
				hits += c.metric(i, "authengine_connection_cache_lookups_total", "result", "hit")
			}
			if hits < 3 {
				t.Fatalf("%.0f cache hits; want the instances answering from memory", hits)
			}
			if err := c.node(0).engine.Disconnect(context.Background(), store.ConnectionID(providerID, "ada")); err != nil {
				t.Fatal(err)
			}
			d, _ := c.visible([]int{1, 2}, "ada", time.Now(), func(a engine.Authorization) bool { return a.Status == engine.StatusPending })
			t.Logf("a disconnect on one instance seen by the others after %s", d.Round(10*time.Microsecond))
			if d > invalidationBound {
				t.Errorf("the disconnect took %s to be seen, want within %s", d, invalidationBound)
			}
		})
	}
}

// oneRefresh has callers ask the three instances at once for an expired
// token and checks that exactly one refresh reached the provider, no
// refresh token was used twice, and every caller got the refreshed token.
func oneRefresh(t *testing.T, c *cluster, callers int) {
	t.Helper()
	before := c.idp.Counts()
	tokens, bad := storm(c, callers, "ada", 2)
	after := c.idp.Counts()
	if n := after.Refreshes - before.Refreshes; n != 1 {
		t.Errorf("the provider saw %d refreshes, want exactly 1", n)
	}
	if n := after.Replays - before.Replays; n != 0 {
		t.Errorf("the provider saw %d reused refresh tokens, want none", n)
	}
	if len(bad) > 0 {
		t.Errorf("%d of %d callers did not get a completed authorization, e.g. %q", len(bad), callers, bad[0])
	}
	if len(tokens) != 1 {
		t.Errorf("callers got %d different tokens, want the one refreshed token", len(tokens))
	}
	for tok := range tokens {
		if !c.idp.ValidAccessToken(tok) {
			t.Errorf("callers got a token the provider does not consider valid")
		}
	}
	if v := c.idp.Violations(); len(v) > 0 {
		t.Errorf("protocol violations at the provider: %v", v)
	}
}

// storm runs callers concurrent authorizations of user spread over the
// instances, each retried on store_unavailable for up to patience, and
// returns the tokens handed out (with counts) and the failed answers.
func storm(c *cluster, callers int, user string, retries int) (map[string]int, []string) {
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		tokens = map[string]int{}
		bad    []string
	)
	release := make(chan struct{})
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-release
			var out authResp
			var code int
			var err error
			for try := 0; try <= retries; try++ {
				out, code, _, err = c.authorizeRetrying(context.Background(), i%3, user)
				if err != nil || code != http.StatusServiceUnavailable {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil || code != http.StatusOK || out.Status != "completed" {
				bad = append(bad, fmt.Sprintf("HTTP %d %s %s %v", code, out.Status, out.Name, err))
				return
			}
			tokens[out.token()]++
		}()
	}
	close(release)
	wg.Wait()
	return tokens, bad
}

// TestFailover kills -9 the Redis master that holds a user's connection
// (and, separately, the one that holds its refresh lock) under three
// engine instances, lets the replica be promoted, and requires: every
// instance answers within 2 s of the promotion, the connection is not
// lost, no refresh token is used twice (the stand-in revokes the chain on
// reuse), and a refresh under a lock held across the failover completes
// without a second refresh starting. It logs the figures docs/production.md
// reports.
func TestFailover(t *testing.T) {
	for _, d := range deployments {
		for round := range failoverRounds(t) {
			t.Run(fmt.Sprintf("%s/connection master/%d", d.name, round), func(t *testing.T) {
				failoverConnection(t, d.name, d.start(t))
			})
			t.Run(fmt.Sprintf("%s/lock master/%d", d.name, round), func(t *testing.T) {
				failoverLock(t, d.name, d.start(t))
			})
		}
	}
}

// recoveryBudget is how soon after the promotion every instance must
// answer again.
const recoveryBudget = 2 * time.Second

func failoverConnection(t *testing.T, name string, dep deployment) {
	c := newCluster(t, clusterOptions{instances: 3, redis: &dep.cfg, idp: providertest.Options{
		RequirePKCE: true, RotateRefreshTokens: true, AccessTokenTTL: time.Hour}})
	token := c.connect("ada", 0, 1, 2).token()
	key := connKey(t, c, "ada")
	master, replica := dep.masterOf(key)
	redistest.AwaitReplicated(t, replica, key)

	// Each instance is asked for ada's token every 20 ms, from before the
	// kill until it has answered after the promotion.
	type answer struct {
		end  time.Time
		ok   bool
		what string
	}
	var (
		mu      sync.Mutex
		answers = make([][]answer, 3)
		wg      sync.WaitGroup
	)
	stop := make(chan struct{})
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				var out authResp
				code, err := c.call(ctx, i, "POST", "/v1/auth/authorize", authorizeBody("ada"), &out)
				cancel()
				a := answer{end: time.Now(), ok: err == nil && code == http.StatusOK && out.Status == "completed" && out.token() == token}
				if !a.ok {
					a.what = fmt.Sprintf("HTTP %d %s %s %v", code, out.Status, out.Name, err)
				}
				mu.Lock()
				answers[i] = append(answers[i], a)
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	killed := time.Now()
	master.Kill()
	promoted := redistest.AwaitPromotion(t, replica)
	// The promotion counts from the moment clients can know of it: on
	// Cluster the replica's election (gossiped with the new slot map), on
	// Sentinel the Sentinels' announcement.
	from, announced := promoted, ""
	if dep.announced != nil {
		from = dep.announced(replica)
		announced = fmt.Sprintf(", announced by the Sentinels %s later", from.Sub(promoted).Round(10*time.Millisecond))
	}

	recovered := func() ([]time.Duration, bool) {
		mu.Lock()
		defer mu.Unlock()
		firsts := make([]time.Duration, 3)
		all := true
		for i, as := range answers {
			firsts[i] = -1
			for _, a := range as {
				if a.ok && a.end.After(from) {
					firsts[i] = a.end.Sub(from)
					break
				}
			}
			all = all && firsts[i] >= 0
		}
		return firsts, all
	}
	deadline := from.Add(60 * time.Second)
	for {
		if _, all := recovered(); all || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()

	firsts, _ := recovered()
	t.Logf("failover figures: %s: master killed, replica promoted after %s%s; first success after the promotion: instance 0 %s, instance 1 %s, instance 2 %s",
		name, promoted.Sub(killed).Round(10*time.Millisecond), announced, fig(firsts[0]), fig(firsts[1]), fig(firsts[2]))
	for i, d := range firsts {
		if d < 0 || d > recoveryBudget {
			t.Errorf("instance %d first answered ada's token %s after the promotion, want within %s", i, fig(d), recoveryBudget)
		}
	}
	// While Redis fails over the engine may answer 503 store_unavailable,
	// never anything that loses the connection (a new pending flow) or a
	// 500.
	kinds := map[string]int{}
	for _, as := range answers {
		for _, a := range as {
			if !a.ok {
				kinds[a.what]++
			}
		}
	}
	for what, n := range kinds {
		if !strings.Contains(what, "503") || !strings.Contains(what, "store_unavailable") {
			t.Errorf("%d answers during the failover were %q, want completed or 503 store_unavailable", n, what)
		}
	}

	// The connection survived, and its refresh chain too: one refresh on
	// expiry, no reuse.
	c.clock.Advance(2 * time.Hour)
	oneRefresh(t, c, 60)
}

func failoverLock(t *testing.T, name string, dep deployment) {
	c := newCluster(t, clusterOptions{instances: 3, redis: &dep.cfg, idp: providertest.Options{
		RequirePKCE: true, RotateRefreshTokens: true, AccessTokenTTL: time.Hour}})
	c.connect("ada", 0, 1, 2)
	connK := connKey(t, c, "ada")
	_, connReplica := dep.masterOf(connK)
	redistest.AwaitReplicated(t, connReplica, connK)

	// The provider takes longer to answer the refresh than Redis takes to
	// fail over, so the refresh lock is held across the whole failover.
	c.clock.Advance(2 * time.Hour)
	c.idp.SetDelay(6 * time.Second)
	before := c.idp.Counts()
	type result struct {
		tokens map[string]int
		bad    []string
	}
	done := make(chan result, 1)
	go func() {
		tokens, bad := storm(c, 30, "ada", 60)
		done <- result{tokens, bad}
	}()
	lock := awaitKey(t, dep, c.prefix+"lock:")
	master, replica := dep.masterOf(lock)
	redistest.AwaitReplicated(t, replica, lock)
	killed := time.Now()
	master.Kill()
	promoted := redistest.AwaitPromotion(t, replica)
	res := <-done
	c.idp.SetDelay(0)
	t.Logf("failover figures: %s: lock master killed, replica promoted after %s; refresh storm done %s after the promotion",
		name, promoted.Sub(killed).Round(10*time.Millisecond), time.Since(promoted).Round(10*time.Millisecond))

	after := c.idp.Counts()
	if n := after.Refreshes - before.Refreshes; n != 1 {
		t.Errorf("the provider saw %d refreshes, want exactly 1 (the one whose lock was held across the failover)", n)
	}
	if n := after.Replays - before.Replays; n != 0 {
		t.Errorf("the provider saw %d reused refresh tokens, want none", n)
	}
	if len(res.bad) > 0 {
		t.Errorf("%d of 30 callers did not get a completed authorization, e.g. %q", len(res.bad), res.bad[0])
	}
	if len(res.tokens) != 1 {
		t.Errorf("callers got %d different tokens, want the one refreshed token", len(res.tokens))
	}
	// The rotated refresh token was stored: the next expiry refreshes
	// without re-authorization.
	c.clock.Advance(2 * time.Hour)
	oneRefresh(t, c, 30)
}

func fig(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return d.Round(10 * time.Millisecond).String()
}

// connKey is the Redis key of user's connection.
func connKey(t *testing.T, c *cluster, user string) string {
	t.Helper()
	conns, _, err := c.node(0).store.ListConnections(context.Background(), store.ConnectionFilter{UserID: user}, 0, 10)
	if err != nil || len(conns) != 1 {
		t.Fatalf("list %s's connections: %d, %v; want one", user, len(conns), err)
	}
	return c.prefix + "conn:{" + conns[0].ID + "}"
}

// awaitKey waits until a key starting with prefix exists on a live node
// and returns it.
func awaitKey(t *testing.T, dep deployment, prefix string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range dep.nodes() {
			cl := goredis.NewClient(&goredis.Options{Addr: n.Addr(), MaxRetries: -1, DialTimeout: time.Second})
			keys, err := cl.Keys(context.Background(), prefix+"*").Result()
			cl.Close()
			if err == nil && len(keys) > 0 {
				sort.Strings(keys)
				return keys[0]
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no key %s* appeared within 20s", prefix)
	return ""
}
