package main

import (
	"bytes"
	"runtime"
	"sync"
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
