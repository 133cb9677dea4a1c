package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	goredis "github.com/redis/go-redis/v9"

	"github.com/authengine/authengine/authflow"
	"github.com/authengine/authengine/engine"
	"github.com/authengine/authengine/engine/events"
	"github.com/authengine/authengine/engine/httpapi"
	"github.com/authengine/authengine/engine/seal"
	redisstore "github.com/authengine/authengine/engine/store/redis"
	"github.com/authengine/authengine/internal/providertest"
	"github.com/authengine/authengine/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

const (
	apiKey     = "cluster-test-api-key-0123456789"
	adminKey   = "cluster-test-admin-key-0123456789"
	providerID = "hooli"
)

// clock is the fake clock every instance, store and the stand-in share:
// real time plus an offset that tests advance.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// instance is one engine process: its own Redis client, engine, HTTP API
// and HTTP server.
type instance struct {
	srv     *httptest.Server
	engine  *engine.Engine
	store   *redisstore.Store
	metrics *engine.Metrics
	// registry holds metrics' collectors, for the ones Metrics keeps to
	// itself (the connection cache's).
	registry *prometheus.Registry
	logs     *syncBuffer
}

// cluster is several instances on one Redis and one key prefix, behind a
// round-robin front whose URL is every instance's public URL (so the
// redirect URI is the same whichever instance starts a flow).
type cluster struct {
	t      testing.TB
	clock  *clock
	prefix string
	front  *httptest.Server
	next   atomic.Uint64
	nodes  atomic.Pointer[[]*instance]
	idp    *providertest.Provider
	// api is the apps' and browsers' client; upstream is the engines'
	// client to the provider. Both are closed at the end of the test and
	// can drop idle connections for goroutine counts.
	api      *http.Client
	upstream *http.Client
	// eventTypes are the lifecycle events the engines record (every type
	// when clusterOptions.webhooks is set).
	eventTypes []string
}

type clusterOptions struct {
	instances int
	// redisURL defaults to redistest.URL(t).
	redisURL string
	// redis, when set, is the Redis every instance opens instead of
	// redisURL (a Cluster's or Sentinel set's addresses).
	redis *redisstore.Config
	// dialers, when set for an instance, make that instance's Redis
	// connections (commands and subscription alike) through it, so a test
	// can refuse new connections of one instance only. Such an instance's
	// client is built with go-redis directly, with the settings
	// engine/store/redis.Open uses, and wrapped with redisstore.New.
	dialers map[int]func(ctx context.Context, network, addr string) (net.Conn, error)
	// idp configures the stand-in; RedirectURI and Now are set here.
	idp providertest.Options
	// webhooks, when set, make every instance record every lifecycle
	// event and run a deliverer to these endpoints, as serve does.
	webhooks []events.Endpoint
}

func newCluster(t testing.TB, opts clusterOptions) *cluster {
	t.Helper()
	if opts.instances == 0 {
		opts.instances = 3
	}
	if opts.redisURL == "" && opts.redis == nil {
		opts.redisURL = redistest.URL(t)
	}
	c := &cluster{
		t:        t,
		clock:    &clock{},
		prefix:   redistest.Prefix(t),
		api:      &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 70 * time.Second},
		upstream: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}, Timeout: 30 * time.Second},
	}
	t.Cleanup(c.api.CloseIdleConnections)
	t.Cleanup(c.upstream.CloseIdleConnections)
	c.front = httptest.NewServer(http.HandlerFunc(c.route))
	t.Cleanup(c.front.Close)
	redirect := c.front.URL + "/oauth/callback"

	o := opts.idp
	o.RedirectURI = redirect
	o.Now = c.clock.Now
	c.idp = providertest.New(t, o)

	key, _, err := seal.GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	if opts.webhooks != nil {
		c.eventTypes = events.Types
	}
	nodes := make([]*instance, 0, opts.instances)
	for i := range opts.instances {
		nodes = append(nodes, c.startInstance(i, opts.redisURL, opts.redis, opts.dialers[i], key, redirect))
		if opts.webhooks != nil {
			c.startWebhooks(nodes[i], opts.webhooks)
		}
	}
	c.nodes.Store(&nodes)
	return c
}

