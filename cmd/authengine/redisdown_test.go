package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authengine/authengine/internal/redistest"
)

// TestServeStartsWhileRedisIsDown: with Redis unreachable at start, serve
// starts anyway, /v1/health answers 503 and requests answer 503
// store_unavailable; once Redis answers, health recovers and the runtime
// providers are loaded (an unknown id is then unknown_provider, 404).
func TestServeStartsWhileRedisIsDown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a redis-server")
	}
	srv := redistest.Private(t, redistest.PrivateOptions{})
	srv.Stop()
	dir := t.TempDir()
	port := freePort(t)
	cfg := filepath.Join(dir, "engine.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
data_dir: %s
api: {development: true, port: %d}
store: {type: redis, redis: {url: %q, key_prefix: "t:"}}
`, filepath.Join(dir, "data"), port, srv.URL())), 0o600)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncWriter
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve", "-c", cfg, "-e", ""}, &out, &errOut) }()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "listening on") {
		select {
		case code := <-done:
			t.Fatalf("serve exited %d with Redis down:\n%s", code, errOut.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start: %s", errOut.String())
		}
	}
	key := []string{"", devAPIKey(t, filepath.Join(dir, "data"))}
	authorize := func() (int, string) {
		req, _ := http.NewRequest("POST", base+"/v1/auth/authorize", strings.NewReader(`{"user_id":"u1","auth_requirement":{"provider_id":"nosuch","provider_type":"oauth2"}}`))
		req.Header.Set("Authorization", "Bearer "+key[1])
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	health := func() int {
		resp, err := http.Get(base + "/v1/health")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := health(); code != http.StatusServiceUnavailable {
		t.Fatalf("health with Redis down: HTTP %d, want 503", code)
	}
	if code, body := authorize(); code != http.StatusServiceUnavailable || !strings.Contains(body, "store_unavailable") {
		t.Fatalf("authorize with Redis down: HTTP %d %s, want 503 store_unavailable", code, body)
	}

	srv.Start()
	deadline = time.Now().Add(30 * time.Second)
	for {
		code, body := authorize()
		if health() == http.StatusOK && code == http.StatusNotFound && strings.Contains(body, "unknown_provider") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after Redis came back: health %d, authorize HTTP %d %s", health(), code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exit %d: %s", code, errOut.String())
	}
}
