package bolt

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/authengine/authengine/engine/store"
)

// filledFile writes n connections with 500-byte sealed parts into a new
// store file, closes it and returns its path.
func filledFile(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "authengine.db")
	s := mustOpen(t, path, Options{})
	for i := range n {
		user := fmt.Sprintf("user-%d", i)
		id := store.ConnectionID("hooli", user)
		_, err := s.UpdateConnection(t.Context(), id, func(c store.Connection, _ bool) (store.Connection, error) {
			c.ID, c.UserID, c.ProviderID, c.Status = id, user, "hooli", store.ConnectionConnected
			c.Sealed = bytes.Repeat([]byte{byte(i)}, 500)
			return c, nil
		})
		if err != nil {
			t.Fatalf("UpdateConnection: %v", err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// assertOneLineRefusal checks a refusal to open a damaged file: ErrDamaged,
// one line, naming the file and what to do.
func assertOneLineRefusal(t *testing.T, err error, path string) {
	t.Helper()
	if !errors.Is(err, ErrDamaged) {
		t.Fatalf("err = %v, want ErrDamaged", err)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || !strings.Contains(msg, path) || !strings.Contains(msg, "restore the file from a backup") {
		t.Errorf("refusal should be one line naming %s and what to do, got %q", path, msg)
	}
}

func TestTruncatedFileIsRefusedNotMapped(t *testing.T) {
	path := filledFile(t, 300)
	if err := os.Truncate(path, 10*1024); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Options{})
	if err == nil {
		s.Close()
		t.Fatal("Open of a file truncated to 10 kB succeeded")
	}
	assertOneLineRefusal(t, err, path)
	if !strings.Contains(err.Error(), "truncated") {
		t.Errorf("refusal should say the file is truncated: %q", err)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("Open changed the damaged file (%d bytes before, %d after)", len(before), len(after))
	}
	problems, err := Check(t.Context(), path)
	if err != nil || len(problems) != 1 || !strings.Contains(problems[0], "truncated") {
		t.Errorf("Check = %q, %v; want one problem saying the file is truncated", problems, err)
	}
}

func TestOverwrittenHeaderIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"shorter than a header", []byte("oops")},
		{"not a store file", bytes.Repeat([]byte("not a bbolt file "), 2000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "authengine.db")
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Open(path, Options{})
			assertOneLineRefusal(t, err, path)
		})
	}
}

func TestCheck(t *testing.T) {
	t.Run("a sound file has no problems", func(t *testing.T) {
		problems, err := Check(t.Context(), filledFile(t, 50))
		if err != nil || len(problems) != 0 {
			t.Errorf("Check = %q, %v; want no problems", problems, err)
		}
	})
	t.Run("a record that does not decode is named without its content", func(t *testing.T) {
		path := filledFile(t, 5)
		db, err := bbolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		secret := "secret-looking-garbage"
		err = db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketConnections).Put([]byte("c-bad"), []byte(secret)) })
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		problems, err := Check(t.Context(), path)
		if err != nil || len(problems) != 1 || !strings.Contains(problems[0], `"c-bad"`) || strings.Contains(problems[0], secret) {
			t.Errorf("Check = %q, %v; want one problem naming c-bad without its content", problems, err)
		}
	})
	t.Run("a page overwritten in the middle is reported, and refused at start, not a crash", func(t *testing.T) {
		path := filledFile(t, 400)
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		info, _ := f.Stat()
		pageSize := int64(os.Getpagesize())
		for off := 4 * pageSize; off < info.Size()/2; off += 7 * pageSize {
			if _, err := f.WriteAt(bytes.Repeat([]byte{0xA5}, int(pageSize)), off); err != nil {
				t.Fatal(err)
			}
		}
		f.Close()
		problems, err := Check(t.Context(), path)
		if err != nil || len(problems) == 0 {
			t.Errorf("Check = %q, %v; want problems", problems, err)
		}
		s, err := Open(path, Options{})
		if err == nil {
			s.Close()
			t.Fatal("Open of a file with overwritten pages succeeded")
		}
		assertOneLineRefusal(t, err, path)
	})
	t.Run("a file in use is not checked", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "authengine.db")
		s := mustOpen(t, path, Options{})
		defer s.Close()
		_, err := Check(t.Context(), path)
		if err == nil || !strings.Contains(err.Error(), "stop the engine") {
			t.Errorf("Check of a locked file = %v, want an error saying to stop the engine", err)
		}
	})
}

func TestUnwritableDirectoryIsAClearError(t *testing.T) {
	// sysfs refuses new files to everyone, root included.
	path := filepath.Join("/sys", "authengine-test", "authengine.db")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err == nil || !errors.Is(err, fs.ErrPermission) {
		t.Skipf("no directory refusing writes here (/sys: %v)", err)
	}
	_, err := Open(path, Options{})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "make its directory writable by the engine's user") {
		t.Errorf("Open in an unwritable directory = %v, want an error naming the file and what to do", err)
	}
}

// BenchmarkStartCheck measures the consistency check Open runs on files up
// to startCheckLimit, on 70,000 connections of 600 bytes (about 45 MB of
// records, in a file bbolt has grown to 128 MiB).
func BenchmarkStartCheck(b *testing.B) {
	path := filepath.Join(b.TempDir(), "authengine.db")
	s := mustOpen(b, path, Options{})
	val := make([]byte, 600)
	for batch := range 70 {
		err := s.db.Update(func(tx *bbolt.Tx) error {
			bucket := tx.Bucket(bucketConnections)
			for i := range 1000 {
				if err := bucket.Put(fmt.Appendf(nil, "c-%d-%d", batch, i), val); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	info, _ := os.Stat(path)
	b.ReportMetric(float64(info.Size())/(1<<20), "MiB")
	for b.Loop() {
		if err := consistent(s.db, path); err != nil {
			b.Fatal(err)
		}
	}
	s.Close()
}
