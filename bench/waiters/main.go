// Command waiters holds many GET /v1/auth/status?wait=N requests open
// against one or more engine processes (several share one Redis), measures
// the engines' resident memory while they are held, then completes the
// flows through real callbacks and measures how long each waiter took to
// hear of its flow's completion.
//
// It starts -flows pending flows (one user each), flow f on engine f mod n;
// opens -waiters status waits (one TCP connection each), waiter j on flow
// j mod flows at engine j mod n, so that with several engines every flow
// has waiters on every engine; waits until the engines'
// authengine_status_waiters gauges show them all held; reads VmRSS of each
// -pids process from /proc; then plays the browser for every flow (consent
// at the provider, then the callback delivered to engine (f+1) mod n) and
// times the answers. With one engine every step goes to it; with three,
// two thirds of the waits hear of the completion only through Redis
// pub/sub.
//
//	waiters -engines http://127.0.0.1:19099 -pids 1234 -key KEY -flows 100 -waiters 10000
//	waiters -engines http://127.0.0.1:19199,http://127.0.0.1:19202,http://127.0.0.1:19203 \
//	        -pids 11,12,13 -key KEY -flows 100 -waiters 10000
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
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
		engines  = flag.String("engines", "", "comma-separated engine origins; the first is the public URL (required)")
		pids     = flag.String("pids", "", "comma-separated engine process ids, in -engines order (required)")
		key      = flag.String("key", "", "API key (required)")
		provider = flag.String("provider", "standin", "provider id")
		flows    = flag.Int("flows", 100, "distinct pending flows")
		waiters  = flag.Int("waiters", 10000, "concurrent status waits, spread over the engines")
		wait     = flag.Int("wait", 59, "wait= seconds of each status request")
		settle   = flag.Duration("settle", 2*time.Second, "pause after every wait is held, before reading memory")
		dials    = flag.Int("dials", 128, "connections opened at once while starting the waits")
		profile  = flag.String("profile", "", "directory to save each engine's heap (after a forced collection) and goroutine profiles in while the waits are held, after their memory is read (needs telemetry.pprof and -admin-key)")
		adminKey = flag.String("admin-key", "", "admin key, for -profile")
	)
	flag.Parse()
	r := run{key: *key, provider: *provider, flows: *flows, waiters: *waiters, wait: *wait, settle: *settle, dials: *dials,
		profile: *profile, adminKey: *adminKey}
	for _, e := range strings.Split(*engines, ",") {
		if e = strings.TrimSpace(e); e != "" {
			r.origins = append(r.origins, strings.TrimRight(e, "/"))
		}
	}
	for _, p := range strings.Split(*pids, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(p)); err == nil {
			r.pids = append(r.pids, n)
		}
	}
	if *key == "" || len(r.origins) == 0 || len(r.pids) != len(r.origins) {
		fmt.Fprintln(os.Stderr, "waiters: -key, -engines and as many -pids as engines are required")
		os.Exit(2)
	}
	if err := r.do(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "waiters:", err)
		os.Exit(1)
	}
}

type run struct {
	origins        []string
	pids           []int
	key, provider  string
	flows, waiters int
	wait           int
	settle         time.Duration
	dials          int
	profile        string
	adminKey       string
	clients        []*apiclient.Client
}

// answer is one waiter's outcome.
type answer struct {
	flow   int
	status string
	token  bool
	at     time.Time
	err    error
}

