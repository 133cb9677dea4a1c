package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestCheckShippedConfigs runs check, as the README tells a new user to, on
// the default engine.yaml and on every example: each loads and compiles.
func TestCheckShippedConfigs(t *testing.T) {
	root := filepath.Join("..", "..")
	files, err := filepath.Glob(filepath.Join(root, "examples", "providers", "*.yaml"))
	if err != nil || len(files) < 6 {
		t.Fatalf("want at least 6 example configs, found %d (%v)", len(files), err)
	}
	wd := repoRoot(t)
	t.Chdir(t.TempDir()) // no stray .env
	cases := append([]string{"engine.yaml"}, func() []string {
		var rel []string
		for _, f := range files {
			rel = append(rel, filepath.Join("examples", "providers", filepath.Base(f)))
		}
		return rel
	}()...)
	for _, f := range cases {
		t.Run(f+" passes check", func(t *testing.T) {
			code, out, errOut := runCmd(t, "check", "-c", filepath.Join(wd, f), "-e", filepath.Join(wd, "examples", "providers", "example.env"))
			if code != 0 {
				t.Fatalf("check %s: exit %d\n%s%s", f, code, out, errOut)
			}
			if !strings.Contains(out, ": ok (") {
				t.Errorf("check %s printed no summary: %s", f, out)
			}
			if f != "engine.yaml" && !strings.Contains(out, "redirect_uri=http") {
				t.Errorf("check %s printed no provider line: %s", f, out)
			}
		})
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := callerFile()
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// TestCheckReportsEveryError shows check exits non-zero and prints every
// mistake with its field path, including template and JSONPath errors.
func TestCheckReportsEveryError(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "engine.yaml")
	os.WriteFile(bad, []byte(`
api: {development: true, prot: 9099}
store: {type: postgres}
`), 0o600)
	code, _, errOut := runCmd(t, "check", "-c", bad)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{`api.prot: unknown key (did you mean "port"?)`, "store.type"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("check output lacks %q:\n%s", want, errOut)
		}
	}

	compile := filepath.Join(dir, "compile.yaml")
	os.WriteFile(compile, []byte(`
api: {development: true}
auth:
  providers:
    - id: hooli
      client_id: id
      client_secret: secret
      oauth2:
        authorize_request: {endpoint: "https://hooli.example/authorize", params: {scope: "<<scope>>"}}
        token_request:
          endpoint: https://hooli.example/token
          response_map: {access_token: "$.[", expires_in: "$.expires_in"}
`), 0o600)
	code, _, errOut = runCmd(t, "check", "-c", compile)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{"auth.providers[hooli].oauth2.authorize_request.params.scope", "<<scope>>", "response_map.access_token"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("check output lacks %q:\n%s", want, errOut)
		}
	}
}

func TestVersionAndUsage(t *testing.T) {
	if code, out, _ := runCmd(t, "version"); code != 0 || !strings.HasPrefix(out, "authengine ") {
		t.Errorf("version: exit %d %q", code, out)
	}
	if code, _, errOut := runCmd(t, "frobnicate"); code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Errorf("unknown command: exit %d %q", code, errOut)
	}
	if code, _, _ := runCmd(t); code != 2 {
		t.Errorf("no command: exit %d, want 2", code)
	}
}

// TestServeDevelopmentMode starts serve as a new user would: keys are
// generated into the data dir (0600) on first start and reused later; the
// engine prints where it listens and the redirect URI.
func TestServeDevelopmentMode(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	cfg := filepath.Join(dir, "engine.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
data_dir: %s
api: {development: true, port: %d, public_url: "http://localhost:%d"}
store: {type: embedded}
`, filepath.Join(dir, "data"), port, port)), 0o600)

	serveOnce := func() (string, string) {
		ctx, cancel := context.WithCancel(context.Background())
		var out, errOut syncWriter
		done := make(chan int)
		go func() { done <- run(ctx, []string{"serve", "-c", cfg}, &out, &errOut) }()
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/v1/health", port))
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Fatalf("health: HTTP %d", resp.StatusCode)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("serve did not come up: %s %s", out.String(), errOut.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
		if code := <-done; code != 0 {
			t.Fatalf("serve exit %d: %s", code, errOut.String())
		}
		return out.String(), errOut.String()
	}
	out, errOut := serveOnce()
	if !strings.Contains(out, "listening on http://127.0.0.1:") || !strings.Contains(out, fmt.Sprintf("http://localhost:%d/oauth/callback", port)) {
		t.Errorf("serve output lacks the address or redirect URI:\n%s", out)
	}
	key := regexp.MustCompile(`API key:\s+(\S+)`).FindStringSubmatch(errOut)
	if key == nil || !strings.Contains(errOut, "DEVELOPMENT MODE") {
		t.Fatalf("serve printed no development API key:\n%s", errOut)
	}
	info, err := os.Stat(filepath.Join(dir, "data", "dev-keys.json"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("dev keys file: %v mode %v, want 0600", err, info)
	}
	_, errOut2 := serveOnce()
	key2 := regexp.MustCompile(`API key:\s+(\S+)`).FindStringSubmatch(errOut2)
	if key2 == nil || key2[1] != key[1] {
		t.Errorf("the second start did not reuse the generated API key")
	}
}

// TestServeRefusesMissingKeysInProduction: without development mode, a
// missing root key or API key stops startup with a clear error.
func TestServeRefusesMissingKeysInProduction(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "engine.yaml")
	os.WriteFile(cfg, []byte(`
api: {development: false, port: 9}
`), 0o600)
	code, _, errOut := runCmd(t, "serve", "-c", cfg)
	if code != 1 || !strings.Contains(errOut, "api.api_keys") {
		t.Fatalf("exit %d, want 1 naming api.api_keys:\n%s", code, errOut)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
