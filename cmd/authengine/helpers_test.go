package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

func callerFile() (uintptr, string, int, bool) { return runtime.Caller(0) }

// syncWriter is a goroutine-safe buffer for the output of a running serve.
type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// devAPIKey is the API key development mode generated into dataDir (the
// engine shows it only on the start that generates it).
func devAPIKey(t *testing.T, dataDir string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dataDir, "dev-keys.json"))
	if err != nil {
		t.Fatalf("no development keys: %v", err)
	}
	var dk devKeys
	if err := json.Unmarshal(raw, &dk); err != nil || dk.APIKey == "" {
		t.Fatalf("development keys file: %v %s", err, raw)
	}
	return dk.APIKey
}

// serveInTest runs `authengine <args>` (a serve command) until the test
// ends, when it must exit 0, and waits until base answers its health
// check. It returns the engine's stderr.
func serveInTest(t *testing.T, base string, args ...string) *syncWriter {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncWriter
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, &out, &errOut) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exit %d: %s", code, errOut.String())
		}
	})
	waitHealthy(t, base, &errOut)
	return &errOut
}

// inShippedDir makes the test's working directory a fresh one holding only
// a copy of the shipped engine.yaml, as a new user's clone has; it skips
// the test when port 9099, which that file names, is taken (another engine
// on this machine says nothing about the file).
func inShippedDir(t *testing.T) string {
	t.Helper()
	if ln, err := net.Listen("tcp", "127.0.0.1:9099"); err != nil {
		t.Skipf("port 9099, which the README's commands use, is taken: %v", err)
	} else {
		ln.Close()
	}
	dir := t.TempDir()
	shipped, err := os.ReadFile(filepath.Join(repoRoot(t), "engine.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "engine.yaml"), shipped, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	return dir
}
