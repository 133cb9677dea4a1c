package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestAttack_AdminAPIExposedOnPublicListener: with api.admin_listen the
// admin API answers only on its own listener; the main listener, the one
// browsers and apps reach, does not serve it even to a valid admin key.
func TestAttack_AdminAPIExposedOnPublicListener(t *testing.T) {
	dir := t.TempDir()
	port, adminPort := freePort(t), freePort(t)
	cfg := filepath.Join(dir, "engine.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`
data_dir: %s
api: {development: true, port: %d, public_url: "http://localhost:%d", admin_listen: "127.0.0.1:%d"}
store: {type: embedded}
`, filepath.Join(dir, "data"), port, port, adminPort)), 0o600); err != nil {
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
	main := fmt.Sprintf("http://127.0.0.1:%d", port)
	admin := fmt.Sprintf("http://127.0.0.1:%d", adminPort)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "admin API listening") || !strings.Contains(out.String(), "listening on http://127.0.0.1:") {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not come up: %s %s", out.String(), errOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	m := regexp.MustCompile(`"admin_key":"([^"]+)"`).FindStringSubmatch(errOut.String())
	if m == nil {
		t.Fatalf("no development admin key shown: %s", errOut.String())
	}
	get := func(base, path string) int {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+m[1])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	cases := []struct {
		name, base, path string
		want             int
	}{
		{"the admin listener serves the admin API", admin, "/v1/admin/auth_providers", 200},
		{"the admin listener answers health", admin, "/v1/health", 200},
		{"the main listener does not serve the admin API", main, "/v1/admin/auth_providers", 401},
		{"the main listener does not list connections", main, "/v1/admin/user_connections", 401},
		{"the admin listener does not serve the app API", admin, "/v1/auth/status?id=x", 404},
		{"the main listener still serves health", main, "/v1/health", 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := get(tc.base, tc.path); got != tc.want {
				t.Errorf("GET %s%s: HTTP %d, want %d", tc.base, tc.path, got, tc.want)
			}
		})
	}
}
