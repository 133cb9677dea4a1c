package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/authengine/authengine/engine/keyring"
	"github.com/authengine/authengine/engine/seal"
	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/bolt"
	redisstore "github.com/authengine/authengine/engine/store/redis"
	"github.com/authengine/authengine/internal/providertest"
	"github.com/authengine/authengine/internal/redistest"
)

// The kill -9 loop. `make test` runs a few kills per store; `make crash`
// sets AUTHENGINE_CRASH_KILLS for the long run whose figures
// docs/production.md reports.
const envCrashKills = "AUTHENGINE_CRASH_KILLS"

// buildEngine builds cmd/authengine into a directory of t's.
func buildEngine(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "authengine")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestEngineProcess runs the engine as its own process, built once: the
// kill -9 loop and the full disk.
func TestEngineProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the engine binary")
	}
	bin := buildEngine(t)
	t.Run("kill loop", func(t *testing.T) { testKillLoop(t, bin) })
	t.Run("full disk", func(t *testing.T) { testFullDisk(t, bin) })
	t.Run("sigterm drain", func(t *testing.T) { testSIGTERMDrains(t, bin) })
	t.Run("sighup reload", func(t *testing.T) { testSIGHUPReload(t, bin) })
	t.Run("webhook after kill -9", func(t *testing.T) { testWebhookAfterKill(t, bin) })
	t.Run("heap floor", func(t *testing.T) { testHeapFloor(t, bin) })
}

// testKillLoop kills a real engine process with SIGKILL at random moments
// while users connect (callbacks) and tokens that live one second are
// refreshed all the time, against a strict stand-in provider that rotates
// refresh tokens and revokes the chain when a rotated one is used again.
// After every kill it checks the store as the dead engine left it, then
// restarts the engine on it. It counts:
//
//   - corrupt store files (bbolt's consistency check, embedded store);
//   - lost connections: a user the engine had answered "completed" for
//     whose connection is gone, or ended needs_reauth for no reason;
//   - kills in the unavoidable window: the stored refresh token is one the
//     provider has already rotated (it answered a refresh, and the engine
//     died before storing the answer). Those connections must end
//     needs_reauth with an event (a log line naming the connection), when
//     their next refresh is refused;
//   - forgotten rotated refresh tokens: reuses the provider detected
//     beyond the ones the window explains.
func testKillLoop(t *testing.T, bin string) {
	kills := 4
	if v := os.Getenv(envCrashKills); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive number of kills", envCrashKills, v)
		}
		kills = n
	}
	t.Run("embedded", func(t *testing.T) { killLoop(t, bin, "embedded", kills) })
	t.Run("redis", func(t *testing.T) { killLoop(t, bin, "redis", kills) })
}

// crashRig is one engine process at a time on one store, and the stand-in.
type crashRig struct {
	t        *testing.T
	bin      string
	dir      string
	backend  string
	cfgPath  string
	base     string
	idp      *providertest.Provider
	root     *seal.Sealer
	redisURL string
	prefix   string
	logPath  string

	cmd *exec.Cmd
}

const crashAPIKey = "crash-api-key-0123456789"

