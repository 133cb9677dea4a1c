package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
)

// read returns a runtime metric's value.
func read(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// collect runs collections until the tuner has seen one (its cleanup runs
// on the runtime's cleanup goroutine, after the collection).
func collect() {
	for range 3 {
		runtime.GC()
		runtime.Gosched()
	}
}

func TestPercentFor(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		floor, live, roots uint64
		base, want         int
	}{
		{32 * mib, 4 * mib, 0, 100, 700},       // goal 4 + 4 × 7 = 32 MiB
		{32 * mib, 2 * mib, 2 * mib, 100, 750}, // goal 2 + 4 × 7.5 = 32 MiB
		{32 * mib, 2 * mib, 0, 100, 800},       // bounded: the runtime's minimum, 4 MiB × 8, is the floor
		{32 * mib, 16 * mib, 0, 100, 100},      // 2 × live reaches the floor
		{32 * mib, 40 * mib, 0, 100, 100},      // above the floor: GOGC
		{32 * mib, 4 * mib, 0, 900, 900},       // GOGC already gives more
		{32 * mib, 0, 0, 100, 800},
	} {
		if got := percentFor(c.floor, c.live, c.roots, c.base); got != c.want {
			t.Errorf("percentFor(floor %d, live %d, roots %d, base %d) = %d, want %d", c.floor, c.live, c.roots, c.base, got, c.want)
		}
	}
}

// TestFloorRaisesTheGoalOnlyWhileTheHeapIsSmall: with a small live heap
// the goal reaches the floor; with a live heap above it the collector is
// back to GOGC's goal; stop puts the starting percent back.
func TestFloorRaisesTheGoalOnlyWhileTheHeapIsSmall(t *testing.T) {
	base := debug.SetGCPercent(100)
	defer debug.SetGCPercent(base)
	const floor = 64 << 20
	stop := Start(floor)
	defer stop()
	collect()
	if goal, live := read("/gc/heap/goal:bytes"), read("/gc/heap/live:bytes"); goal < floor*9/10 || goal > floor*5/4 {
		t.Fatalf("heap goal %d bytes with %d live, want about the floor %d", goal, live, floor)
	}
	if p := read("/gc/gogc:percent"); p <= 100 {
		t.Fatalf("GC percent %d with a small heap, want above 100", p)
	}

	big := make([][]byte, 0, 96)
	for range 96 {
		big = append(big, make([]byte, 1<<20)) // 96 MiB live, above the floor
	}
	collect()
	if p := read("/gc/gogc:percent"); p != 100 {
		t.Errorf("GC percent %d with %d bytes live, want GOGC's 100", p, read("/gc/heap/live:bytes"))
	}
	runtime.KeepAlive(big)
	big = nil
	collect()
	if p := read("/gc/gogc:percent"); p <= 100 {
		t.Errorf("GC percent %d once the heap was small again, want above 100", p)
	}

	stop()
	stop()
	if p := read("/gc/gogc:percent"); p != 100 {
		t.Errorf("GC percent %d after stop, want the starting 100", p)
	}
	collect()
	if p := read("/gc/gogc:percent"); p != 100 {
		t.Errorf("GC percent %d after stop and a collection, want 100 (the tuner stopped)", p)
	}
}

// TestNoFloorWhenTheCollectorIsOff: GOGC=off stays off.
func TestNoFloorWhenTheCollectorIsOff(t *testing.T) {
	base := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(base)
	stop := Start(64 << 20)
	defer stop()
	if p := debug.SetGCPercent(-1); p != -1 {
		t.Errorf("GC percent %d after Start with the collector off, want -1", p)
	}
}
