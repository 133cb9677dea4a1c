package main

import (
	"bytes"
	"encoding/json"
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