// startInstance builds one engine exactly as cmd/authengine does, on its
// own Redis client.
func (c *cluster) startInstance(i int, redisURL string, redisCfg *redisstore.Config, dialer func(context.Context, string, string) (net.Conn, error), key seal.Key, redirect string) *instance {
	t := c.t
	in := &instance{logs: &syncBuffer{}}
	log := slog.New(slog.NewJSONHandler(in.logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("instance", i)
	storeOpts := redisstore.Options{Now: c.clock.Now, Logger: log, KeyPrefix: c.prefix}
	var st *redisstore.Store
	if dialer == nil {
		cfg := redisstore.Config{URL: redisURL}
		if redisCfg != nil {
			cfg = *redisCfg
		}
		var err error
		st, err = redisstore.Open(cfg, storeOpts)
		if err != nil {
			t.Fatalf("open redis store for instance %d: %v", i, err)
		}
	} else {
		o, err := goredis.ParseURL(redisURL)
		if err != nil {
			t.Fatal(err)
		}
		o.Dialer = dialer
		o.MinIdleConns, o.DialTimeout, o.ReadTimeout, o.WriteTimeout = redisstore.MinIdleConns, redisstore.DialTimeout, redisstore.ReadTimeout, redisstore.WriteTimeout
		o.PoolTimeout, o.MaxRetries, o.DialerRetries = redisstore.PoolTimeout, redisstore.MaxRetries, redisstore.DialerRetries
		o.MinRetryBackoff, o.MaxRetryBackoff, o.ContextTimeoutEnabled = redisstore.MinRetryBackoff, redisstore.MaxRetryBackoff, true
		client := goredis.NewClient(o)
		t.Cleanup(func() { client.Close() })
		st = redisstore.New(client, storeOpts)
	}
	t.Cleanup(func() { st.Close() })
	sealer, err := seal.New([]seal.Key{key})
	if err != nil {
		t.Fatal(err)
	}
	p, err := authflow.Compile(c.idp.Config(providerID), redirect)
	if err != nil {
		t.Fatalf("compile provider: %v", err)
	}
	in.registry = prometheus.NewRegistry()
	in.metrics = engine.NewMetrics(in.registry)
	eng, err := engine.New(engine.Options{
		Providers:     map[string]*authflow.Provider{providerID: p},
		Store:         st,
		Sealer:        sealer,
		HTTPClient:    c.upstream,
		FlowTTL:       10 * time.Minute,
		RefreshMargin: time.Minute,
		RefreshLease:  10 * time.Second,
		PublicURL:     c.front.URL,
		Logger:        log,
		Metrics:       in.metrics,
		Now:           c.clock.Now,
		EventTypes:    c.eventTypes,
	})
	if err != nil {
		t.Fatal(err)
	}
	api := httpapi.New(httpapi.Options{Engine: eng, APIKeys: []string{apiKey}, AdminKeys: []string{adminKey}, Logger: log})
	in.srv = httptest.NewServer(api)
	t.Cleanup(in.srv.Close)
	in.engine, in.store = eng, st
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("instance %d logs (last lines):\n%s", i, in.logs.tail(30))
		}
	})
	return in
}

// route is the front: round-robin over the instances, like a load
// balancer without affinity.
func (c *cluster) route(w http.ResponseWriter, r *http.Request) {
	nodes := *c.nodes.Load()
	n := nodes[c.next.Add(1)%uint64(len(nodes))]
	target, _ := url.Parse(n.srv.URL)
	httputil.NewSingleHostReverseProxy(target).ServeHTTP(w, r)
}

func (c *cluster) node(i int) *instance { return (*c.nodes.Load())[i] }

// base is the URL requests for instance i go to; -1 is the front.
func (c *cluster) base(i int) string {
	if i < 0 {
		return c.front.URL
	}
	return c.node(i).srv.URL
}

// call sends an API request with the API key to instance i (-1: the
// front) and decodes the JSON answer into out. It returns the status or a
// transport error; it never fails the test, so goroutines may use it.
func (c *cluster) call(ctx context.Context, i int, method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base(i)+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.api.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return resp.StatusCode, fmt.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode %s: %w", method, path, raw, err)
		}
	}
	return resp.StatusCode, nil
}

// authorize asks instance i for user's token and fails the test unless the
// engine answers 200 (see authorizeRetrying).
func (c *cluster) authorize(i int, user string) authResp {
	c.t.Helper()
	out, code, _, err := c.authorizeRetrying(context.Background(), i, user)
	if err != nil || code != http.StatusOK {
		c.t.Fatalf("authorize %s on instance %d: HTTP %d %+v %v", user, i, code, out, err)
	}
	return out
}

