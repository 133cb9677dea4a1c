package enginetest

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/authengine/authengine/engine/seal"
	"github.com/authengine/authengine/engine/store/bolt"
	redisstore "github.com/authengine/authengine/engine/store/redis"
	"github.com/authengine/authengine/internal/redistest"
)

// BoltStore opens a bbolt store in a fresh temporary directory and closes
// it when the test ends. now is the store's clock; nil means time.Now.
func BoltStore(t testing.TB, now func() time.Time) *bolt.Store {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "authengine.db"), bolt.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Sealer returns a sealer holding one freshly generated key, "k1".
func Sealer(t testing.TB) *seal.Sealer {
	t.Helper()
	key, _, err := seal.GenerateKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := seal.New([]seal.Key{key})
	if err != nil {
		t.Fatal(err)
	}
	return sealer
}

// RedisStore opens a Redis store on the test Redis (redistest.URL) under
// a key prefix of the test's own and closes it when the test ends. now is
// the store's clock.
func RedisStore(t testing.TB, now func() time.Time) *redisstore.Store {
	t.Helper()
	st, err := redisstore.Open(redisstore.Config{URL: redistest.URL(t), KeyPrefix: redistest.Prefix(t)}, redisstore.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
