package redis_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/authengine/authengine/engine/store"
)

// The benchmarks measure one store call over loopback against the test
// Redis: a GET for GetConnection; WATCH, GET, MULTI/SET/EXEC for
// UpdateConnection of an existing record.

func BenchmarkGetConnection(b *testing.B) {
	s, _, _ := newStore(b, time.Now)
	c := testConnection("github", "bench")
	c.Sealed = make([]byte, 1024) // about a sealed token set
	put(b, s, c)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.GetConnection(b.Context(), c.ID); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUpdateConnection(b *testing.B) {
	s, _, _ := newStore(b, time.Now)
	c := testConnection("github", "bench")
	c.Sealed = make([]byte, 1024)
	put(b, s, c)
	n := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		n++
		_, err := s.UpdateConnection(b.Context(), c.ID, func(cur store.Connection, _ bool) (store.Connection, error) {
			cur.Scopes = []string{strconv.Itoa(n)}
			return cur, nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetConnectionParallel(b *testing.B) {
	s, _, _ := newStore(b, time.Now)
	c := testConnection("github", "bench")
	c.Sealed = make([]byte, 1024)
	put(b, s, c)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.GetConnection(b.Context(), c.ID); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
