package bolt

import (
	"fmt"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/codec"
)

// BenchmarkGetConnectionParallel measures GetConnection, the connected
// path's one store read, from 64 goroutines at once (read transactions
// contending for bbolt's locks) on a file of 1,000 connections, each with
// a sealed token set of about 1 KB.

func benchStore(b *testing.B) (*Store, []string) {
	s := openTemp(b, nil)
	sealed := make([]byte, 1100)
	ids := make([]string, 1000)
	err := s.db.Update(func(tx *bbolt.Tx) error {
		for i := range ids {
			user := fmt.Sprintf("user-%d", i)
			ids[i] = store.ConnectionID("hooli", user)
			c := store.Connection{ID: ids[i], UserID: user, ProviderID: "hooli", Status: store.ConnectionConnected,
				Scopes: []string{"read", "write"}, Sealed: sealed, Version: 1}
			if err := tx.Bucket(bucketConnections).Put([]byte(ids[i]), codec.EncodeConnection(c)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return s, ids
}

func BenchmarkGetConnectionParallel(b *testing.B) {
	s, ids := benchStore(b)
	b.ReportAllocs()
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.GetConnection(b.Context(), ids[i%len(ids)]); err != nil {
				b.Error(err)
				return
			}
			i += 7
		}
	})
}
