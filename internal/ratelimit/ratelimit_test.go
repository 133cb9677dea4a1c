package ratelimit

import (
	"strconv"
	"testing"
	"time"
)

func TestBucketsPerKey(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := New(2, time.Second, 3)
	for i := range 3 {
		if ok, _ := l.Allow("a", now); !ok {
			t.Fatalf("request %d within the burst refused", i)
		}
	}
	ok, wait := l.Allow("a", now)
	if ok || wait <= 0 || wait > 500*time.Millisecond {
		t.Fatalf("past the burst: ok=%v wait=%s, want refused with a wait up to 500ms", ok, wait)
	}
	if ok, _ := l.Allow("b", now); !ok {
		t.Fatal("another key shares the first key's bucket")
	}
	if ok, _ := l.Allow("a", now.Add(wait)); !ok {
		t.Fatal("refused after waiting the announced time")
	}
}

func TestRefusedRequestsDoNotDrainTheBucket(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := New(1, time.Second, 1)
	l.Allow("a", now)
	for range 100 {
		l.Allow("a", now.Add(500*time.Millisecond))
	}
	if ok, _ := l.Allow("a", now.Add(time.Second)); !ok {
		t.Fatal("refused requests took tokens: a client retrying fast is locked out for good")
	}
}

func TestNilAndZeroAllowEverything(t *testing.T) {
	for _, l := range []*Limiter{nil, New(0, time.Second, 5), New(5, time.Second, 0)} {
		for range 1000 {
			if ok, _ := l.Allow("a", time.Now()); !ok {
				t.Fatal("a disabled limiter refused")
			}
		}
	}
}

func TestKeysAreBounded(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := New(1, time.Minute, 2)
	l.max = 100
	for i := range 1000 {
		l.Allow(strconv.Itoa(i), now.Add(time.Duration(i)*time.Millisecond))
	}
	if n := l.Len(); n > 100 {
		t.Fatalf("%d keys tracked, want at most 100", n)
	}
	// The most recent key keeps its (drained) bucket.
	l.Allow("999", now.Add(time.Second))
	if ok, _ := l.Allow("999", now.Add(time.Second)); ok {
		t.Fatal("a recently used key was forgotten, resetting its limit")
	}
}
