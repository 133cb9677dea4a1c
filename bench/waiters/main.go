// Command waiters holds many GET /v1/auth/status?wait=N requests open
// against one engine process, measures the engine's resident memory while
// they are held, then completes the flows through real callbacks and
// measures how long until every waiter was answered "completed".
//
// It starts -flows pending flows (one user each), opens -waiters status
// waits spread evenly over them (one TCP connection each), waits until the
// engine's authengine_status_waiters gauge shows them all held, reads
// VmRSS of -pid from /proc, then plays the browser for every flow (consent
// at the provider, the engine's callback) and times the answers.
//
//	waiters -engine http://127.0.0.1:19099 -key KEY -pid 1234 -flows 100 -waiters 10000
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authengine/authengine/bench/apiclient"
)

func main() {
	var (
		base     = flag.String("engine", "http://127.0.0.1:19099", "engine origin")
		key      = flag.String("key", "", "API key (required)")
		provider = flag.String("provider", "standin", "provider id")
		pid      = flag.Int("pid", 0, "engine process id, for its resident memory (required)")
		flows    = flag.Int("flows", 100, "distinct pending flows")
		waiters  = flag.Int("waiters", 10000, "concurrent status waits")
		wait     = flag.Int("wait", 59, "wait= seconds of each status request")
		settle   = flag.Duration("settle", 2*time.Second, "pause after every wait is held, before reading memory")
		dials    = flag.Int("dials", 128, "connections opened at once while starting the waits")
	)
	flag.Parse()
	if *key == "" || *pid == 0 {
		fmt.Fprintln(os.Stderr, "waiters: -key and -pid are required")
		os.Exit(2)
	}
	r := run{base: *base, key: *key, provider: *provider, pid: *pid, flows: *flows, waiters: *waiters, wait: *wait, settle: *settle, dials: *dials}
	if err := r.do(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "waiters:", err)
		os.Exit(1)
	}
}

type run struct {
	base, key, provider string
	pid                 int
	flows, waiters      int
	wait                int
	settle              time.Duration
	dials               int
}

// answer is one waiter's outcome.
type answer struct {
	flow   int
	status string
	token  bool
	at     time.Time
	err    error
}

func (r run) do(ctx context.Context) error {
	// One connection per waiter; dialing is throttled so the engine's
	// accept backlog never overflows (a dropped SYN costs a 1 s retry).
	sem := make(chan struct{}, r.dials)
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	tr := &http.Transport{
		MaxIdleConnsPerHost: r.waiters + 64,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			sem <- struct{}{}
			defer func() { <-sem }()
			return dialer.DialContext(ctx, network, addr)
		},
	}
	c := &apiclient.Client{Base: r.base, Key: r.key, HTTP: &http.Client{Transport: tr, Timeout: time.Duration(r.wait+30) * time.Second}}

	rssIdle, err := memory(r.pid)
	if err != nil {
		return err
	}
	fmt.Printf("engine:   pid %d, VmRSS %s before any flow\n", r.pid, kb(rssIdle.rss))

	ids, urls := make([]string, r.flows), make([]string, r.flows)
	for i := range r.flows {
		a, err := c.Authorize(ctx, "waiter-user-"+strconv.Itoa(i), r.provider, []string{"read"})
		if err != nil {
			return fmt.Errorf("start flow %d: %w", i, err)
		}
		if a.Status != "pending" {
			return fmt.Errorf("start flow %d: status %q, want pending", i, a.Status)
		}
		ids[i], urls[i] = a.ID, a.URL
	}
	fmt.Printf("flows:    %d pending\n", r.flows)

	answers := make(chan answer, r.waiters)
	launched := time.Now()
	for j := range r.waiters {
		go func() {
			f := j % r.flows
			a, err := c.Status(ctx, ids[f], r.wait)
			answers <- answer{flow: f, status: a.Status, token: a.HasToken(), at: time.Now(), err: err}
		}()
	}
	held, err := r.awaitHeld(ctx, c, answers)
	if err != nil {
		return err
	}
	fmt.Printf("waits:    %d held by the engine after %s (authengine_status_waiters)\n", held, time.Since(launched).Round(time.Millisecond))
	time.Sleep(r.settle)
	mem, err := memory(r.pid)
	if err != nil {
		return err
	}
	fmt.Printf("engine:   VmRSS %s with %d waits held (VmHWM %s, %d threads, %s goroutines)\n",
		kb(mem.rss), r.waiters, kb(mem.hwm), mem.threads, metricOr(ctx, c, "go_goroutines", "?"))
	fmt.Printf("          %.1f KiB per held wait above the idle engine\n", float64(mem.rss-rssIdle.rss)/float64(r.waiters))
	fmt.Printf("          Go runtime: stacks %s, heap in use %s (live after last GC %s), runtime total %s\n",
		mib(ctx, c, "go_memstats_stack_inuse_bytes"), mib(ctx, c, "go_memstats_heap_inuse_bytes"),
		mib(ctx, c, "go_memstats_heap_alloc_bytes"), mib(ctx, c, "go_memstats_sys_bytes"))
	if left := time.Duration(r.wait)*time.Second - time.Since(launched); left < 20*time.Second {
		return fmt.Errorf("only %s of the %d s wait left to complete the flows: raise -wait or lower -waiters", left.Round(time.Second), r.wait)
	}

	// Complete every flow through the browser path, 8 at a time.
	callbackDone := make([]time.Time, r.flows)
	start := time.Now()
	var (
		wg     sync.WaitGroup
		next   atomic.Int64
		cbErrs = make(chan error, r.flows)
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				f := int(next.Add(1)) - 1
				if f >= r.flows {
					return
				}
				cb, err := c.Consent(ctx, urls[f])
				if err == nil {
					err = c.Callback(ctx, cb)
				}
				if err != nil {
					cbErrs <- fmt.Errorf("complete flow %d: %w", f, err)
				}
				callbackDone[f] = time.Now()
			}
		}()
	}
	var got []answer
	collected := make(chan struct{})
	go func() {
		for range r.waiters {
			got = append(got, <-answers)
		}
		close(collected)
	}()
	wg.Wait()
	callbacks := time.Since(start)
	close(cbErrs)
	for err := range cbErrs {
		return err
	}
	<-collected
	var last time.Time
	wake := make([]time.Duration, 0, len(got))
	bad := 0
	for _, a := range got {
		if a.err != nil || a.status != "completed" || !a.token {
			if bad == 0 {
				fmt.Fprintf(os.Stderr, "waiters: first bad answer: status %q token %v err %v\n", a.status, a.token, a.err)
			}
			bad++
			continue
		}
		if a.at.After(last) {
			last = a.at
		}
		wake = append(wake, max(0, a.at.Sub(callbackDone[a.flow])))
	}
	slices.Sort(wake)
	fmt.Printf("complete: %d callbacks took %s; every waiter answered completed %s after the first callback started\n",
		r.flows, callbacks.Round(time.Millisecond), last.Sub(start).Round(time.Millisecond))
	if len(wake) > 0 {
		fmt.Printf("          answer after its flow's callback returned: p50=%s p99=%s max=%s\n",
			pct(wake, 0.5), pct(wake, 0.99), wake[len(wake)-1])
	}
	after, err := memory(r.pid)
	if err == nil {
		fmt.Printf("engine:   VmRSS %s after the waits were answered (VmHWM %s)\n", kb(after.rss), kb(after.hwm))
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d waiters did not get completed with a token", bad, r.waiters)
	}
	fmt.Printf("ok:       %d of %d waiters got completed with a token\n", len(wake), r.waiters)
	return nil
}

