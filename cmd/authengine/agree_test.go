package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/knadh/koanf/parsers/yaml"
)

// TestCheckAndServeAgree runs check and serve on every shipped config and
// on configs that once split them (no admin keys outside development
// mode): serve starts exactly when check says ok. Each config is moved to
// a free port and a private data dir; nothing else changes.
func TestCheckAndServeAgree(t *testing.T) {
	wd := repoRoot(t)
	files, _ := filepath.Glob(filepath.Join(wd, "examples", "providers", "*.yaml"))
	files = append(files, filepath.Join(wd, "engine.yaml"), filepath.Join(wd, "examples", "engine.hooli.yaml"))
	const rootKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	extra := map[string]string{
		"no admin keys": `api: {development: false, api_keys: [ae_0123456789abcdef0123]}
security: {root_keys: [{id: k1, value: ` + rootKey + `}]}`,
		"no api keys": `api: {development: false}
security: {root_keys: [{id: k1, value: ` + rootKey + `}]}`,
		"development, admin key only": `api: {development: true, admin_keys: [ae_admin_0123456789abcdef]}`,
	}
	type tc struct{ name, src string }
	var cases []tc
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(wd, f)
		cases = append(cases, tc{rel, string(b)})
	}
	for name, src := range extra {
		cases = append(cases, tc{name, src})
	}
	env := filepath.Join(wd, "examples", "providers", "example.env")
	t.Chdir(t.TempDir()) // no stray .env
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			doc, err := yaml.Parser().Unmarshal([]byte(c.src))
			if err != nil {
				t.Fatal(err)
			}
			port := freePort(t)
			api, _ := doc["api"].(map[string]any)
			if api == nil {
				api = map[string]any{}
			}
			api["port"], api["public_url"] = port, fmt.Sprintf("http://localhost:%d", port)
			delete(api, "admin_listen")
			doc["api"] = api
			doc["data_dir"] = filepath.Join(dir, "data")
			doc["store"] = map[string]any{"type": "embedded", "embedded": map[string]any{"path": filepath.Join(dir, "data", "a.db")}}
			out, _ := yaml.Parser().Marshal(doc)
			cfg := filepath.Join(dir, "engine.yaml")
			if err := os.WriteFile(cfg, out, 0o600); err != nil {
				t.Fatal(err)
			}
			checkCode, _, checkErr := runCmd(t, "check", "-c", cfg, "-e", env)

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var sout, serr syncWriter
			done := make(chan int, 1)
			go func() { done <- run(ctx, []string{"serve", "-c", cfg, "-e", env}, &sout, &serr) }()
			serveCode, started := -1, false
			deadline := time.After(20 * time.Second)
		wait:
			for {
				select {
				case serveCode = <-done:
					break wait
				case <-deadline:
					t.Fatalf("serve neither started nor stopped: %s", serr.String())
				case <-time.After(50 * time.Millisecond):
					if strings.Contains(sout.String(), "listening on") {
						started = true
						if c.name == "no admin keys" {
							assertAdminOff(t, port)
						}
						cancel()
						serveCode = <-done
						break wait
					}
				}
			}
			if (checkCode == 0) != started {
				t.Fatalf("check exit %d but serve started=%v (exit %d)\ncheck: %s\nserve: %s", checkCode, started, serveCode, checkErr, serr.String())
			}
			if c.name == "no api keys" && started {
				t.Fatal("an engine without API keys outside development mode started")
			}
			if _, mustStart := extra[c.name]; mustStart && c.name != "no api keys" && !started {
				t.Fatalf("serve refused: %s", serr.String())
			}
		})
	}
}

// assertAdminOff: without admin keys the admin API answers 401 saying why.
func assertAdminOff(t *testing.T, port int) {
	t.Helper()
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/v1/admin/user_connections", port), nil)
	req.Header.Set("Authorization", "Bearer ae_0123456789abcdef0123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 512)
	n, _ := resp.Body.Read(buf)
	b.Write(buf[:n])
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(b.String(), "no api.admin_keys are configured") {
		t.Fatalf("admin API without admin keys: HTTP %d %s", resp.StatusCode, b.String())
	}
}
