package bolt

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/codec"
	"github.com/authengine/authengine/engine/store/storetest"
)

// openTemp opens a store on a fresh file in t.TempDir, closed at cleanup.
func openTemp(t testing.TB, now func() time.Time) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "data", "authengine.db"), Options{Now: now})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func newStore(t *testing.T, now func() time.Time) store.Store { return openTemp(t, now) }

func TestConformance(t *testing.T) { storetest.Run(t, newStore) }

func TestConcurrency(t *testing.T) { storetest.RunConcurrency(t, newStore) }

// mustOpen opens path or fails the test; the caller closes.
func mustOpen(t testing.TB, path string, opts Options) *Store {
	t.Helper()
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	return s
}

func TestRecordsSurviveCloseAndReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "authengine.db")
	now := time.Now().UTC().Truncate(time.Millisecond)
	clock := func() time.Time { return now }
	s := mustOpen(t, path, Options{Now: clock})

	flow := store.Flow{ID: "flow-1", StateHash: store.HashState("state-1"), ProviderID: "hooli", Status: store.FlowPending,
		Sealed: []byte{0, 1, 2}, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateFlow(ctx, flow); err != nil {
		t.Fatalf("CreateFlow: %v", err)
	}
	connID := store.ConnectionID("hooli", "user-1")
	if _, err := s.UpdateConnection(ctx, connID, func(store.Connection, bool) (store.Connection, error) {
		return store.Connection{ID: connID, UserID: "user-1", ProviderID: "hooli", Status: store.ConnectionConnected, Sealed: []byte("sealed")}, nil
	}); err != nil {
		t.Fatalf("UpdateConnection: %v", err)
	}
	if err := s.CreateProvider(ctx, store.ProviderRecord{ID: "runtime-1", Sealed: []byte("cfg"), CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatalf("CreateProvider: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = mustOpen(t, path, Options{Now: clock})
	defer s.Close()
	if got, err := s.GetFlow(ctx, "flow-1"); err != nil || string(got.Sealed) != "\x00\x01\x02" {
		t.Errorf("GetFlow after reopen = %+v, %v", got, err)
	}
	if got, err := s.ConsumeState(ctx, flow.StateHash); err != nil || got.ID != "flow-1" {
		t.Errorf("ConsumeState after reopen = %q, %v; want flow-1", got.ID, err)
	}
	if got, err := s.GetConnection(ctx, connID); err != nil || got.Version != 1 || string(got.Sealed) != "sealed" {
		t.Errorf("GetConnection after reopen = %+v, %v", got, err)
	}
	if got, err := s.GetProvider(ctx, "runtime-1"); err != nil || string(got.Sealed) != "cfg" {
		t.Errorf("GetProvider after reopen = %+v, %v", got, err)
	}
}

func TestOpen(t *testing.T) {
	t.Run("it creates the directory 0700 and the file 0600", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "nested", "data")
		path := filepath.Join(dir, "authengine.db")
		mustOpen(t, path, Options{}).Close()
		for name, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
			info, err := os.Stat(name)
			if err != nil {
				t.Fatalf("Stat: %v", err)
			}
			if got := info.Mode().Perm(); got != want {
				t.Errorf("%s has mode %v, want %v", name, got, want)
			}
		}
	})

	t.Run("a second open of a file in use says another engine is using it", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "authengine.db")
		first := mustOpen(t, path, Options{})
		defer first.Close()
		second, err := Open(path, Options{})
		if err == nil {
			second.Close()
			t.Fatal("a second Open of a locked file succeeded")
		}
		if !strings.Contains(err.Error(), "another authengine engine is using it") {
			t.Errorf("error %q does not say the file is in use", err)
		}
	})

	t.Run("an empty path is refused", func(t *testing.T) {
		if _, err := Open("", Options{}); err == nil {
			t.Fatal("Open(\"\") succeeded")
		}
	})

	t.Run("a directory that cannot be created is an error", func(t *testing.T) {
		blocker := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(blocker, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(filepath.Join(blocker, "sub", "authengine.db"), Options{}); err == nil {
			t.Fatal("Open under a regular file succeeded")
		}
	})
}

