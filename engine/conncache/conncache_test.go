package conncache

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func upCache(t *testing.T, opts Options) *Cache[int] {
	t.Helper()
	c := New[int](opts)
	c.SetUp(true)
	return c
}

func TestGetPutInvalidate(t *testing.T) {
	c := upCache(t, Options{MaxEntries: 100})
	if _, ok := c.Get("a"); ok {
		t.Fatal("empty cache answered")
	}
	if !c.Put(c.Begin("a"), "a", 1) {
		t.Fatal("Put with a current ticket refused")
	}
	if v, ok := c.Get("a"); !ok || v != 1 {
		t.Fatalf("Get = %v, %v; want 1, true", v, ok)
	}
	c.Invalidate("a")
	if _, ok := c.Get("a"); ok {
		t.Fatal("Get answered after Invalidate")
	}
	st := c.Stats()
	if st.Hits != 1 || st.Misses != 2 || st.Invalidations != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestTicketTakenBeforeAnInvalidationIsRefused(t *testing.T) {
	c := upCache(t, Options{MaxEntries: 100})
	ticket := c.Begin("a")
	c.Invalidate("a") // a write landed while the reader was reading
	if c.Put(ticket, "a", 1) {
		t.Fatal("Put stored a value read before an invalidation of its id")
	}
	if _, ok := c.Get("a"); ok {
		t.Fatal("the stale value is served")
	}
	// A ticket taken after the invalidation is good.
	if !c.Put(c.Begin("a"), "a", 2) {
		t.Fatal("Put with a ticket taken after the invalidation refused")
	}
}

func TestTicketTakenBeforeAFlushIsRefused(t *testing.T) {
	c := upCache(t, Options{MaxEntries: 100})
	ticket := c.Begin("a")
	c.SetUp(false)
	c.SetUp(true)
	if c.Put(ticket, "a", 1) {
		t.Fatal("Put stored a value read before the feed went down and up")
	}
	ticket = c.Begin("b")
	c.Flush()
	if c.Put(ticket, "b", 1) {
		t.Fatal("Put stored a value read before a flush")
	}
}

func TestDownFeedAnswersNothingAndStoresNothing(t *testing.T) {
	c := upCache(t, Options{MaxEntries: 100})
	c.Put(c.Begin("a"), "a", 1)
	c.SetUp(false)
	if _, ok := c.Get("a"); ok {
		t.Fatal("Get answered while the feed is down")
	}
	if c.Put(c.Begin("b"), "b", 1) {
		t.Fatal("Put stored while the feed is down")
	}
	c.SetUp(true)
	if _, ok := c.Get("a"); ok {
		t.Fatal("an entry from before the feed went down survived its return")
	}
	if c.Len() != 0 {
		t.Fatalf("Len = %d after the feed came back; want 0", c.Len())
	}
}

func TestNewCacheIsDownAndDisabledCacheNeverAnswers(t *testing.T) {
	c := New[int](Options{MaxEntries: 10})
	if c.Up() || c.Put(c.Begin("a"), "a", 1) {
		t.Fatal("a new cache answers before its feed is up")
	}
	d := upCache(t, Options{})
	if d.Up() || d.Put(d.Begin("a"), "a", 1) {
		t.Fatal("a cache of no entries stores")
	}
	if _, ok := d.Get("a"); ok {
		t.Fatal("a disabled cache answered")
	}
}

func TestSizeIsBounded(t *testing.T) {
	c := upCache(t, Options{MaxEntries: 640})
	for i := range 10_000 {
		id := fmt.Sprint("conn-", i)
		c.Put(c.Begin(id), id, i)
	}
	if n := c.Len(); n > 640 || n < 320 {
		t.Fatalf("Len = %d after 10,000 puts; want at most 640 (and most shards full)", n)
	}
}

func TestMaxAge(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	c := upCache(t, Options{MaxEntries: 10, MaxAge: time.Minute, Now: clock})
	c.Put(c.Begin("a"), "a", 1)
	now.Add(int64(59 * time.Second))
	if _, ok := c.Get("a"); !ok {
		t.Fatal("entry younger than MaxAge missed")
	}
	now.Add(int64(time.Second))
	if _, ok := c.Get("a"); ok {
		t.Fatal("entry of MaxAge served")
	}
}

// TestNoStaleFillUnderContention races readers that fill the cache with
// the version they read against writers that bump the version and
// invalidate: once a writer's Invalidate has returned, no Get may return
// an older version.
func TestNoStaleFillUnderContention(t *testing.T) {
	c := upCache(t, Options{MaxEntries: 100})
	var version atomic.Int64 // the "store"
	var done atomic.Int64    // the last version whose Invalidate returned
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				floor := done.Load()
				if v, ok := c.Get("x"); ok {
					if int64(v) < floor {
						t.Errorf("Get = version %d after version %d was written and invalidated", v, floor)
						return
					}
					continue
				}
				ticket := c.Begin("x")
				v := version.Load()
				c.Put(ticket, "x", int(v))
			}
		}()
	}
	for range 20_000 {
		v := version.Add(1)
		c.Invalidate("x")
		done.Store(v)
	}
	close(stop)
	wg.Wait()
}
