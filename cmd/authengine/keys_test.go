package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authengine/authengine/engine"
	"github.com/authengine/authengine/engine/keyring"
	"github.com/authengine/authengine/engine/seal"
	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/bolt"
	redisstore "github.com/authengine/authengine/engine/store/redis"
	"github.com/authengine/authengine/internal/redistest"
)

// keysFixture is a data dir and configurations that differ only in their
// root keys.
type keysFixture struct {
	dir, db string
	keys    map[string]string // id -> base64 value
}

func newKeysFixture(t *testing.T) *keysFixture {
	t.Helper()
	f := &keysFixture{dir: t.TempDir(), keys: map[string]string{}}
	f.db = filepath.Join(f.dir, "data", "authengine.db")
	for _, id := range []string{"k1", "k2"} {
		_, value, err := seal.GenerateKey(id)
		if err != nil {
			t.Fatal(err)
		}
		f.keys[id] = value
	}
	return f
}

// config writes a production configuration with the given root keys and
// returns its path.
func (f *keysFixture) config(t *testing.T, rootKeys ...string) string {
	t.Helper()
	var keys []string
	for _, id := range rootKeys {
		keys = append(keys, fmt.Sprintf("{id: %s, value: %q}", id, f.keys[id]))
	}
	path := filepath.Join(f.dir, strings.Join(rootKeys, "-")+".yaml")
	err := os.WriteFile(path, []byte(fmt.Sprintf(`
data_dir: %s
api: {development: false, port: 9, api_keys: [api-key-0123456789abcdef], admin_keys: [admin-key-0123456789abcdef]}
security: {root_keys: [%s]}
store: {type: embedded}
`, filepath.Join(f.dir, "data"), strings.Join(keys, ", "))), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// open opens the fixture's store file with a keyring over root keys ids;
// the caller closes the store.
func (f *keysFixture) open(t *testing.T, ids ...string) (*bolt.Store, *keyring.Keyring) {
	t.Helper()
	st, err := bolt.Open(f.db, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	kr, err := keyring.Open(t.Context(), f.root(t, ids...), st, keyring.Options{})
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	return st, kr
}

func (f *keysFixture) root(t *testing.T, ids ...string) *seal.Sealer {
	t.Helper()
	var keys []seal.Key
	for _, id := range ids {
		k, err := seal.ParseKey(id, f.keys[id])
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	s, err := seal.New(keys)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// putConnection stores a connection whose token is sealed by s.
func putConnection(t *testing.T, st store.Store, s interface {
	Seal(plaintext, aad []byte) ([]byte, error)
}, user string) {
	t.Helper()
	id := store.ConnectionID("hooli", user)
	sealed, err := s.Seal([]byte(`{"access_token":"at-`+user+`"}`), engine.RecordAAD(store.KindConnection, id))
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.UpdateConnection(t.Context(), id, func(c store.Connection, _ bool) (store.Connection, error) {
		c.ID, c.UserID, c.ProviderID, c.Status, c.Sealed = id, user, "hooli", store.ConnectionConnected, sealed
		return c, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRootKeyRotationFromTheCommandLine walks an operator through a root
// key rotation: records sealed under k1 (two through a data key, one in
// the format before envelope encryption); k1 removed too early makes
// serve refuse with the key id and counts and store check name the
// records; keys rotate with both keys moves everything under k2; then k1
// can go.
func TestRootKeyRotationFromTheCommandLine(t *testing.T) {
	f := newKeysFixture(t)
	st, kr := f.open(t, "k1")
	putConnection(t, st, kr, "ada")
	putConnection(t, st, kr, "bob")
	putConnection(t, st, f.root(t, "k1"), "legacy")
	st.Close()

	if code, out, errOut := runCmd(t, "store", "check", "-c", f.config(t, "k1")); code != 0 || !strings.Contains(out, "3 records (3 connections") {
		t.Fatalf("store check with k1: exit %d\n%s%s", code, out, errOut)
	}

	onlyK2 := f.config(t, "k2")
	code, _, errOut := runCmd(t, "serve", "-c", onlyK2)
	// serve's error is a JSON log line (log.format json): quotes escaped.
	if code != 1 || !strings.Contains(errOut, `root key \"k1\" seals 3 connections`) || !strings.Contains(errOut, "--allow-missing-keys") {
		t.Fatalf("serve without k1: exit %d, want 1 naming k1 and its 3 connections:\n%s", code, errOut)
	}
	code, out, _ := runCmd(t, "store", "check", "-c", onlyK2)
	if code != 1 || strings.Count(out, `sealed with root key "k1", which is not configured`) != 3 {
		t.Fatalf("store check without k1: exit %d, want 1 and three records naming k1:\n%s", code, out)
	}

	code, out, errOut = runCmd(t, "keys", "rotate", "-c", f.config(t, "k2", "k1"))
	if code != 0 || !strings.Contains(out, `1 rewrapped under root key "k2"`) || !strings.Contains(out, "1 resealed") || !strings.Contains(out, "data keys: 2/2") {
		t.Fatalf("keys rotate: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := runCmd(t, "keys", "rotate", "-c", f.config(t, "k2", "k1")); code != 0 || !strings.Contains(out, "0 rewrapped") || !strings.Contains(out, "0 resealed") {
		t.Errorf("a second keys rotate should find nothing to do: exit %d\n%s", code, out)
	}
	if code, out, errOut := runCmd(t, "store", "check", "-c", onlyK2); code != 0 || !strings.Contains(out, "0 cannot be opened") {
		t.Fatalf("store check with k2 alone after the rotation: exit %d\n%s%s", code, out, errOut)
	}
}

// TestServeRefusesADamagedStoreFileInOneLine: a data file truncated to
// 10 kB made serve die with SIGBUS and a long stack trace.
func TestServeRefusesADamagedStoreFileInOneLine(t *testing.T) {
	f := newKeysFixture(t)
	st, kr := f.open(t, "k1")
	for i := range 300 {
		putConnection(t, st, kr, fmt.Sprint("user-", i))
	}
	st.Close()
	if err := os.Truncate(f.db, 10*1024); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCmd(t, "serve", "-c", f.config(t, "k1"))
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if code != 1 || len(lines) != 1 || !strings.Contains(errOut, f.db) || !strings.Contains(errOut, "restore the file from a backup") {
		t.Fatalf("serve on a truncated file: exit %d, want 1 and one line naming %s and what to do:\n%s", code, f.db, errOut)
	}
	if code, out, _ := runCmd(t, "store", "check", "-c", f.config(t, "k1")); code != 1 || !strings.Contains(out, "truncated") {
		t.Errorf("store check on a truncated file: exit %d\n%s", code, out)
	}
}

// TestKeyInventory: records sealed under a root key that is missing, or
// replaced by a different key under the same id (a lost development keys
// file), stop the start with a message naming the key and the count, or
// with allowMissing only warn.
func TestKeyInventory(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		later      func(f *keysFixture) string // the root key id configured later
	}{
		{"a missing key", `root key \"k1\" seals 1 connection`, func(*keysFixture) string { return "k2" }},
		{"a key regenerated under the same id", `root key \"k1\" (the key configured under that id is a different one: was it regenerated?) seals 1 connection`,
			func(f *keysFixture) string {
				_, f.keys["k1"], _ = seal.GenerateKey("k1")
				return "k1"
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newKeysFixture(t)
			st, kr := f.open(t, "k1")
			defer st.Close()
			putConnection(t, st, kr, "ada")
			later, err := keyring.Open(t.Context(), f.root(t, tc.later(f)), st, keyring.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			if err := keyInventory(context.Background(), later, st, true, log); err != nil {
				t.Fatalf("keyInventory with allowMissing: %v", err)
			}
			if !strings.Contains(logs.String(), tc.want) {
				t.Errorf("no warning with %s:\n%s", tc.want, logs.String())
			}
			err = keyInventory(context.Background(), later, st, false, log)
			if err == nil || !strings.Contains(err.Error(), strings.ReplaceAll(tc.want, `\"`, `"`)) {
				t.Errorf("keyInventory without allowMissing = %v, want a refusal with %s", err, tc.want)
			}
		})
	}
}

// TestStoreCheckOnRedis: store check scans a Redis store and names every
// record that does not open by kind, id and key id, never by content; a
// record that does not decode is reported too.
func TestStoreCheckOnRedis(t *testing.T) {
	f := newKeysFixture(t)
	url, prefix := redistest.URL(t), redistest.Prefix(t)
	st, err := redisstore.Open(redisstore.Config{URL: url, KeyPrefix: prefix}, redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	kr, err := keyring.Open(t.Context(), f.root(t, "k1"), st, keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	putConnection(t, st, kr, "ada")
	putConnection(t, st, f.root(t, "k2"), "bob")
	config := func(keys ...string) string {
		path := f.config(t, keys...)
		raw, _ := os.ReadFile(path)
		raw = bytes.Replace(raw, []byte("store: {type: embedded}"), fmt.Appendf(nil, "store: {type: redis, redis: {url: %q, key_prefix: %q}}", url, prefix), 1)
		if err := os.WriteFile(path, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	if code, out, errOut := runCmd(t, "store", "check", "-c", config("k1", "k2")); code != 0 || !strings.Contains(out, "redis store: 2 records (2 connections") {
		t.Fatalf("store check with both keys: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ := runCmd(t, "store", "check", "-c", config("k1"))
	bob := store.ConnectionID("hooli", "bob")
	if code != 1 || !strings.Contains(out, fmt.Sprintf(`cannot open: connection %q: sealed with root key "k2", which is not configured`, bob)) || strings.Contains(out, "at-bob") {
		t.Errorf("store check without k2: exit %d, want 1 naming bob's connection and k2 (never its token):\n%s", code, out)
	}
}

// TestStoreCheckComparesRedisCounts: on Redis, store check compares the
// connection counts and listing indexes with the records: it says when
// none are built yet, agrees once they are, names a wrong count and a
// stray index entry (exit 1) with the way to rebuild them, and agrees
// again after that rebuild.
func TestStoreCheckComparesRedisCounts(t *testing.T) {
	f := newKeysFixture(t)
	url, prefix := redistest.URL(t), redistest.Prefix(t)
	open := func() *redisstore.Store {
		st, err := redisstore.Open(redisstore.Config{URL: url, KeyPrefix: prefix}, redisstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
	st := open()
	kr, err := keyring.Open(t.Context(), f.root(t, "k1"), st, keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	putConnection(t, st, kr, "ada")
	putConnection(t, st, kr, "bob")
	path := f.config(t, "k1")
	raw, _ := os.ReadFile(path)
	raw = bytes.Replace(raw, []byte("store: {type: embedded}"), fmt.Appendf(nil, "store: {type: redis, redis: {url: %q, key_prefix: %q}}", url, prefix), 1)
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	check := func(wantCode int, want ...string) {
		t.Helper()
		code, out, errOut := runCmd(t, "store", "check", "-c", path)
		if code != wantCode {
			t.Errorf("store check: exit %d, want %d\n%s%s", code, wantCode, out, errOut)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("store check output lacks %q:\n%s", w, out)
			}
		}
		if strings.Contains(out, "at-ada") || strings.Contains(out, "at-bob") {
			t.Errorf("store check printed a token:\n%s", out)
		}
	}
	check(0, "connection counts not compared: no connection counts or listing indexes built yet")

	if _, err := st.ConnectionCounts(t.Context()); err != nil { // builds them, as an engine does
		t.Fatal(err)
	}
	check(0, "connection counts and listing indexes agree with the records")

	opts, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	client := goredis.NewClient(opts)
	defer client.Close()
	ctx := t.Context()
	if err := client.ZAdd(ctx, prefix+"conns:s:revoked", goredis.Z{Member: "stray"}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := client.HIncrBy(ctx, prefix+"conncounts", store.CountKey{ProviderID: "hooli", Status: store.ConnectionConnected}.String(), 3).Err(); err != nil {
		t.Fatal(err)
	}
	check(1, `wrong: connection counts: provider "hooli", status "connected", service false: kept 5, records 2`,
		`wrong: connection index conns:s:revoked: entry "stray" names no such connection in that state`,
		"delete the key "+prefix+"conncounts:built and restart the engines")

	if err := client.Del(ctx, prefix+"conncounts:built").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := open().ConnectionCounts(ctx); err != nil { // a restarted engine rebuilds them
		t.Fatal(err)
	}
	check(0, "connection counts and listing indexes agree with the records")
}
