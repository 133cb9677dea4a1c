package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// NodeTimeout is the cluster-node-timeout of a Cluster and the Sentinels'
// down-after-milliseconds: how long a master must be silent before the
// others start a failover. Production setups use 5 to 15 s; tests use 1 s
// so a failover takes a few seconds.
const NodeTimeout = time.Second

// RequireDistributed skips t unless redis-server, redis-sentinel and
// redis-cli are on PATH. Under CI=true it fails t instead: CI installs
// them (.ci/run), so their absence there is a broken build, not a reason
// to skip.
func RequireDistributed(t testing.TB) {
	t.Helper()
	var missing []string
	for _, bin := range []string{"redis-server", "redis-sentinel", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("redistest: %s not on PATH; the Cluster and Sentinel tests need them "+
		"(Debian/Ubuntu: apt-get install redis-server redis-sentinel redis-tools)", strings.Join(missing, ", "))
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Cluster is a Redis Cluster of three masters with one replica each, six
// redis-server processes of the test's own, made with
// `redis-cli --cluster create --cluster-replicas 1`.
type Cluster struct {
	t     testing.TB
	Nodes []*Server
}

// StartCluster starts a Cluster and waits until every slot is served and
// every replica is in sync. Its processes are killed when t ends.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	RequireDistributed(t)
	c := &Cluster{t: t}
	for range 6 {
		s := &Server{t: t, dir: t.TempDir(), extra: []string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", strconv.Itoa(int(NodeTimeout / time.Millisecond)),
			// Always let a replica take over, however long since it heard
			// from its master (the test kills masters on purpose).
			"--cluster-replica-validity-factor", "0",
		}}
		if err := s.start(); err != nil {
			t.Fatalf("redistest: start a cluster node: %v", err)
		}
		t.Cleanup(s.Kill)
		c.Nodes = append(c.Nodes, s)
	}
	args := []string{"--cluster", "create"}
	args = append(args, c.Addrs()...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v: %s", err, out)
	}
	c.await(30*time.Second, "every node to report cluster_state:ok with 3 synced replicas", func(ctx context.Context) bool {
		replicas := 0
		for _, n := range c.Nodes {
			cl := client(n.Addr())
			info, err := cl.ClusterInfo(ctx).Result()
			repl, err2 := cl.Info(ctx, "replication").Result()
			cl.Close()
			if err != nil || err2 != nil || !strings.Contains(info, "cluster_state:ok") {
				return false
			}
			if strings.Contains(repl, "role:slave") && strings.Contains(repl, "master_link_status:up") {
				replicas++
			}
		}
		return replicas == 3
	})
	return c
}

// Addrs are the host:port of the six nodes.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr()
	}
	return addrs
}

// MasterOf returns the node that serves key now and the replica that
// would take over from it.
// Replicas attach to their masters some time after the cluster is
// created (longer on a loaded machine), so it waits up to 30 s for the
// key's slot to show a master and a replica.
func (c *Cluster) MasterOf(key string) (master, replica *Server) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m, r := c.masterOf(key); m != nil && r != nil {
			return m, r
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("redistest: no live node knows a master and a replica for %q after 30 s", key)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// masterOf asks the live nodes once; nil when none knows a master with a
// replica for key.
func (c *Cluster) masterOf(key string) (master, replica *Server) {
	ctx := context.Background()
	for _, n := range c.Nodes {
		if !n.running() {
			continue
		}
		cl := client(n.Addr())
		slot, err := cl.ClusterKeySlot(ctx, key).Result()
		var slots []goredis.ClusterSlot
		if err == nil {
			slots, err = cl.ClusterSlots(ctx).Result()
		}
		cl.Close()
		if err != nil {
			continue
		}
		for _, r := range slots {
			if int64(r.Start) <= slot && slot <= int64(r.End) && len(r.Nodes) > 1 {
				return c.byAddr(r.Nodes[0].Addr), c.byAddr(r.Nodes[1].Addr)
			}
		}
	}
	return nil, nil
}

func (c *Cluster) byAddr(addr string) *Server {
	for _, n := range c.Nodes {
		if n.Addr() == addr {
			return n
		}
	}
	c.t.Fatalf("redistest: %s is not a node of this cluster", addr)
	return nil
}

func (c *Cluster) await(d time.Duration, what string, ok func(context.Context) bool) {
	c.t.Helper()
	await(c.t, d, what, ok)
}

// Sentinel is a master, one replica and three redis-sentinel processes
// watching them under the name MasterName, all of the test's own.
type Sentinel struct {
	t          testing.TB
	MasterName string
	Master     *Server
	Replica    *Server
	Sentinels  []*Server
}

// StartSentinel starts a Sentinel set and waits until the replica is in
// sync and every Sentinel knows the master and its replica. Its processes
// are killed when t ends.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	RequireDistributed(t)
	st := &Sentinel{t: t, MasterName: "authengine"}
	st.Master = &Server{t: t, dir: t.TempDir()}
	if err := st.Master.start(); err != nil {
		t.Fatalf("redistest: start the Sentinel set's master: %v", err)
	}
	t.Cleanup(st.Master.Kill)
	st.Replica = &Server{t: t, dir: t.TempDir(), extra: []string{"--replicaof", "127.0.0.1", strconv.Itoa(st.Master.port)}}
	if err := st.Replica.start(); err != nil {
		t.Fatalf("redistest: start the Sentinel set's replica: %v", err)
	}
	t.Cleanup(st.Replica.Kill)
	conf := "port %d\nbind 127.0.0.1\ndaemonize no\n" +
		fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2\n", st.MasterName, st.Master.port) +
		fmt.Sprintf("sentinel down-after-milliseconds %s %d\n", st.MasterName, NodeTimeout/time.Millisecond) +
		fmt.Sprintf("sentinel failover-timeout %s 10000\n", st.MasterName) +
		fmt.Sprintf("sentinel parallel-syncs %s 1\n", st.MasterName)
	for range 3 {
		s := &Server{t: t, dir: t.TempDir(), sentinelConf: conf}
		if err := s.start(); err != nil {
			t.Fatalf("redistest: start a redis-sentinel: %v", err)
		}
		t.Cleanup(s.Kill)
		st.Sentinels = append(st.Sentinels, s)
	}
	await(t, 30*time.Second, "the replica to sync and every Sentinel to see it and the other Sentinels", func(ctx context.Context) bool {
		if !replicaUp(ctx, st.Replica.Addr()) {
			return false
		}
		for _, s := range st.Sentinels {
			cl := client(s.Addr())
			m, err := cl.Do(ctx, "SENTINEL", "MASTER", st.MasterName).Slice()
			cl.Close()
			if err != nil || field(m, "num-slaves") != "1" || field(m, "num-other-sentinels") != "2" {
				return false
			}
		}
		return true
	})
	return st
}

