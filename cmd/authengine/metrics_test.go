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
)

// TestMetricsListenerAndToken: with telemetry.metrics.listen and
// bearer_token, serve answers the metrics only on their own listener and
// only with the token; the main listener does not serve them.
func TestMetricsListenerAndToken(t *testing.T) {
	dir := t.TempDir()
	port, metricsPort := freePort(t), freePort(t)
	const token = "scrape-token-0123456789abcdef"
	cfg := filepath.Join(dir, "engine.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`
data_dir: %s
api: {development: true, port: %d, public_url: "http://localhost:%d"}
store: {type: embedded}
telemetry: {metrics: {listen: "127.0.0.1:%d", bearer_token: %q}}
`, filepath.Join(dir, "data"), port, port, metricsPort, token)), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncWriter
	done := make(chan int)
	go func() { done <- run(ctx, []string{"serve", "-c", cfg}, &out, &errOut) }()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exit %d: %s", code, errOut.String())
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "metrics listening") || !strings.Contains(out.String(), "listening on http://127.0.0.1:") {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not come up: %s %s", out.String(), errOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	get := func(port int, auth string) (int, string) {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/metrics", port), nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get(metricsPort, "Bearer "+token); code != 200 || !strings.Contains(body, "authengine_") {
		t.Fatalf("metrics listener with the token: HTTP %d %.200s", code, body)
	}
	if code, _ := get(metricsPort, ""); code != 401 {
		t.Errorf("metrics listener without the token: HTTP %d, want 401", code)
	}
	if code, _ := get(port, "Bearer "+token); code != 404 {
		t.Errorf("main listener: HTTP %d, want 404", code)
	}
	if strings.Contains(out.String()+errOut.String(), token) {
		t.Error("the token was printed")
	}
}