// authorizeRetrying is POST /v1/auth/authorize on instance i, retried (at
// most twice, as clients do on 503 with Retry-After) when the engine
// answers store_unavailable: on a starved machine (2 shared cores, -race)
// a Redis reply can miss the store's 1 s read timeout. It reports how many
// retries it took. It never fails the test, so goroutines may use it.
func (c *cluster) authorizeRetrying(ctx context.Context, i int, user string) (authResp, int, int, error) {
	for retries := 0; ; retries++ {
		var out authResp
		code, err := c.call(ctx, i, "POST", "/v1/auth/authorize", authorizeBody(user), &out)
		if err != nil || code != http.StatusServiceUnavailable || out.Name != "store_unavailable" || retries == 2 {
			return out, code, retries, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// consent plays the user at the provider and returns the callback URL the
// browser is sent to (on the front).
func (c *cluster) consent(authorizeURL string) string {
	c.t.Helper()
	cb, err := c.idp.Consent(context.Background(), authorizeURL)
	if err != nil {
		c.t.Fatal(err)
	}
	if !strings.HasPrefix(cb, c.front.URL+"/oauth/callback?") {
		c.t.Fatalf("the provider redirected to %q, not to the front's callback", cb)
	}
	return cb
}

// callback delivers the browser's visit to the callback to instance i
// (the load balancer's choice) and returns the status.
func (c *cluster) callback(ctx context.Context, i int, callbackURL string) (int, error) {
	u := c.base(i) + strings.TrimPrefix(callbackURL, c.front.URL)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	browser := *c.api
	browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := browser.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// status asks instance i for a flow's status, holding up to wait seconds.
func (c *cluster) status(ctx context.Context, i int, id string, wait int) (authResp, int, error) {
	var out authResp
	code, err := c.call(ctx, i, "GET", fmt.Sprintf("/v1/auth/status?id=%s&wait=%d", url.QueryEscape(id), wait), nil, &out)
	return out, code, err
}

// connect runs a whole authorization for user: started on instance a,
// completed on b, waited for on w. It returns the completed answer.
func (c *cluster) connect(user string, a, b, w int) authResp {
	c.t.Helper()
	start := c.authorize(a, user)
	if start.Status != "pending" || start.URL == "" || start.ID == "" {
		c.t.Fatalf("authorize %s: want pending with url and id, got %+v", user, start)
	}
	cb := c.consent(start.URL)
	if code, err := c.callback(context.Background(), b, cb); err != nil || code != http.StatusOK {
		c.t.Fatalf("callback for %s on instance %d: HTTP %d %v", user, b, code, err)
	}
	done, code, err := c.status(context.Background(), w, start.ID, 5)
	if err != nil || code != http.StatusOK || done.Status != "completed" || done.token() == "" {
		c.t.Fatalf("status of %s on instance %d after the callback: HTTP %d %+v %v", user, w, code, done, err)
	}
	return done
}

// waiters reads instance i's status_waiters gauge.
func (c *cluster) waiters(i int) int {
	var m dto.Metric
	if err := c.node(i).metrics.Waiters.Write(&m); err != nil {
		c.t.Fatal(err)
	}
	return int(m.GetGauge().GetValue())
}

// metric reads instance i's metric name (a counter or a gauge) whose
// labels include the given name=value pairs, summed over the matches.
func (c *cluster) metric(i int, name string, labels ...string) float64 {
	c.t.Helper()
	families, err := c.node(i).registry.Gather()
	if err != nil {
		c.t.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for j := 0; j+1 < len(labels); j += 2 {
				found := false
				for _, l := range m.GetLabel() {
					found = found || l.GetName() == labels[j] && l.GetValue() == labels[j+1]
				}
				if !found {
					continue metrics
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

// awaitFeed waits until every instance's connection cache answers (or
// stops answering) as its store's change feed is up (or down), and returns
// how long that took.
func (c *cluster) awaitFeed(up bool, within time.Duration) time.Duration {
	c.t.Helper()
	start := time.Now()
	for i := range len(*c.nodes.Load()) {
		for c.node(i).engine.ConnectionCacheUp() != up {
			if time.Since(start) > within {
				c.t.Fatalf("instance %d: connection cache up=%v not reached within %s", i, up, within)
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	return time.Since(start)
}

// awaitWaiters blocks until instance i holds n waiters (so a test knows
// its wait is parked before it delivers the callback).
func (c *cluster) awaitWaiters(i, n int) {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.waiters(i) < n {
		if time.Now().After(deadline) {
			c.t.Fatalf("instance %d holds %d waiters after 10s, want %d", i, c.waiters(i), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// authResp is the AuthorizationResponse as a client decodes it.
type authResp struct {
	ID      string   `json:"id"`
	Status  string   `json:"status"`
	URL     string   `json:"url"`
	Scopes  []string `json:"scopes"`
	UserID  string   `json:"user_id"`
	Reason  string   `json:"reason"`
	Name    string   `json:"name"` // set on errors
	Context *struct {
		Token string `json:"token"`
	} `json:"context"`
}

func (a authResp) token() string {
	if a.Context == nil {
		return ""
	}
	return a.Context.Token
}

func authorizeBody(user string) map[string]any {
	return map[string]any{
		"user_id": user,
		"auth_requirement": map[string]any{
			"provider_id": providerID, "provider_type": "oauth2",
			"oauth2": map[string]any{"scopes": []string{"read"}},
		},
	}
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// tail returns the last n lines.
func (b *syncBuffer) tail(n int) string {
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
