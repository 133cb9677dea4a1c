package keyring_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authengine/authengine/engine/keyring"
	"github.com/authengine/authengine/engine/seal"
	"github.com/authengine/authengine/engine/store"
	redisstore "github.com/authengine/authengine/engine/store/redis"
	"github.com/authengine/authengine/internal/enginetest"
	"github.com/authengine/authengine/internal/redistest"
)

// rootKeys generates root keys by id, once per test.
type rootKeys map[string]seal.Key

func (r rootKeys) sealer(t *testing.T, ids ...string) *seal.Sealer {
	t.Helper()
	var keys []seal.Key
	for _, id := range ids {
		k, ok := r[id]
		if !ok {
			var err error
			if k, _, err = seal.GenerateKey(id); err != nil {
				t.Fatal(err)
			}
			r[id] = k
		}
		keys = append(keys, k)
	}
	s, err := seal.New(keys)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func open(t *testing.T, root *seal.Sealer, st store.DataKeyStore) *keyring.Keyring {
	t.Helper()
	k, err := keyring.Open(t.Context(), root, st, keyring.Options{})
	if err != nil {
		t.Fatalf("keyring.Open: %v", err)
	}
	return k
}

func mustSeal(t *testing.T, k *keyring.Keyring, text, aad string) []byte {
	t.Helper()
	b, err := k.Seal([]byte(text), []byte(aad))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustOpen(t *testing.T, k *keyring.Keyring, blob []byte, text, aad string) {
	t.Helper()
	got, err := k.Open(blob, []byte(aad))
	if err != nil || string(got) != text {
		t.Fatalf("Open = %q, %v; want %q", got, err, text)
	}
}

// countingStore counts data key reads of a real store.
type countingStore struct {
	store.DataKeyStore
	gets atomic.Int64
}

func (c *countingStore) GetDataKey(ctx context.Context, id string) (store.DataKey, error) {
	c.gets.Add(1)
	return c.DataKeyStore.GetDataKey(ctx, id)
}

func TestSealsWithADataKeyThatARestartKeeps(t *testing.T) {
	st := enginetest.BoltStore(t, nil)
	roots := rootKeys{}
	a := open(t, roots.sealer(t, "k1"), st)
	blob := mustSeal(t, a, "token-1", "conn:a")
	if format, id, _ := seal.Header(blob); format != seal.FormatData || id != a.ActiveID() {
		t.Errorf("blob header = format %d, key %q; want FormatData, %q", format, id, a.ActiveID())
	}
	b := open(t, roots.sealer(t, "k1"), st)
	if b.ActiveID() != a.ActiveID() {
		t.Errorf("a restart made a new data key %q (had %q)", b.ActiveID(), a.ActiveID())
	}
	mustOpen(t, b, blob, "token-1", "conn:a")
	if _, err := b.Open(blob, []byte("conn:b")); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("Open with another record's aad = %v, want ErrOpen", err)
	}
	keys, _ := st.ListDataKeys(t.Context())
	if len(keys) != 1 {
		t.Errorf("%d data keys stored, want 1", len(keys))
	}
}

func TestRecordsOfTheFormatBeforeEnvelopesStillOpen(t *testing.T) {
	roots := rootKeys{}
	old := roots.sealer(t, "k1")
	blob, err := old.Seal([]byte("token-0"), []byte("conn:a"))
	if err != nil {
		t.Fatal(err)
	}
	mustOpen(t, open(t, roots.sealer(t, "k1"), enginetest.BoltStore(t, nil)), blob, "token-0", "conn:a")
}

func TestADataKeyIsReadFromTheStoreOnce(t *testing.T) {
	st := &countingStore{DataKeyStore: enginetest.BoltStore(t, nil)}
	roots := rootKeys{}
	// b starts first and has never seen the data key a creates (wrapped
	// by k2, which b holds too).
	b := open(t, roots.sealer(t, "k1", "k2"), st)
	a := open(t, roots.sealer(t, "k2", "k1"), st)
	if b.ActiveID() == a.ActiveID() {
		t.Fatal("a reused b's data key; want one of its own under k2")
	}
	blob := mustSeal(t, a, "token", "conn:a")
	for range 100 {
		mustOpen(t, b, blob, "token", "conn:a")
	}
	if n := st.gets.Load(); n != 1 {
		t.Errorf("100 opens read the data key %d times, want 1", n)
	}
}

func TestRotate(t *testing.T) {
	st := enginetest.BoltStore(t, nil)
	roots := rootKeys{}
	before := open(t, roots.sealer(t, "k1"), st)
	blobs := map[string][]byte{}
	for i := range 5 {
		blobs[fmt.Sprint("conn:", i)] = mustSeal(t, before, fmt.Sprint("token-", i), fmt.Sprint("conn:", i))
	}
	legacy, _ := roots.sealer(t, "k1").Seal([]byte("token-legacy"), []byte("conn:legacy"))

	// The operator puts k2 first; an engine restarted on it seals with a
	// new data key wrapped by k2.
	during := open(t, roots.sealer(t, "k2", "k1"), st)
	blobs["conn:new"] = mustSeal(t, during, "token-new", "conn:new")
	var calls int
	res, err := during.Rotate(t.Context(), func(done, total int) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != 2 || res.Rewrapped != 1 || res.Current != 1 || len(res.Failed) != 0 || calls != 2 {
		t.Errorf("Rotate = %+v with %d progress calls, want 1 rewrapped and 1 current of 2, 2 calls", res, calls)
	}
	res, err = during.Rotate(t.Context(), nil)
	if err != nil || res.Rewrapped != 0 || res.Current != 2 {
		t.Errorf("second Rotate = %+v, %v; want everything current", res, err)
	}

	// k1 removed: every envelope record still opens; only the legacy one
	// names the missing key.
	after := open(t, roots.sealer(t, "k2"), st)
	for aad, blob := range blobs {
		want := "token-new"
		if aad != "conn:new" {
			want = "token-" + aad[len("conn:"):]
		}
		mustOpen(t, after, blob, want, aad)
	}
	_, err = after.Open(legacy, []byte("conn:legacy"))
	var mk *seal.MissingKeyError
	if !errors.As(err, &mk) || mk.KeyID != "k1" {
		t.Errorf("Open(legacy) = %v, want a MissingKeyError naming k1", err)
	}
}

func TestMissingRootKeyIsNamed(t *testing.T) {
	st := enginetest.BoltStore(t, nil)
	roots := rootKeys{}
	blob := mustSeal(t, open(t, roots.sealer(t, "k1"), st), "token", "conn:a")
	other := open(t, roots.sealer(t, "k2"), st)
	for range 2 { // the second answer comes from memory
		_, err := other.Open(blob, []byte("conn:a"))
		var mk *seal.MissingKeyError
		if !errors.As(err, &mk) || mk.KeyID != "k1" || !errors.Is(err, seal.ErrOpen) {
			t.Fatalf("Open = %v, want a MissingKeyError naming k1", err)
		}
	}
	res, err := other.Rotate(t.Context(), nil)
	if err != nil || len(res.Failed) != 1 || res.Current != 1 {
		t.Errorf("Rotate without k1 = %+v, %v; want the k1 data key failed and the k2 one current", res, err)
	}
}

func TestInventory(t *testing.T) {
	st := enginetest.BoltStore(t, nil)
	roots := rootKeys{}
	k := open(t, roots.sealer(t, "k1"), st)
	put := func(user string, sealed []byte) {
		id := store.ConnectionID("hooli", user)
		_, err := st.UpdateConnection(t.Context(), id, func(c store.Connection, _ bool) (store.Connection, error) {
			c.ID, c.UserID, c.ProviderID, c.Status, c.Sealed = id, user, "hooli", store.ConnectionConnected, sealed
			return c, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		put(fmt.Sprint("u", i), mustSeal(t, k, "t", "x"))
	}
	legacy, _ := roots.sealer(t, "k0").Seal([]byte("t"), []byte("x"))
	put("legacy", legacy)
	put("garbage", []byte{9, 9, 9})

	counts, unreadable, err := open(t, roots.sealer(t, "k1"), st).Inventory(t.Context(), st)
	if err != nil {
		t.Fatal(err)
	}
	if unreadable != 1 || len(counts) != 2 {
		t.Fatalf("Inventory = %+v, %d unreadable; want k0 and k1, 1 unreadable", counts, unreadable)
	}
	k0, k1 := counts[0], counts[1]
	if k0.RootKeyID != "k0" || k0.Configured || k0.Total() != 1 || k0.Direct[store.KindConnection] != 1 {
		t.Errorf("k0 = %+v, want 1 record sealed directly, not configured", k0)
	}
	if k1.RootKeyID != "k1" || !k1.Configured || k1.Total() != 3 || k1.Records[store.KindConnection] != 3 || len(k1.DataKeys) != 1 {
		t.Errorf("k1 = %+v, want 3 records through one data key, configured", k1)
	}
}

func TestConcurrentRotationsRewrapEachKeyOnce(t *testing.T) {
	st := redisStore(t)
	roots := rootKeys{}
	for range 4 {
		// Four engines started on k1 alone before the rotation, each with
		// its own data key (the store shares them).
		k, err := keyring.Open(t.Context(), roots.sealer(t, "k1"), st, keyring.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.Seal([]byte("x"), nil); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := st.ListDataKeys(t.Context())
	var wg sync.WaitGroup
	var rewrapped atomic.Int64
	rotated := roots.sealer(t, "k2", "k1")
	for range 4 {
		wg.Go(func() {
			k, err := keyring.Open(context.Background(), rotated, st, keyring.Options{})
			if err != nil {
				t.Error(err)
				return
			}
			res, err := k.Rotate(context.Background(), nil)
			if err != nil || len(res.Failed) != 0 {
				t.Errorf("Rotate = %+v, %v", res, err)
			}
			rewrapped.Add(int64(res.Rewrapped))
		})
	}
	wg.Wait()
	if got := rewrapped.Load(); got != int64(len(before)) {
		t.Errorf("%d rewraps for %d data keys wrapped by k1, want exactly one each", got, len(before))
	}
	after, _ := st.ListDataKeys(t.Context())
	for _, dk := range after {
		if dk.RootKeyID != "k2" {
			t.Errorf("data key %s still wrapped by %s", dk.ID, dk.RootKeyID)
		}
	}
}

func TestMain(m *testing.M) { redistest.Main(m) }

// redisStore is a Redis store under a key prefix of the test's own.
func redisStore(t *testing.T) *redisstore.Store {
	t.Helper()
	s, err := redisstore.Open(redisstore.Config{URL: redistest.URL(t), KeyPrefix: redistest.Prefix(t)}, redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestLazyKeyringWaitsForTheStore: an engine may start while Redis is
// down; its keyring loads once the store answers, and until then Seal
// reports the store as unavailable (retryable), not a broken key.
func TestLazyKeyringWaitsForTheStore(t *testing.T) {
	srv := redistest.Private(t, redistest.PrivateOptions{})
	st, err := redisstore.Open(redisstore.Config{URL: srv.URL(), KeyPrefix: redistest.Prefix(t)}, redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv.Stop()
	roots := rootKeys{}
	if _, err := keyring.Open(t.Context(), roots.sealer(t, "k1"), st, keyring.Options{}); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Open without Lazy on a dead store = %v, want ErrUnavailable", err)
	}
	k, err := keyring.Open(t.Context(), roots.sealer(t, "k1"), st, keyring.Options{Lazy: true})
	if err != nil {
		t.Fatalf("lazy Open on a dead store: %v", err)
	}
	if _, err := k.Seal([]byte("x"), nil); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Seal before the store answers = %v, want ErrUnavailable", err)
	}
	srv.Start()
	var blob []byte
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if blob, err = k.Seal([]byte("token"), []byte("conn:a")); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("Seal after the store came back: %v", err)
	}
	mustOpen(t, k, blob, "token", "conn:a")
}

// TestReplacedRootKeyIsNamed: a different key configured under the id of
// the one that wrapped the data keys (a lost development keys file,
// regenerated) is reported as the original key missing, not as damage.
func TestReplacedRootKeyIsNamed(t *testing.T) {
	st := enginetest.BoltStore(t, nil)
	blob := mustSeal(t, open(t, rootKeys{}.sealer(t, "dev"), st), "token", "conn:a")
	put := func(sealed []byte) {
		id := store.ConnectionID("hooli", "ada")
		_, err := st.UpdateConnection(t.Context(), id, func(c store.Connection, _ bool) (store.Connection, error) {
			c.ID, c.UserID, c.ProviderID, c.Status, c.Sealed = id, "ada", "hooli", store.ConnectionConnected, sealed
			return c, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	put(blob)
	regenerated := open(t, rootKeys{}.sealer(t, "dev"), st) // same id, new secret
	_, err := regenerated.Open(blob, []byte("conn:a"))
	var mk *seal.MissingKeyError
	if !errors.As(err, &mk) || mk.KeyID != "dev" || !mk.Replaced {
		t.Fatalf("Open under a regenerated key = %v, want a MissingKeyError for dev, Replaced", err)
	}
	counts, _, err := regenerated.Inventory(t.Context(), st)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, c := range counts {
		if c.RootKeyID == "dev" && c.Replaced {
			found = !c.Configured && c.Total() == 1
		}
	}
	if !found {
		t.Errorf("Inventory = %+v, want dev's one record counted as sealed by a replaced key", counts)
	}
}