func newCrashRig(t *testing.T, bin, backend string) *crashRig {
	t.Helper()
	r := &crashRig{t: t, bin: bin, dir: t.TempDir(), backend: backend}
	t.Cleanup(r.kill)
	port := freePort(t)
	r.base = fmt.Sprintf("http://127.0.0.1:%d", port)
	r.idp = providertest.New(t, providertest.Options{
		RedirectURI: r.base + "/oauth/callback", ClientAuth: providertest.ClientSecretBasic, RequirePKCE: true,
		AccessTokenTTL: time.Second, RotateRefreshTokens: true,
	})
	key, value, err := seal.GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	if r.root, err = seal.New([]seal.Key{key}); err != nil {
		t.Fatal(err)
	}
	storeCfg := "{type: embedded}"
	if backend == "redis" {
		r.redisURL, r.prefix = redistest.URL(t), redistest.Prefix(t)
		storeCfg = fmt.Sprintf("{type: redis, redis: {url: %q, key_prefix: %q}}", r.redisURL, r.prefix)
	}
	idp := r.idp.URL()
	r.cfgPath = filepath.Join(r.dir, "engine.yaml")
	r.logPath = filepath.Join(r.dir, "engine.log")
	cfg := fmt.Sprintf(`
data_dir: %s
# The loop is one client storming one engine: rate limits off.
api: {development: false, host: 127.0.0.1, port: %d, public_url: %q, api_keys: [%s], admin_keys: [crash-admin-key-0123456789],
  rate_limits: {api_key: {per_second: 0}, callback: {per_second: 0}, flows_per_user: 0, flows_per_api_key: 0}}
security: {root_keys: [{id: k1, value: %q}]}
store: %s
telemetry: {log: {level: info, format: json}}
auth:
  providers:
    - id: hooli
      client_id: %s
      client_secret: %s
      oauth2:
        grant_type: authorization_code
        pkce: {enabled: true, code_challenge_method: S256}
        authorize_request:
          endpoint: %s/authorize
          params: {response_type: code, client_id: "<<client_id>>", redirect_uri: "<<redirect_uri>>", scope: "<<scopes>> <<existing_scopes>>"}
        token_request:
          endpoint: %s/token
          method: POST
          auth_method: client_secret_basic
          params: {grant_type: authorization_code, redirect_uri: "<<redirect_uri>>"}
        refresh_token_request:
          endpoint: %s/token
          method: POST
          auth_method: client_secret_basic
          params: {grant_type: refresh_token, refresh_token: "<<refresh_token>>"}
`, filepath.Join(r.dir, "data"), port, r.base, crashAPIKey, value, storeCfg,
		r.idp.ClientID(), r.idp.ClientSecret(), idp, idp, idp)
	if err := os.WriteFile(r.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return r
}

// start runs the engine and waits until it answers health.
func (r *crashRig) start() {
	t := r.t
	t.Helper()
	logf, err := os.OpenFile(r.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(r.bin, "serve", "-c", r.cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	// A test binary that dies (a timeout, a signal) takes the engine with
	// it; a failing test stops it in its cleanup.
	cmd.SysProcAttr = redistest.ProcAttr()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.cmd = cmd
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(r.base + "/v1/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				// Reap the process in the background from now on.
				r.cmd = cmd
				go func() { <-exited }()
				return
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("engine exited at start: %v\n%s", err, r.logTail())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("engine did not become healthy within 60 s\n%s", r.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits until the port is free.
func (r *crashRig) kill() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	for range 500 {
		if err := r.cmd.Process.Signal(syscall.Signal(0)); err != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.cmd = nil
}

func (r *crashRig) logTail() string {
	raw, _ := os.ReadFile(r.logPath)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

// openStore opens the store the engine left (the engine is dead).
func (r *crashRig) openStore() store.Store {
	t := r.t
	t.Helper()
	var st store.Store
	var err error
	if r.backend == "redis" {
		st, err = redisstore.Open(redisstore.Config{URL: r.redisURL, KeyPrefix: r.prefix}, redisstore.Options{})
	} else {
		st, err = bolt.Open(r.dbPath(), bolt.Options{})
	}
	if err != nil {
		t.Fatalf("open the store after a kill: %v", err)
	}
	return st
}

func (r *crashRig) dbPath() string { return filepath.Join(r.dir, "data", "authengine.db") }

// client is the HTTP client of the traffic: short timeouts, so a dead
// engine does not hold workers.
var crashClient = &http.Client{Timeout: 10 * time.Second}

// call sends one API request; code 0 means the engine did not answer.
func (r *crashRig) call(method, path string, body any, out any) int {
	return r.callWith(crashAPIKey, method, path, body, out)
}

// callWith sends one request with key; code 0 means the engine did not
// answer.
func (r *crashRig) callWith(key, method, path string, body any, out any) int {
	var rd *strings.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = strings.NewReader(string(raw))
	} else {
		rd = strings.NewReader("")
	}
	req, _ := http.NewRequest(method, r.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := crashClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

type crashAuth struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	URL    string `json:"url"`
	Reason string `json:"reason"`
}

// authorize asks for user's token; the answer's status, or "" when the
// engine did not answer.
func (r *crashRig) authorize(user string) crashAuth {
	var out crashAuth
	body := map[string]any{"user_id": user, "auth_requirement": map[string]any{"provider_id": "hooli", "provider_type": "oauth2", "oauth2": map[string]any{"scopes": []string{"read"}}}}
	if code := r.call("POST", "/v1/auth/authorize", body, &out); code != 200 {
		return crashAuth{}
	}
	return out
}

// connect runs a consent and the callback for a pending authorization and
// reports whether the engine then says completed.
func (r *crashRig) connect(a crashAuth) bool {
	cb, err := r.idp.Consent(context.Background(), a.URL)
	if err != nil {
		return false
	}
	noRedirect := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(cb)
	if err != nil {
		return false
	}
	resp.Body.Close()
	var done crashAuth
	code := r.call("GET", "/v1/auth/status?id="+url.QueryEscape(a.ID)+"&wait=5", nil, &done)
	return code == 200 && done.Status == "completed"
}

// crashCounts are the figures of one loop.
type crashCounts struct {
	kills, corruptFiles, corruptRecords, lostConnections, windowKills, windowConnections, forgotten int
	refreshes, connects                                                                             int64
	unsavedSum                                                                                      float64
	unsavedCount                                                                                    int64
	unsavedBuckets                                                                                  map[float64]int64
}

func killLoop(t *testing.T, bin, backend string, kills int) {
	r := newCrashRig(t, bin, backend)
	c := crashCounts{unsavedBuckets: map[float64]int64{}}
	var (
		mu    sync.Mutex
		acked = map[string]bool{} // users the engine answered completed for
		users []string
	)
	ack := func(user string) {
		mu.Lock()
		defer mu.Unlock()
		if !acked[user] {
			acked[user] = true
			users = append(users, user)
		}
	}
	window := map[string]bool{} // users whose stored token the provider had rotated

	r.start()
	for i := range 12 {
		user := fmt.Sprint("user-", i)
		if a := r.authorize(user); a.Status == "pending" && r.connect(a) {
			ack(user)
		}
	}
	if len(users) != 12 {
		t.Fatalf("only %d of 12 users connected before the first kill\n%s", len(users), r.logTail())
	}
	var newUsers atomic.Int64
	for kill := range kills {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 6 {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(kill), uint64(w)))
				for {
					select {
					case <-stop:
						return
					default:
					}
					if rng.IntN(8) == 0 {
						// A new user connects: a callback under fire.
						user := fmt.Sprintf("new-%d", newUsers.Add(1))
						if a := r.authorize(user); a.Status == "pending" && r.connect(a) {
							ack(user)
						}
						continue
					}
					mu.Lock()
					user := users[rng.IntN(len(users))]
					mu.Unlock()
					r.authorize(user) // mostly a refresh: tokens live 1 s
				}
			})
		}
		time.Sleep(time.Duration(100+rand.IntN(1100)) * time.Millisecond)
		r.scrapeUnsaved(&c)
		r.kill()
		close(stop)
		wg.Wait()
		c.kills++
		r.inspect(&c, users, window, &mu)
		r.start()
	}

	// Every acknowledged user, once more: a connection whose stored
	// refresh token was already rotated has its next refresh refused
	// (the chain is revoked) and must end needs_reauth with an event;
	// every other one must still be connected.
	time.Sleep(1100 * time.Millisecond) // every access token is stale
	mu.Lock()
	final := append([]string(nil), users...)
	mu.Unlock()
	for _, user := range final {
		// A refresh lease the killed engine held delays the next refresh
		// until it expires; wait for a definite answer.
		a := r.authorize(user)
		for deadline := time.Now().Add(90 * time.Second); a.Status == "" && time.Now().Before(deadline); {
			time.Sleep(250 * time.Millisecond)
			a = r.authorize(user)
		}
		switch {
		case a.Status == "completed":
			if window[user] {
				t.Errorf("%s: its stored refresh token had been rotated, yet its token was refreshed (the stand-in should have refused it)", user)
			}
		case a.Status == "pending" && window[user]:
			if !strings.Contains(r.logs(), store.ConnectionID("hooli", user)) {
				t.Errorf("%s: ended needs_reauth with no log line naming its connection", user)
			}
		default:
			c.lostConnections++
			t.Errorf("%s: authorize answered %+v, want completed (or pending after a kill in the window)", user, a)
		}
	}
	counts := r.idp.Counts()
	c.refreshes, c.connects = int64(counts.Refreshes), int64(counts.CodeExchanges)
	c.forgotten = counts.Replays - c.windowConnections
	if c.corruptFiles != 0 || c.corruptRecords != 0 || c.lostConnections != 0 || c.forgotten != 0 {
		t.Errorf("corrupt files %d, corrupt records %d, lost connections %d, forgotten rotated refresh tokens %d: want 0 each", c.corruptFiles, c.corruptRecords, c.lostConnections, c.forgotten)
	}
	if violations := r.idp.Violations(); len(violations) > 0 {
		t.Errorf("protocol violations: %v", violations)
	}
	mean := 0.0
	if c.unsavedCount > 0 {
		mean = c.unsavedSum / float64(c.unsavedCount)
	}
	t.Logf("%s store: %d kills; %d corrupt files; %d corrupt records; %d lost connections; %d forgotten rotated refresh tokens; "+
		"%d kills in the window after the provider answered a refresh and before the token was stored (%d connections, each ended needs_reauth with an event); "+
		"%d users, %d code exchanges, %d refreshes; window (refresh answer to durable write) mean %.2f ms over %d refreshes, 99th percentile at most %s",
		backend, c.kills, c.corruptFiles, c.corruptRecords, c.lostConnections, c.forgotten, c.windowKills, c.windowConnections,
		len(final), c.connects, c.refreshes, mean*1000, c.unsavedCount, p99Bound(c.unsavedBuckets, c.unsavedCount))
}

func (r *crashRig) logs() string {
	raw, _ := os.ReadFile(r.logPath)
	return string(raw)
}

// inspect checks the store the dead engine left.
func (r *crashRig) inspect(c *crashCounts, users []string, window map[string]bool, mu *sync.Mutex) {
	t := r.t
	if r.backend == "embedded" {
		problems, err := bolt.Check(context.Background(), r.dbPath())
		if err != nil || len(problems) > 0 {
			c.corruptFiles++
			t.Errorf("kill %d: the store file is damaged: %v %q", c.kills, err, problems)
			return
		}
	}
	st := r.openStore()
	defer st.Close()
	err := st.Scan(context.Background(), func(rec store.SealedRecord) error {
		if rec.Err != nil {
			c.corruptRecords++
			t.Errorf("kill %d: %s %s cannot be decoded: %v", c.kills, rec.Kind, rec.ID, rec.Err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("scan the store after a kill: %v", err)
	}
	kr, err := keyring.Open(context.Background(), r.root, st, keyring.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	check := append([]string(nil), users...)
	mu.Unlock()
	inWindow := 0
	for _, user := range check {
		id := store.ConnectionID("hooli", user)
		conn, err := st.GetConnection(context.Background(), id)
		if err != nil {
			c.lostConnections++
			t.Errorf("kill %d: %s was acknowledged but its connection is gone: %v", c.kills, user, err)
			continue
		}
		// A reused rotated refresh token revokes the chain: the stand-in
		// says so, and the connection ends revoked (needs_reauth for other
		// refusals). Either needs a new authorization.
		if conn.Status == store.ConnectionNeedsReauth || conn.Status == store.ConnectionRevoked {
			if !window[user] {
				c.lostConnections++
				t.Errorf("kill %d: %s ended %s without a kill in the window", c.kills, user, conn.Status)
			}
			continue
		}
		plain, err := kr.Open(conn.Sealed, []byte("conn:"+id))
		if err != nil {
			t.Errorf("kill %d: %s: %v", c.kills, user, err)
			continue
		}
		var ts struct {
			RefreshToken string `json:"refresh_token"`
		}
		_ = json.Unmarshal(plain, &ts)
		known, rotated, revoked := r.idp.RefreshTokenState(ts.RefreshToken)
		switch {
		case !known:
			t.Errorf("kill %d: %s: the stored refresh token is not one the provider issued", c.kills, user)
		case rotated && !revoked && !window[user]:
			window[user] = true
			inWindow++
		case revoked && !window[user]:
			c.lostConnections++
			t.Errorf("kill %d: %s: its token chain was revoked without a kill in the window", c.kills, user)
		}
	}
	if inWindow > 0 {
		c.windowKills++
		c.windowConnections += inWindow
	}
}

// scrapeUnsaved adds the engine's refresh_unsaved histogram to c (the
// engine starts from zero after each restart).
func (r *crashRig) scrapeUnsaved(c *crashCounts) {
	resp, err := crashClient.Get(r.base + "/metrics")
	if err != nil {
		return
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		name, value, ok := strings.Cut(line, " ")
		if !ok || !strings.HasPrefix(name, "authengine_refresh_unsaved_seconds") {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(name, "authengine_refresh_unsaved_seconds_sum"):
			c.unsavedSum += v
		case strings.HasPrefix(name, "authengine_refresh_unsaved_seconds_count"):
			c.unsavedCount += int64(v)
		case strings.HasPrefix(name, `authengine_refresh_unsaved_seconds_bucket{le="`):
			le := strings.TrimSuffix(strings.TrimPrefix(name, `authengine_refresh_unsaved_seconds_bucket{le="`), `"}`)
			if b, err := strconv.ParseFloat(le, 64); err == nil {
				c.unsavedBuckets[b] += int64(v)
			}
		}
	}
}

// p99Bound is the smallest histogram bound holding 99% of observations.
func p99Bound(buckets map[float64]int64, count int64) string {
	if count == 0 {
		return "n/a"
	}
	best := -1.0
	for b, n := range buckets {
		if float64(n) >= 0.99*float64(count) && (best < 0 || b < best) {
			best = b
		}
	}
	if best < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%g ms", best*1000)
}

// TestMain stops the private redis-server the kill loop may start.
func TestMain(m *testing.M) { redistest.Main(m) }

// testFullDisk runs the engine on the embedded
// store until its file can no longer grow (a file size limit set on the
// running process, which the kernel enforces as it would a full disk):
// requests that need a write answer 503 store_unavailable, not 500; after
// a restart with room again the file is sound and every connection the
// engine acknowledged is there.
func testFullDisk(t *testing.T, bin string) {
	r := newCrashRig(t, bin, "embedded")
	r.start()
	var acked []string
	for i := range 5 {
		user := fmt.Sprint("user-", i)
		if a := r.authorize(user); a.Status == "pending" && r.connect(a) {
			acked = append(acked, user)
		}
	}
	info, err := os.Stat(r.dbPath())
	if err != nil {
		t.Fatal(err)
	}
	limit := &unix.Rlimit{Cur: uint64(info.Size()), Max: uint64(info.Size())}
	if err := unix.Prlimit(r.cmd.Process.Pid, unix.RLIMIT_FSIZE, limit, nil); err != nil {
		t.Skipf("cannot limit the engine's file size here: %v", err)
	}
	var refused int
	for i := 0; i < 2000 && refused < 5; i++ {
		user := fmt.Sprint("late-", i)
		var out struct {
			Status string `json:"status"`
			URL    string `json:"url"`
			ID     string `json:"id"`
			Name   string `json:"name"`
		}
		body := map[string]any{"user_id": user, "auth_requirement": map[string]any{"provider_id": "hooli", "oauth2": map[string]any{"scopes": []string{"read"}}}}
		switch code := r.call("POST", "/v1/auth/authorize", body, &out); {
		case code == 200 && out.Status == "pending":
			if r.connect(crashAuth{ID: out.ID, URL: out.URL, Status: out.Status}) {
				acked = append(acked, user)
			}
		case code == 503 && out.Name == "store_unavailable":
			refused++
		default:
			t.Fatalf("authorize with the file full: HTTP %d %+v, want 200 pending or 503 store_unavailable\n%s", code, out, r.logTail())
		}
	}
	if refused == 0 {
		t.Fatalf("the file never filled up (%d acknowledged users)", len(acked))
	}
	if !strings.Contains(r.logs(), "file too large") && !strings.Contains(r.logs(), "no space left") {
		t.Errorf("no log line says why writes fail:\n%s", r.logTail())
	}
	r.kill()
	if problems, err := bolt.Check(context.Background(), r.dbPath()); err != nil || len(problems) > 0 {
		t.Fatalf("the store file is damaged after filling up: %v %q", err, problems)
	}
	r.start()                           // a new process: no limit
	time.Sleep(1100 * time.Millisecond) // stale tokens: authorize refreshes and writes
	for _, user := range acked {
		if a := r.authorize(user); a.Status != "completed" {
			t.Errorf("%s was acknowledged before the disk filled; after a restart authorize answers %+v", user, a)
		}
	}
	t.Logf("%d connections acknowledged, %d requests refused with 503 while the file was full", len(acked), refused)
}

// testHeapFloor: the process keeps the collector's heap goal at the
// default floor, 32 MiB, while its live heap is a few MB (the runtime's
// own figures on /metrics), and runtime.gc_heap_floor_bytes: 0 leaves Go's
// default percent alone.
func testHeapFloor(t *testing.T, bin string) {
	gc := func(r *crashRig) (percent, goal float64) {
		t.Helper()
		resp, err := crashClient.Get(r.base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			name, value, _ := strings.Cut(sc.Text(), " ")
			v, _ := strconv.ParseFloat(value, 64)
			switch name {
			case "go_gc_gogc_percent":
				percent = v
			case "go_memstats_next_gc_bytes":
				goal = v
			}
		}
		return percent, goal
	}
	r := newCrashRig(t, bin, "embedded")
	r.start()
	percent, goal := gc(r)
	r.kill()
	if percent <= 100 || goal < 30<<20 || goal > 40<<20 {
		t.Errorf("default floor: GC percent %v, heap goal %v bytes; want above 100 and about 32 MiB", percent, goal)
	}

	off := newCrashRig(t, bin, "embedded")
	raw, err := os.ReadFile(off.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(off.cfgPath, append(raw, "runtime: {gc_heap_floor_bytes: 0}\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	off.start()
	defer off.kill()
	if percent, goal := gc(off); percent != 100 || goal > 16<<20 {
		t.Errorf("floor off: GC percent %v, heap goal %v bytes; want 100 and Go's own goal of a few MB", percent, goal)
	}
}