// awaitHeld polls the engine's waiter gauge until every wait is held. A
// wait answered early (an error) ends it.
func (r run) awaitHeld(ctx context.Context, c *apiclient.Client, answers chan answer) (int, error) {
	deadline := time.Now().Add(time.Duration(r.wait/2) * time.Second)
	for time.Now().Before(deadline) {
		select {
		case a := <-answers:
			return 0, fmt.Errorf("a wait ended before any flow completed: status %q: %w", a.status, a.err)
		default:
		}
		v, err := metric(ctx, c, "authengine_status_waiters")
		if err == nil && int(v) >= r.waiters {
			return int(v), nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	v, _ := metric(ctx, c, "authengine_status_waiters")
	return 0, fmt.Errorf("only %.0f of %d waits held after %d s", v, r.waiters, r.wait/2)
}

// metric reads one unlabelled gauge from the engine's /metrics.
func metric(ctx context.Context, c *apiclient.Client, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, fmt.Errorf("read metrics: %w", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("metric %s not found", name)
}

func metricOr(ctx context.Context, c *apiclient.Client, name, fallback string) string {
	v, err := metric(ctx, c, name)
	if err != nil {
		return fallback
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// mib reads a byte-valued metric as MiB.
func mib(ctx context.Context, c *apiclient.Client, name string) string {
	v, err := metric(ctx, c, name)
	if err != nil {
		return "?"
	}
	return fmt.Sprintf("%.1f MiB", v/(1<<20))
}

type mem struct {
	rss, hwm int64 // kB
	threads  int
}

// memory reads VmRSS, VmHWM and Threads of pid from /proc.
func memory(pid int) (mem, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return mem{}, fmt.Errorf("read engine memory: %w", err)
	}
	var m mem
	for _, line := range strings.Split(string(raw), "\n") {
		name, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch name {
		case "VmRSS":
			m.rss = n
		case "VmHWM":
			m.hwm = n
		case "Threads":
			m.threads = int(n)
		}
	}
	if m.rss == 0 {
		return mem{}, errors.New("read engine memory: no VmRSS in /proc status")
	}
	return m, nil
}

func kb(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/1024) }

func pct(sorted []time.Duration, p float64) time.Duration {
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))].Round(time.Microsecond)
}
