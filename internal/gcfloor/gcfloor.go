// Package gcfloor keeps the garbage collector's heap goal from falling
// below a floor while the live heap is small.
//
// With the default GOGC of 100 the collector runs whenever the heap has
// doubled since the last collection, and never waits for more than 4 MB.
// An engine answering from memory keeps a live heap of a few MB and
// allocates a few KB per request, so under load it collects dozens of
// times a second, and each collection takes a quarter of the CPUs for a
// few milliseconds: on 2 cores that is the tail of its latency. A floor of
// a few tens of MB makes that a few collections a second, at the cost of
// at most the floor in garbage. Once the live heap is large enough that
// GOGC's goal is above the floor, the floor does nothing: a process
// holding 10,000 waits collects exactly as it would without it.
package gcfloor

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// runtimeMinimum is the runtime's own floor of the heap goal at GOGC=100
// (4 MB), which it scales with the percent: at percent p the goal is never
// below runtimeMinimum × p / 100. The percent the floor sets is bounded so
// that this scaled minimum does not pass the floor.
const runtimeMinimum = 4 << 20

// maxFloor bounds the floor (1 TiB), so its arithmetic cannot overflow.
const maxFloor = 1 << 40

// Start keeps the heap goal at least floor bytes: after every collection
// it sets the GC percent (debug.SetGCPercent) to what makes the goal (see
// percentFor) reach floor, and never lower than the
// percent the process had when Start was called (GOGC). It does nothing
// when floor is not positive or the collector is off or constant
// (GOGC=off, GOGC=0); floor is bounded to 1 TiB. A memory limit
// (GOMEMLIMIT) still bounds the heap. stop ends it and puts the starting
// percent back; it is idempotent. One floor at a time: Start while another
// is running replaces it.
func Start(floor int64) (stop func()) {
	if floor <= 0 {
		return func() {}
	}
	floor = min(floor, maxFloor)
	mu.Lock()
	defer mu.Unlock()
	if current != nil {
		current.stopLocked()
	}
	gogc := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(gogc)
	if gogc[0].Value.Kind() != metrics.KindUint64 {
		return func() {}
	}
	v := gogc[0].Value.Uint64()
	if v == 0 || v > math.MaxInt32 {
		// GOGC=0, or GOGC=off (-1, read as the largest uint64): the
		// operator chose.
		return func() {}
	}
	base := int(v)
	t := &tuner{floor: uint64(floor), base: base, percent: base}
	current = t
	t.tune()
	t.arm()
	return func() {
		mu.Lock()
		defer mu.Unlock()
		t.stopLocked()
	}
}

var (
	mu      sync.Mutex
	current *tuner
)

// tuner is one Start's state. Its fields are guarded by mu.
type tuner struct {
	floor   uint64
	base    int
	percent int
	stopped bool
}

// sentinel is an object nothing refers to: its cleanup runs after the
// collection that found it unreachable, which is how the tuner hears of
// every collection. It is larger than the tiny allocator's objects, whose
// cleanups may be delayed by their neighbours.
type sentinel struct{ _ [32]byte }

// arm allocates a sentinel whose cleanup tunes and arms the next one.
func (t *tuner) arm() {
	s := new(sentinel)
	runtime.AddCleanup(s, func(t *tuner) {
		mu.Lock()
		defer mu.Unlock()
		if t.stopped {
			return
		}
		t.tune()
		t.arm()
	}, t)
}

// tune sets the percent that makes the goal reach the floor for the live
// heap and the roots measured by the last collection. mu is held.
func (t *tuner) tune() {
	sample := []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/gc/scan/stack:bytes"},
		{Name: "/gc/scan/globals:bytes"},
	}
	metrics.Read(sample)
	for _, s := range sample {
		if s.Value.Kind() != metrics.KindUint64 {
			return
		}
	}
	live, roots := sample[0].Value.Uint64(), sample[1].Value.Uint64()+sample[2].Value.Uint64()
	want := percentFor(t.floor, live, roots, t.base)
	// A small decrease is not worth a call (the goal stays above the
	// floor); an increase is made at once, so the goal never falls below
	// it.
	if want == t.percent || (want > t.base && want < t.percent && (t.percent-want)*10 < t.percent) {
		return
	}
	t.percent = want
	debug.SetGCPercent(want)
}

// stopLocked ends the tuner and puts the starting percent back. mu is
// held.
func (t *tuner) stopLocked() {
	if t.stopped {
		return
	}
	t.stopped = true
	debug.SetGCPercent(t.base)
	if current == t {
		current = nil
	}
}

// percentFor is the GC percent whose goal is at least floor for a live
// heap of live bytes and roots (stacks and globals) of roots bytes, and at
// least base. The runtime's goal is live + (live + roots) × percent / 100,
// and never below runtimeMinimum × percent / 100: the percent is bounded
// so that this minimum is the floor at most (with little scanned, the
// minimum is what makes the goal reach the floor).
func percentFor(floor, live, roots uint64, base int) int {
	if live >= floor {
		return base
	}
	bound := floor * 100 / runtimeMinimum
	p := bound
	if scanned := live + roots; scanned > 0 {
		// Rounded up, so the goal is not a little under the floor.
		p = min(((floor-live)*100+scanned-1)/scanned, bound)
	}
	return max(int(p), base)
}