func (r *run) do(ctx context.Context) error {
	// One connection per waiter; dialing is throttled so no engine's
	// accept backlog overflows (a dropped SYN costs a 1 s retry).
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
	hc := &http.Client{Transport: tr, Timeout: time.Duration(r.wait+30) * time.Second}
	n := len(r.origins)
	for _, o := range r.origins {
		r.clients = append(r.clients, &apiclient.Client{Base: o, Key: r.key, HTTP: hc})
	}
	idle, err := r.memory()
	if err != nil {
		return err
	}
	fmt.Printf("engines:  %d running (pids %v), VmRSS %s in total before any flow\n", n, r.pids, kb(total(idle, mem.rssKB)))

	ids, urls := make([]string, r.flows), make([]string, r.flows)
	for f := range r.flows {
		a, err := r.clients[f%n].Authorize(ctx, "waiter-user-"+strconv.Itoa(f), r.provider, []string{"read"})
		if err != nil {
			return fmt.Errorf("start flow %d: %w", f, err)
		}
		if a.Status != "pending" {
			return fmt.Errorf("start flow %d: status %q, want pending", f, a.Status)
		}
		ids[f], urls[f] = a.ID, a.URL
	}
	fmt.Printf("flows:    %d pending, started round-robin on the %d engine(s)\n", r.flows, n)

	answers := make(chan answer, r.waiters)
	launched := time.Now()
	for j := range r.waiters {
		go func() {
			f := j % r.flows
			a, err := r.clients[j%n].Status(ctx, ids[f], r.wait)
			answers <- answer{flow: f, status: a.Status, token: a.HasToken(), at: time.Now(), err: err}
		}()
	}
	held, err := r.awaitHeld(ctx, answers)
	if err != nil {
		return err
	}
	fmt.Printf("waits:    %v held (authengine_status_waiters per engine) after %s\n", held, time.Since(launched).Round(time.Millisecond))
	time.Sleep(r.settle)
	during, err := r.memory()
	if err != nil {
		return err
	}
	fmt.Printf("engines:  VmRSS %s in total with %d waits held (per engine: %s)\n",
		kb(total(during, mem.rssKB)), r.waiters, each(during, mem.rssKB))
	fmt.Printf("          %.1f KiB per held wait above the idle engines\n",
		float64(total(during, mem.rssKB)-total(idle, mem.rssKB))/float64(r.waiters))
	for i, c := range r.clients {
		fmt.Printf("engine %d: %d threads, %s goroutines; Go runtime: stacks %s, heap in use %s (live after last GC %s), runtime total %s\n",
			i, during[i].threads, metricOr(ctx, c, "go_goroutines", "?"),
			mib(ctx, c, "go_memstats_stack_inuse_bytes"), mib(ctx, c, "go_memstats_heap_inuse_bytes"),
			mib(ctx, c, "go_memstats_heap_alloc_bytes"), mib(ctx, c, "go_memstats_sys_bytes"))
	}
	if r.profile != "" {
		if err := r.saveProfiles(ctx, hc); err != nil {
			return err
		}
	}
	if left := time.Duration(r.wait)*time.Second - time.Since(launched); left < 20*time.Second {
		return fmt.Errorf("only %s of the %d s wait left to complete the flows: raise -wait or lower -waiters", left.Round(time.Second), r.wait)
	}

	start := time.Now()
	callbackDone, err := r.complete(ctx, urls)
	if err != nil {
		return err
	}
	callbacks := time.Since(start)
	var last time.Time
	lag := make([]time.Duration, 0, r.waiters)
	bad := 0
	for range r.waiters {
		a := <-answers
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
		lag = append(lag, max(0, a.at.Sub(callbackDone[a.flow])))
	}
	slices.Sort(lag)
	fmt.Printf("complete: %d callbacks took %s; every waiter answered %s after the first callback started\n",
		r.flows, callbacks.Round(time.Millisecond), last.Sub(start).Round(time.Millisecond))
	if len(lag) > 0 {
		over := 0
		if i := slices.IndexFunc(lag, func(d time.Duration) bool { return d > time.Second }); i >= 0 {
			over = len(lag) - i
		}
		fmt.Printf("          answer after its flow's callback returned: p50=%s p99=%s max=%s; %d over 1 s\n",
			pct(lag, 0.5), pct(lag, 0.99), lag[len(lag)-1], over)
	}
	if after, err := r.memory(); err == nil {
		fmt.Printf("engines:  VmRSS %s in total after the waits were answered (per engine: %s)\n", kb(total(after, mem.rssKB)), each(after, mem.rssKB))
		fmt.Printf("engines:  VmHWM %s in total, the sum of each engine's peak (per engine: %s)\n", kb(total(after, mem.hwmKB)), each(after, mem.hwmKB))
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d waiters did not get completed with a token", bad, r.waiters)
	}
	fmt.Printf("ok:       %d of %d waiters got completed with a token\n", len(lag), r.waiters)
	return nil
}

