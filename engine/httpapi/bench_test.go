package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authengine/authengine/authflow"
	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine"
	"github.com/authengine/authengine/engine/httpapi"
	"github.com/authengine/authengine/internal/providertest"
)

// The benchmarks here measure the engine as apps see it, on the embedded
// (bbolt) store, in front of the strict stand-in provider. Each reports,
// besides ns/op, the median and 99th percentile of the per-operation
// latencies it recorded (p50-ns, p99-ns): ns/op is a mean and hides the
// tail. docs/benchmarks.md has the figures and the commands.

// latencies records per-operation durations and reports their
// percentiles as benchmark metrics.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d ...time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d...)
	l.mu.Unlock()
}

// report adds p50-ns and p99-ns to b's results.
func (l *latencies) report(b *testing.B) {
	b.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return
	}
	slices.Sort(l.d)
	b.ReportMetric(float64(percentile(l.d, 0.50).Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(percentile(l.d, 0.99).Nanoseconds()), "p99-ns")
}

// percentile of sorted durations, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

// timed runs op b.N times, recording each run's duration. The clock
// reads around op cost about 2×40 ns, which the recorded durations include.
func timed(b *testing.B, op func()) {
	b.Helper()
	l := &latencies{d: make([]time.Duration, 0, b.N)}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		op()
		l.d = append(l.d, time.Since(t0))
	}
	b.StopTimer()
	l.report(b)
}

// timedParallel runs op from GOMAXPROCS goroutines (b.RunParallel),
// recording each run's duration.
func timedParallel(b *testing.B, op func()) {
	b.Helper()
	l := &latencies{}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 1024)
		for pb.Next() {
			t0 := time.Now()
			op()
			local = append(local, time.Since(t0))
		}
		l.add(local...)
	})
	b.StopTimer()
	l.report(b)
}

// timingTransport measures the time the engine spends waiting on the
// provider: every provider request's round trip, response body included.
type timingTransport struct {
	next  http.RoundTripper
	total atomic.Int64 // nanoseconds
	count atomic.Int64
}

func (t *timingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t0 := time.Now()
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		t.total.Add(int64(time.Since(t0)))
		t.count.Add(1)
		return resp, err
	}
	// The body is read by the engine after RoundTrip returns; count the
	// read too, since it is the provider's bytes arriving.
	resp.Body = &timedBody{ReadCloser: resp.Body, t: t, start: t0}
	return resp, nil
}

type timedBody struct {
	io.ReadCloser
	t     *timingTransport
	start time.Time
	once  sync.Once
}

func (b *timedBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(func() {
		b.t.total.Add(int64(time.Since(b.start)))
		b.t.count.Add(1)
	})
	return err
}

// benchEngine is an engine built the way cmd/authengine serve builds it
// (info-level JSON logs, metrics registered nowhere), on the harness's
// store, key and server, with provider requests timed. It replaces the
// harness's handler, so the harness's URLs reach it.
type benchEngine struct {
	h       *harness
	idp     *providertest.Provider
	engine  *engine.Engine
	handler http.Handler
	clock   *timingTransport
}

// benchLogger is what serve logs through at the default level (info):
// access-log lines are debug and are dropped at the Enabled check.
func benchLogger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func newBenchEngine(b *testing.B, log *slog.Logger) *benchEngine {
	b.Helper()
	be := &benchEngine{}
	be.h = newHarness(b, harnessOptions{providers: func(h *harness, redirect string) []config.Provider {
		be.idp = providertest.New(b, providertest.Options{
			ClientAuth: providertest.ClientSecretBasic, RequirePKCE: true, RedirectURI: redirect,
			AccessTokenTTL: time.Hour, UserInfo: map[string]any{"sub": "u-42", "email": "ada@example.com"},
		})
		return []config.Provider{be.idp.Config("hooli")}
	}})
	h := be.h
	p, err := authflow.Compile(be.idp.Config("hooli"), h.redirectURI())
	if err != nil {
		b.Fatal(err)
	}
	be.clock = &timingTransport{next: http.DefaultTransport.(*http.Transport).Clone()}
	be.engine, err = engine.New(engine.Options{
		Providers:  map[string]*authflow.Provider{"hooli": p},
		Store:      h.store,
		Sealer:     mustSealer(b, h),
		HTTPClient: &http.Client{Transport: be.clock, Timeout: 30 * time.Second},
		PublicURL:  h.srv.URL,
		Logger:     log,
	})
	if err != nil {
		b.Fatal(err)
	}
	be.handler = httpapi.New(httpapi.Options{Engine: be.engine, APIKeys: []string{apiKey}, AdminKeys: []string{adminKey}, Logger: log})
	h.handler.Store(&be.handler)
	return be
}

