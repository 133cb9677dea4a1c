// Command loadgen drives an HTTP endpoint with a fixed number of concurrent
// clients for a fixed time and reports throughput and latency percentiles.
// The benchmarks in docs/benchmarks.md use it against the engine.
//
//	loadgen -url http://127.0.0.1:9099/v1/auth/authorize -method POST \
//	        -header "Authorization: Bearer KEY" -body '{"user_id":"u1",...}' \
//	        -c 64 -d 10s
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

type headers []string

func (h *headers) String() string     { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

func main() {
	var (
		target      = flag.String("url", "", "URL to request")
		method      = flag.String("method", "GET", "HTTP method")
		body        = flag.String("body", "", "request body")
		concurrency = flag.Int("c", 32, "concurrent clients")
		duration    = flag.Duration("d", 10*time.Second, "how long to run")
		expect      = flag.Int("expect", 200, "status every response must have")
		warmup      = flag.Duration("warmup", time.Second, "run this long first, unmeasured (opens the connections)")
		numbers     = flag.Bool("numbers", false, "also print a second line for scripts: rps, p50 and p99 in microseconds")
		hdrs        headers
	)
	flag.Var(&hdrs, "header", "request header 'Name: value' (repeatable)")
	flag.Parse()
	if *target == "" {
		fmt.Fprintln(os.Stderr, "loadgen: -url is required")
		os.Exit(2)
	}
	// One client for the warmup and the run, so the run reuses the
	// warmup's connections.
	tr := &http.Transport{MaxIdleConns: *concurrency * 2, MaxIdleConnsPerHost: *concurrency * 2, IdleConnTimeout: time.Minute}
	client := &http.Client{Transport: tr, Timeout: 70 * time.Second}
	if *warmup > 0 {
		if _, err := run(client, *target, *method, *body, hdrs, *concurrency, *warmup, *expect); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen: warmup:", err)
			os.Exit(1)
		}
	}
	res, err := run(client, *target, *method, *body, hdrs, *concurrency, *duration, *expect)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	fmt.Printf("c=%d %s\n", *concurrency, res)
	if *numbers {
		fmt.Printf("numbers: rps=%.0f p50_us=%d p99_us=%d\n", res.rps(), res.percentile(0.50).Microseconds(), res.percentile(0.99).Microseconds())
	}
	if res.failures > 0 {
		os.Exit(1)
	}
}

// result summarises a run.
type result struct {
	requests, failures int
	elapsed            time.Duration
	latencies          []time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("requests=%d failures=%d elapsed=%s rps=%.0f p50=%s p90=%s p99=%s max=%s",
		r.requests, r.failures, r.elapsed.Round(time.Millisecond),
		r.rps(), r.percentile(0.50).Round(time.Microsecond), r.percentile(0.90).Round(time.Microsecond),
		r.percentile(0.99).Round(time.Microsecond), r.percentile(1).Round(time.Microsecond))
}

func (r result) rps() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// percentile is the nearest-rank percentile p of the latencies (sorted
// by run).
func (r result) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(len(r.latencies)-1, int(float64(len(r.latencies))*p))]
}

func run(client *http.Client, target, method, body string, hdrs []string, concurrency int, d time.Duration, expect int) (result, error) {
	header := http.Header{}
	for _, h := range hdrs {
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			return result{}, fmt.Errorf("header %q: want 'Name: value'", h)
		}
		header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	if body != "" && header.Get("Content-Type") == "" {
		header.Set("Content-Type", "application/json")
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var (
		mu    sync.Mutex
		total result
		wg    sync.WaitGroup
	)
	start := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local result
			for ctx.Err() == nil {
				req, err := http.NewRequest(method, target, bytes.NewReader([]byte(body)))
				if err != nil {
					local.failures++
					return
				}
				req.Header = header.Clone()
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						local.failures++
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				local.latencies = append(local.latencies, time.Since(t0))
				local.requests++
				if resp.StatusCode != expect {
					local.failures++
				}
			}
			mu.Lock()
			total.requests += local.requests
			total.failures += local.failures
			total.latencies = append(total.latencies, local.latencies...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	total.elapsed = time.Since(start)
	slices.Sort(total.latencies)
	return total, nil
}