// saveProfiles saves each engine's heap and goroutine profiles (pprof
// format) into r.profile as engine-<i>-heap.pb.gz and
// engine-<i>-goroutine.pb.gz.
func (r *run) saveProfiles(ctx context.Context, hc *http.Client) error {
	if err := os.MkdirAll(r.profile, 0o755); err != nil {
		return err
	}
	for i, o := range r.origins {
		for _, name := range []string{"heap", "goroutine"} {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, o+"/debug/pprof/"+name+"?gc=1", nil)
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+r.adminKey)
			resp, err := hc.Do(req)
			if err != nil {
				return fmt.Errorf("profile %s of engine %d: %w", name, i, err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("HTTP %d (is telemetry.pprof on?)", resp.StatusCode)
			}
			if err != nil {
				return fmt.Errorf("profile %s of engine %d: %w", name, i, err)
			}
			path := fmt.Sprintf("%s/engine-%d-%s.pb.gz", r.profile, i, name)
			if err := os.WriteFile(path, body, 0o644); err != nil {
				return err
			}
			fmt.Printf("profile:  %s (go tool pprof %s)\n", path, path)
		}
	}
	return nil
}

// complete plays the browser for every flow, 8 at a time: consent at the
// provider, then flow f's callback delivered to engine (f+1) mod n. It
// returns when each flow's callback returned.
func (r *run) complete(ctx context.Context, urls []string) ([]time.Time, error) {
	n, public := len(r.clients), r.origins[0]
	done := make([]time.Time, r.flows)
	var (
		wg   sync.WaitGroup
		next atomic.Int64
		errs = make(chan error, r.flows)
	)
	for range 8 {
		wg.Go(func() {
			for {
				f := int(next.Add(1)) - 1
				if f >= r.flows {
					return
				}
				to := r.clients[(f+1)%n]
				cb, err := to.Consent(ctx, urls[f])
				if err == nil {
					if rest, ok := strings.CutPrefix(cb, public+"/"); ok {
						err = to.Callback(ctx, to.Base+"/"+rest)
					} else {
						err = fmt.Errorf("the provider redirected to %q, not to the public URL %s", cb, public)
					}
				}
				if err != nil {
					errs <- fmt.Errorf("complete flow %d: %w", f, err)
				}
				done[f] = time.Now()
			}
		})
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return done, errors.Join(all...)
}

// awaitHeld polls every engine's waiter gauge until all the waits are
// held. A wait answered early (an error) ends it.
func (r *run) awaitHeld(ctx context.Context, answers chan answer) ([]int, error) {
	deadline := time.Now().Add(time.Duration(r.wait/2) * time.Second)
	held := make([]int, len(r.clients))
	for {
		select {
		case a := <-answers:
			return nil, fmt.Errorf("a wait ended before any flow completed: status %q: %w", a.status, a.err)
		default:
		}
		sum := 0
		for i, c := range r.clients {
			v, _ := metric(ctx, c, "authengine_status_waiters")
			held[i] = int(v)
			sum += held[i]
		}
		if sum >= r.waiters {
			return held, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("only %v of %d waits held after %d s", held, r.waiters, r.wait/2)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// metric reads one unlabelled gauge from an engine's /metrics.
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

// mem is what /proc/PID/status says of one engine process.
type mem struct {
	rss, hwm int64 // kB
	threads  int
}

func (m mem) rssKB() int64 { return m.rss }
func (m mem) hwmKB() int64 { return m.hwm }

// memory reads VmRSS, VmHWM and Threads of every engine process.
func (r *run) memory() ([]mem, error) {
	out := make([]mem, 0, len(r.pids))
	for _, pid := range r.pids {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return nil, fmt.Errorf("read engine memory: %w", err)
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
			return nil, fmt.Errorf("read engine memory: no VmRSS in /proc/%d/status", pid)
		}
		out = append(out, m)
	}
	return out, nil
}

// total sums one field (kB) over the engines.
func total(ms []mem, field func(mem) int64) int64 {
	var s int64
	for _, m := range ms {
		s += field(m)
	}
	return s
}

// each lists one field (kB) per engine, as MiB.
func each(ms []mem, field func(mem) int64) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = kb(field(m))
	}
	return strings.Join(parts, ", ")
}

func kb(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/1024) }

func pct(sorted []time.Duration, p float64) time.Duration {
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))].Round(time.Microsecond)
}