// connectedUser runs one real authorization for user and returns the
// request body that finds the connection.
func (be *benchEngine) connectedUser(b *testing.B, user string) []byte {
	b.Helper()
	done := be.h.connect(be.idp, user, "hooli", "read", "write")
	if !be.idp.ValidAccessToken(done.Token()) {
		b.Fatal("the connection holds a token the stand-in did not issue")
	}
	body, err := json.Marshal(authorizeBody(user, "hooli", "read"))
	if err != nil {
		b.Fatal(err)
	}
	return body
}

// serveAuthorize sends one authorize request straight to the handler and
// returns an error unless the answer is completed.
func serveAuthorize(handler http.Handler, body []byte) error {
	req := httptest.NewRequest(http.MethodPost, "/v1/auth/authorize", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !bytes.Contains(rec.Body.Bytes(), []byte(`"status":"completed"`)) {
		return fmt.Errorf("authorize: HTTP %d %s", rec.Code, rec.Body.String())
	}
	return nil
}

// mustServeAuthorize is serveAuthorize on the benchmark's own goroutine.
func mustServeAuthorize(b *testing.B, handler http.Handler, body []byte) {
	if err := serveAuthorize(handler, body); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkAuthorizeConnected measures POST /v1/auth/authorize for a user
// who already holds a token covering the scopes: the API-key check, JSON
// binding, one bbolt read, opening the sealed token (AES-GCM + JSON) and
// writing the answer. Target: median under 1 ms.
func BenchmarkAuthorizeConnected(b *testing.B) {
	b.Run("through the echo handler", func(b *testing.B) {
		be := newBenchEngine(b, benchLogger())
		body := be.connectedUser(b, "ada")
		timed(b, func() { mustServeAuthorize(b, be.handler, body) })
	})
	b.Run("through the echo handler with debug access logs", func(b *testing.B) {
		be := newBenchEngine(b, slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug})))
		body := be.connectedUser(b, "ada")
		timed(b, func() { mustServeAuthorize(b, be.handler, body) })
	})
	b.Run("through the echo handler in parallel", func(b *testing.B) {
		be := newBenchEngine(b, benchLogger())
		body := be.connectedUser(b, "ada")
		var failed atomic.Bool
		timedParallel(b, func() {
			if err := serveAuthorize(be.handler, body); err != nil && !failed.Swap(true) {
				b.Error(err)
			}
		})
	})
	b.Run("through engine.Authorize", func(b *testing.B) {
		be := newBenchEngine(b, benchLogger())
		be.connectedUser(b, "ada")
		ctx := context.Background()
		req := engine.AuthorizeRequest{UserID: "ada", ProviderID: "hooli", ProviderType: "oauth2", Scopes: []string{"read"}}
		timed(b, func() {
			a, err := be.engine.Authorize(ctx, req)
			if err != nil || a.Status != engine.StatusCompleted || a.Token == "" {
				b.Fatalf("authorize: %v %+v", err, a.Status)
			}
		})
	})
	b.Run("over loopback HTTP", func(b *testing.B) {
		be := newBenchEngine(b, benchLogger())
		body := be.connectedUser(b, "ada")
		client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		target := be.h.srv.URL + "/v1/auth/authorize"
		timed(b, func() {
			req, _ := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+apiKey)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("authorize: HTTP %d", resp.StatusCode)
			}
		})
	})
}

