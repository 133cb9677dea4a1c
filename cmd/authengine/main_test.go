package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
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

// TestCheckReportsTemplateErrorsWithStructuralOnes: one run of check
// shows the template and JSONPath problems together with the structural
// ones (not only once those are fixed); two providers sharing an id are
// each named by position, and no line is printed twice; a placeholder
// used where it is not available says where it is.
func TestCheckReportsTemplateErrorsWithStructuralOnes(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "engine.yaml")
	os.WriteFile(bad, []byte(`
api: {development: true, prot: 9099}
auth:
  providers:
    - id: hooli
      client_id: id
      client_secret: secret
      oauth2:
        authorize_request: {endpoint: "https://hooli.example/authorize", params: {client_id: "<<clientid>>"}}
        token_request:
          endpoint: https://hooli.example/token
          params: {grant_type: authorization_code, refresh_token: "<<refresh_token>>"}
          response_map: {access_token: "$.[", expires_in: "$.expires_in"}
    - id: hooli
      client_id: id
      client_secret: secret
      colour: blue
      oauth2:
        authorize_request: {endpoint: "https://hooli.example/authorize", params: {scope: "<<scope>>"}}
        token_request: {endpoint: "https://hooli.example/token"}
`), 0o600)
	code, _, errOut := runCmd(t, "check", "-c", bad)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, errOut)
	}
	for _, want := range []string{
		`api.prot: unknown key (did you mean "port"?)`,
		"auth.providers[0].oauth2.authorize_request.params.client_id: unknown placeholder <<clientid>>",
		"auth.providers[0].oauth2.token_request.params.refresh_token: <<refresh_token>> is not available in this request; it is available in refresh_token_request, revocation_request",
		"auth.providers[0].oauth2.token_request.response_map.access_token: bad JSONPath",
		"auth.providers[1].colour: unknown key",
		`auth.providers[1].id: duplicate provider id "hooli"`,
		"auth.providers[1].oauth2.authorize_request.params.scope: unknown placeholder <<scope>>",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("check output lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "providers[hooli]") {
		t.Errorf("a path names one of two providers sharing an id:\n%s", errOut)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(errOut), "\n") {
		if seen[line] {
			t.Errorf("line printed twice: %q", line)
		}
		seen[line] = true
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
// generated into the data dir (0600) on first start and shown once, and
// later starts reuse them and say so without showing them; the engine
// prints where it listens and the redirect URI. With log.format json (the
// default) every line on stderr is a JSON object: the configuration
// warning, the development-mode notice and the access log too.
func TestServeDevelopmentMode(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	cfg := filepath.Join(dir, "engine.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
data_dir: %s
api: {development: true, port: %d, public_url: "http://localhost:%d"}
store: {type: embedded}
auth:
  providers:
    - {id: later, enabled: false, client_id: "$<env:AUTHENGINE_TEST_UNSET_ID>", client_secret: x,
       oauth2: {authorize_request: {endpoint: "https://later.example/auth"}, token_request: {endpoint: "https://later.example/token"}}}
`, filepath.Join(dir, "data"), port, port)), 0o600)

	serveOnce := func() (string, []map[string]any) {
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
		var lines []map[string]any
		for _, line := range strings.Split(strings.TrimSpace(errOut.String()), "\n") {
			var obj map[string]any
			if err := json.Unmarshal([]byte(line), &obj); err != nil {
				t.Fatalf("a stderr line is not JSON with log.format json: %q", line)
			}
			lines = append(lines, obj)
		}
		return out.String(), lines
	}
	find := func(lines []map[string]any, msg string) map[string]any {
		for _, l := range lines {
			if strings.Contains(fmt.Sprint(l["msg"]), msg) {
				return l
			}
		}
		return nil
	}
	out, lines := serveOnce()
	if !strings.Contains(out, "listening on http://127.0.0.1:") || !strings.Contains(out, fmt.Sprintf("http://localhost:%d/oauth/callback", port)) {
		t.Errorf("serve output lacks the address or redirect URI:\n%s", out)
	}
	if w := find(lines, "configuration warning"); w == nil || !strings.Contains(fmt.Sprint(w["warning"]), "AUTHENGINE_TEST_UNSET_ID") {
		t.Errorf("no JSON configuration warning naming the unset variable: %v", lines)
	}
	if a := find(lines, "http request"); a == nil || a["route"] != "/v1/health" || a["request_id"] == "" {
		t.Errorf("no access line for the health request: %v", lines)
	}
	banner := find(lines, "DEVELOPMENT MODE: keys generated")
	key, _ := banner["api_key"].(string)
	if !strings.HasPrefix(key, "ae_dev_") {
		t.Fatalf("the first start showed no generated API key: %v", lines)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "data", "dev-keys.json"))
	info, statErr := os.Stat(filepath.Join(dir, "data", "dev-keys.json"))
	if err != nil || statErr != nil || info.Mode().Perm() != 0o600 || !strings.Contains(string(raw), key) {
		t.Fatalf("dev keys file: %v %v mode %v, want 0600 holding the key shown", err, statErr, info)
	}
	_, lines = serveOnce()
	reused := find(lines, "DEVELOPMENT MODE: keys reused")
	if reused == nil || find(lines, "keys generated") != nil {
		t.Errorf("the second start did not say the keys were reused: %v", lines)
	}
	for _, l := range lines {
		if strings.Contains(fmt.Sprint(l), key) {
			t.Errorf("the second start showed the API key again: %v", l)
		}
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