func TestClose(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "authengine.db"), Options{SweepInterval: time.Millisecond})
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	t.Run("it stops the sweep goroutine", func(t *testing.T) {
		select {
		case <-s.swept:
		default:
			t.Fatal("the sweep goroutine is still running after Close")
		}
	})
	t.Run("closing twice is harmless", func(t *testing.T) {
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	})
	t.Run("operations after close are ErrUnavailable", func(t *testing.T) {
		if err := s.Ping(t.Context()); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("Ping after Close = %v, want ErrUnavailable", err)
		}
		if _, err := s.GetConnection(t.Context(), "x"); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("GetConnection after Close = %v, want ErrUnavailable", err)
		}
		if err := s.CreateProvider(t.Context(), store.ProviderRecord{ID: "p"}); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("CreateProvider after Close = %v, want ErrUnavailable", err)
		}
	})
}

func TestSweep(t *testing.T) {
	ctx := t.Context()
	var mu sync.Mutex
	now := time.Now().UTC()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := mustOpen(t, filepath.Join(t.TempDir(), "authengine.db"), Options{Now: clock, SweepInterval: 5 * time.Millisecond})
	defer s.Close()

	short := store.Flow{ID: "short", StateHash: store.HashState("a"), Status: store.FlowPending, ExpiresAt: now.Add(time.Minute)}
	long := store.Flow{ID: "long", StateHash: store.HashState("b"), Status: store.FlowPending, ExpiresAt: now.Add(time.Hour)}
	for _, f := range []store.Flow{short, long} {
		if err := s.CreateFlow(ctx, f); err != nil {
			t.Fatalf("CreateFlow: %v", err)
		}
	}
	if _, err := s.Lock(ctx, "refresh", time.Second); err != nil {
		t.Fatalf("Lock: %v", err)
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()

	deadline := time.Now().Add(5 * time.Second)
	for rawKeys(t, s, bucketFlows) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the sweep did not delete the expired flow within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := rawKeys(t, s, bucketStates); got != 1 {
		t.Errorf("%d state index entries remain, want only the live flow's", got)
	}
	if _, err := s.ConsumeState(ctx, long.StateHash); err != nil {
		t.Errorf("the live flow's state was swept: %v", err)
	}
	s.locks.mu.Lock()
	leases := len(s.locks.held)
	s.locks.mu.Unlock()
	if leases != 0 {
		t.Errorf("%d expired leases remain after the sweep, want 0", leases)
	}
}

// rawKeys counts the keys of a bucket, expired records included.
func rawKeys(t *testing.T, s *Store, bucket []byte) int {
	t.Helper()
	n := 0
	err := s.db.View(func(tx *bbolt.Tx) error {
		n = tx.Bucket(bucket).Stats().KeyN
		return nil
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	return n
}

func TestSealedBytesAreStoredOnlyInTheirRecord(t *testing.T) {
	// The engine seals secrets before they arrive; the backend must not
	// copy them anywhere else (no index of Sealed, no logs).
	ctx := t.Context()
	marker := []byte("MARKER-7f3a9c-SEALED-BLOB-0123456789")
	path := filepath.Join(t.TempDir(), "authengine.db")
	var logs bytes.Buffer
	s := mustOpen(t, path, Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	id := store.ConnectionID("hooli", "user-1")
	if _, err := s.UpdateConnection(ctx, id, func(store.Connection, bool) (store.Connection, error) {
		return store.Connection{ID: id, UserID: "user-1", ProviderID: "hooli", Status: store.ConnectionConnected, Sealed: marker}, nil
	}); err != nil {
		t.Fatalf("UpdateConnection: %v", err)
	}
	if _, err := s.sweep(); err != nil {
		t.Fatalf("sweep: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The record holds the sealed part as it is (engine/store/codec).
	if n := bytes.Count(raw, marker); n != 1 {
		t.Errorf("the sealed bytes appear %d times in the file, want exactly once, in their record", n)
	}
	if bytes.Contains(logs.Bytes(), marker) || bytes.Contains(logs.Bytes(), []byte(base64.StdEncoding.EncodeToString(marker))) {
		t.Error("the sealed bytes appear in the logs")
	}
}

func TestCorruptRecordIsAnErrorWithoutItsContent(t *testing.T) {
	s := openTemp(t, nil)
	secret := "not-json-but-secret-looking"
	if err := s.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketConnections).Put([]byte("c1"), []byte(secret))
	}); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetConnection(t.Context(), "c1")
	if err == nil {
		t.Fatal("GetConnection of a corrupt record succeeded")
	}
	if !errors.Is(err, codec.ErrCorrupt) || !strings.Contains(err.Error(), `"c1": corrupt connection record: unknown format byte`) || strings.Contains(err.Error(), secret) {
		t.Errorf("error %q should say the record is corrupt without quoting it", err)
	}
	if _, _, err := s.ListConnections(t.Context(), store.ConnectionFilter{UserID: "u"}, 0, 10); err == nil {
		t.Error("ListConnections over a corrupt record succeeded")
	}
}

func TestLockRefusesANonPositiveTTL(t *testing.T) {
	s := openTemp(t, nil)
	for _, ttl := range []time.Duration{0, -time.Second} {
		if _, err := s.Lock(t.Context(), "l", ttl); err == nil {
			t.Errorf("Lock with ttl %v succeeded", ttl)
		}
	}
}

func TestCancelledContextIsRefused(t *testing.T) {
	s := openTemp(t, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.GetFlow(ctx, "f"); !errors.Is(err, context.Canceled) {
		t.Errorf("GetFlow with a cancelled context = %v, want context.Canceled", err)
	}
	// A nil fn proves the store gives up before reaching it.
	if _, err := s.UpdateConnection(ctx, "c", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("UpdateConnection with a cancelled context = %v, want context.Canceled", err)
	}
}

func BenchmarkGetConnection(b *testing.B) {
	s := openTemp(b, nil)
	ctx := context.Background()
	id := store.ConnectionID("hooli", "user-1")
	c := store.Connection{ID: id, UserID: "user-1", ProviderID: "hooli", Status: store.ConnectionConnected,
		Scopes: []string{"read", "write"}, Sealed: make([]byte, 1024), ExpiresAt: time.Now().Add(time.Hour)}
	if _, err := s.UpdateConnection(ctx, id, func(store.Connection, bool) (store.Connection, error) { return c, nil }); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.GetConnection(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUpdateConnection(b *testing.B) {
	s := openTemp(b, nil)
	ctx := context.Background()
	id := store.ConnectionID("hooli", "user-1")
	sealed := make([]byte, 1024)
	b.ReportAllocs()
	for b.Loop() {
		_, err := s.UpdateConnection(ctx, id, func(c store.Connection, _ bool) (store.Connection, error) {
			c.ID, c.UserID, c.ProviderID, c.Status, c.Sealed = id, "user-1", "hooli", store.ConnectionConnected, sealed
			return c, nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// TestCorruptFlowRecordDoesNotStopTheSweep: one flow record that cannot be
// decoded used to abort the whole sweep transaction, every minute, so no
// expired flow was ever deleted again. The sweep skips it, logs it (its
// id, never its content) and counts it, and deletes the others.
func TestCorruptFlowRecordDoesNotStopTheSweep(t *testing.T) {
	now := time.Now().UTC()
	var logs bytes.Buffer // written only by sweep, called here: the loop's interval is an hour
	s := mustOpen(t, filepath.Join(t.TempDir(), "authengine.db"), Options{
		Now: func() time.Time { return now }, SweepInterval: time.Hour,
		Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
	})
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	expired := store.Flow{ID: "old", StateHash: store.HashState("a"), Status: store.FlowPending, ExpiresAt: now.Add(-time.Minute)}
	live := store.Flow{ID: "live", StateHash: store.HashState("b"), Status: store.FlowPending, ExpiresAt: now.Add(time.Hour)}
	for _, f := range []store.Flow{expired, live} {
		if err := s.CreateFlow(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	content := "half-written-record-content"
	if err := s.db.Update(func(tx *bbolt.Tx) error {
		// Sorted before and after the good records, so ForEach meets it first.
		return tx.Bucket(bucketFlows).Put([]byte("a-corrupt"), []byte(`{"ID":"`+content))
	}); err != nil {
		t.Fatal(err)
	}

	for round := 1; round <= 2; round++ {
		n, err := s.sweep()
		if err != nil {
			t.Fatalf("sweep %d: %v; one corrupt record must not abort it", round, err)
		}
		if want := 2 - round; n != want { // the expired flow goes in the first round
			t.Fatalf("sweep %d deleted %d flows, want %d", round, n, want)
		}
		if got := s.CorruptRecordsSkipped(); got != uint64(round) {
			t.Fatalf("CorruptRecordsSkipped after sweep %d = %d, want %d", round, got, round)
		}
	}
	if got := rawKeys(t, s, bucketFlows); got != 2 {
		t.Fatalf("%d flow records remain, want the live one and the corrupt one", got)
	}
	if _, err := s.GetFlow(ctx, live.ID); err != nil {
		t.Fatalf("the live flow: %v", err)
	}
	out := logs.String()
	if !strings.Contains(out, "corrupt flow record") || !strings.Contains(out, `"flow_id":"a-corrupt"`) || strings.Contains(out, content) {
		t.Fatalf("log %q should name the corrupt record by id, without its content", out)
	}
}

// TestHealthProbeIsBoundedInTime: Ping writes, so a writer that hangs (a
// stuck disk) must not hang health: Ping gives up when its context ends,
// reporting the store unavailable, and callers meanwhile share the one
// probe in flight instead of queueing transactions.
func TestHealthProbeIsBoundedInTime(t *testing.T) {
	s := openTemp(t, nil)
	stuck, release := make(chan struct{}), make(chan struct{})
	go func() {
		_ = s.db.Update(func(*bbolt.Tx) error { close(stuck); <-release; return nil })
	}()
	<-stuck
	for range 3 {
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		begin := time.Now()
		err := s.Ping(ctx)
		cancel()
		if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "did not finish in time") {
			t.Fatalf("Ping behind a stuck writer = %v, want ErrUnavailable", err)
		}
		if d := time.Since(begin); d > 5*time.Second {
			t.Fatalf("Ping took %v behind a stuck writer; its context allowed 100ms", d)
		}
	}
	s.probeMu.Lock()
	waiting := len(s.probeWaiters)
	s.probeMu.Unlock()
	if waiting != 3 {
		t.Fatalf("%d callers wait on probes, want 3 sharing the one probe in flight", waiting)
	}
	close(release)
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping once the writer is done: %v", err)
	}
}

// BenchmarkPing compares the health probe (a committed write, its reuse
// window cleared each time) with the read-only transaction it replaced.
func BenchmarkPing(b *testing.B) {
	s := openTemp(b, nil)
	ctx := context.Background()
	b.Run("write probe", func(b *testing.B) {
		for b.Loop() {
			s.probeMu.Lock()
			s.probed = time.Time{}
			s.probeMu.Unlock()
			if err := s.Ping(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("read transaction", func(b *testing.B) {
		for b.Loop() {
			if err := s.view(ctx, "ping", func(*bbolt.Tx) error { return nil }); err != nil {
				b.Fatal(err)
			}
		}
	})
}