// SentinelAddrs are the Sentinels' host:port.
func (st *Sentinel) SentinelAddrs() []string {
	addrs := make([]string, len(st.Sentinels))
	for i, s := range st.Sentinels {
		addrs[i] = s.Addr()
	}
	return addrs
}

// AwaitPromotion waits (up to 60 s) until s answers ROLE as a master and
// returns when it first saw that, polling every 10 ms.
func AwaitPromotion(t testing.TB, s *Server) time.Time {
	t.Helper()
	var at time.Time
	await(t, 60*time.Second, "the replica on "+s.Addr()+" to be promoted", func(ctx context.Context) bool {
		cl := client(s.Addr())
		defer cl.Close()
		role, err := cl.Do(ctx, "ROLE").Slice()
		if err == nil && len(role) > 0 && role[0] == "master" {
			at = time.Now()
			return true
		}
		return false
	})
	return at
}

// AwaitReplicated waits until key exists on the replica s (in Cluster, read
// with READONLY), so a test that kills its master knows the replica has it.
func AwaitReplicated(t testing.TB, s *Server, key string) {
	t.Helper()
	await(t, 10*time.Second, key+" to reach the replica on "+s.Addr(), func(ctx context.Context) bool {
		cl := goredis.NewClient(&goredis.Options{Addr: s.Addr(), MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: time.Second,
			OnConnect: func(ctx context.Context, cn *goredis.Conn) error {
				_ = cn.ReadOnly(ctx).Err() // refused outside cluster mode, where reads need no READONLY
				return nil
			}})
		defer cl.Close()
		n, err := cl.Exists(ctx, key).Result()
		return err == nil && n == 1
	})
}

func replicaUp(ctx context.Context, addr string) bool {
	cl := client(addr)
	defer cl.Close()
	repl, err := cl.Info(ctx, "replication").Result()
	return err == nil && strings.Contains(repl, "master_link_status:up")
}

// field reads a field of a flat name/value reply such as SENTINEL MASTER.
func field(kv []any, name string) string {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i] == name {
			return fmt.Sprint(kv[i+1])
		}
	}
	return ""
}

func client(addr string) *goredis.Client {
	return goredis.NewClient(&goredis.Options{Addr: addr, Protocol: 2, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: time.Second, PoolSize: 1})
}

func await(t testing.TB, d time.Duration, what string, ok func(context.Context) bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		done := ok(ctx)
		cancel()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: waited %s for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *Server) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// AwaitAnnounced waits (up to 60 s) until a Sentinel names s as the
// master, the moment Sentinel clients can learn of the promotion, and
// returns when it first saw that, polling every 10 ms.
func (st *Sentinel) AwaitAnnounced(s *Server) time.Time {
	st.t.Helper()
	var at time.Time
	await(st.t, 60*time.Second, "a Sentinel to announce "+s.Addr()+" as the master", func(ctx context.Context) bool {
		for _, sn := range st.Sentinels {
			cl := client(sn.Addr())
			addr, err := cl.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", st.MasterName).StringSlice()
			cl.Close()
			if err == nil && len(addr) == 2 && addr[1] == strconv.Itoa(s.port) {
				at = time.Now()
				return true
			}
		}
		return false
	})
	return at
}