// BenchmarkStatusCompleted measures GET /v1/auth/status for a flow that
// has completed: a bbolt read of the flow, one of the connection, and
// opening the sealed token.
func BenchmarkStatusCompleted(b *testing.B) {
	be := newBenchEngine(b, benchLogger())
	start := be.h.authorize("ada", "hooli", "read")
	cb, err := be.idp.Consent(context.Background(), start.URL)
	if err != nil {
		b.Fatal(err)
	}
	if code, page, _ := be.h.browse(cb); code != http.StatusOK {
		b.Fatalf("callback: HTTP %d %s", code, page)
	}
	target := "/v1/auth/status?id=" + url.QueryEscape(start.ID)
	timed(b, func() {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		req.Header.Set("Authorization", "Bearer "+apiKey)
		rec := httptest.NewRecorder()
		be.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"status":"completed"`) {
			b.Fatalf("status: HTTP %d %s", rec.Code, rec.Body.String())
		}
	})
}

// BenchmarkRoundTrip measures a whole authorization over loopback HTTP:
// POST /v1/auth/authorize (pending), the browser's visit to the stand-in's
// authorize endpoint (Consent), GET /oauth/callback (code exchange and
// user info at the stand-in, sealing, two bbolt writes) and
// GET /v1/auth/status. Every op is a new user, so each authorize starts a
// flow. Besides ns/op it reports:
//
//   - standin-ns/op: time spent in the stand-in: the Consent visit plus
//     every provider request the engine made (round trip and body), as the
//     engine's HTTP client saw it;
//   - engine-ns/op: ns/op minus standin-ns/op — the engine's own time,
//     loopback HTTP to the engine included. Target: under 10 ms.
func BenchmarkRoundTrip(b *testing.B) {
	be := newBenchEngine(b, benchLogger())
	h := be.h
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	ctx := context.Background()
	var consent time.Duration
	l := &latencies{d: make([]time.Duration, 0, b.N)}
	engineTimes := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		before := be.clock.total.Load()
		t0 := time.Now()
		start := h.authorize("user-"+strconv.Itoa(i), "hooli", "read")
		c0 := time.Now()
		cb, err := be.idp.Consent(ctx, start.URL)
		if err != nil {
			b.Fatal(err)
		}
		visit := time.Since(c0)
		consent += visit
		resp, err := browser.Get(cb)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("callback: HTTP %d", resp.StatusCode)
		}
		var done authResp
		if code := h.do(http.MethodGet, "/v1/auth/status?id="+url.QueryEscape(start.ID), nil, &done); code != 200 || done.Status != "completed" {
			b.Fatalf("status: HTTP %d %+v", code, done.Status)
		}
		total := time.Since(t0)
		l.d = append(l.d, total)
		engineTimes = append(engineTimes, total-visit-time.Duration(be.clock.total.Load()-before))
	}
	b.StopTimer()
	l.report(b)
	standin := consent + time.Duration(be.clock.total.Load())
	b.ReportMetric(float64(standin.Nanoseconds())/float64(b.N), "standin-ns/op")
	var sum time.Duration
	for _, d := range engineTimes {
		sum += d
	}
	b.ReportMetric(float64(sum.Nanoseconds())/float64(b.N), "engine-ns/op")
	slices.Sort(engineTimes)
	b.ReportMetric(float64(percentile(engineTimes, 0.50).Nanoseconds()), "engine-p50-ns")
	b.ReportMetric(float64(be.clock.count.Load())/float64(b.N), "provider-requests/op")
}

// BenchmarkStatusWaitMemory holds 2,000 GET /v1/auth/status?wait=59
// requests open over loopback in this process and reports the Go stack and
// heap each held wait adds, for the engine's handler and, as the floor
// net/http itself costs, for a handler that only blocks. The client's
// goroutines and buffers are in both figures, so the difference between
// the two is what the engine's path costs per wait. It measures once
// whatever b.N is: run it with -benchtime 1x.
func BenchmarkStatusWaitMemory(b *testing.B) {
	const waits, flows = 2000, 20
	for _, mode := range []string{"engine handler", "plain net/http handler that only blocks"} {
		b.Run(mode, func(b *testing.B) {
			be := newBenchEngine(b, benchLogger())
			h := be.h
			ids := make([]string, flows)
			for i := range ids {
				ids[i] = h.authorize("waiter-"+strconv.Itoa(i), "hooli", "read").ID
			}
			release := make(chan struct{})
			if mode != "engine handler" {
				var plain http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					select {
					case <-release:
					case <-r.Context().Done():
					}
				})
				h.handler.Store(&plain)
			}
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: waits + 8}}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			defer func() { cancel(); close(release); wg.Wait() }()
			runtime.GC()
			var before, held runtime.MemStats
			runtime.ReadMemStats(&before)
			for j := range waits {
				wg.Add(1)
				go func() {
					defer wg.Done()
					req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.srv.URL+"/v1/auth/status?id="+ids[j%flows]+"&wait=59", nil)
					req.Header.Set("Authorization", "Bearer "+apiKey)
					if resp, err := client.Do(req); err == nil {
						resp.Body.Close()
					}
				}()
			}
			// Wait until every request reached the server and is held.
			deadline := time.Now().Add(20 * time.Second)
			for runtime.NumGoroutine() < 5*waits && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			time.Sleep(time.Second)
			runtime.GC()
			runtime.ReadMemStats(&held)
			b.ReportMetric(float64(held.StackInuse-before.StackInuse)/waits, "stack-B/wait")
			b.ReportMetric(float64(int64(held.HeapInuse)-int64(before.HeapInuse))/waits, "heap-B/wait")
			b.ReportMetric(float64(runtime.NumGoroutine())/waits, "goroutines/wait")
		})
	}
}
