package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestReadmeQuickStart runs the README's first screen against a fresh data
// dir: the serve command (its arguments, through run, from a directory
// holding only a copy of engine.yaml) and the quick-start block verbatim in
// bash, the test playing the user who opens the URL and clicks Allow. The
// flow must end completed with a token from the demo provider.
func TestReadmeQuickStart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the engine and the README's shell commands")
	}
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the README's quick start needs %s: %v", tool, err)
		}
	}
	readme, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	serveArgs := readmeServeArgs(t, string(readme))
	script := readmeQuickStart(t, string(readme))
	dir := inShippedDir(t)
	errOut := serveInTest(t, "http://127.0.0.1:9099", serveArgs...)

	sh := exec.Command("bash", "-euo", "pipefail", "-c", script)
	sh.Dir = dir
	var shErr strings.Builder
	sh.Stderr = &shErr
	stdout, err := sh.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewReader(stdout)
	first, err := lines.ReadString('\n')
	if err != nil {
		sh.Wait()
		t.Fatalf("the quick start printed no URL: %v\nstderr: %s\nengine: %s", err, shErr.String(), errOut.String())
	}
	authorizeURL := strings.TrimSpace(first)
	if !strings.HasPrefix(authorizeURL, "http://localhost:9099/demo/oauth/authorize?") {
		t.Fatalf("the quick start's first line is not the demo provider's authorize URL: %q", authorizeURL)
	}
	clickAllow(t, authorizeURL)

	rest, _ := io.ReadAll(lines)
	if err := sh.Wait(); err != nil {
		t.Fatalf("the quick start failed: %v\nstderr: %s", err, shErr.String())
	}
	var got struct {
		Status   string         `json:"status"`
		Token    string         `json:"token"`
		UserInfo map[string]any `json:"user_info"`
	}
	if err := json.Unmarshal(rest, &got); err != nil {
		t.Fatalf("the quick start's last command printed no JSON object: %v\n%s", err, rest)
	}
	if got.Status != "completed" || len(got.Token) < 20 || got.UserInfo["name"] != "ada" {
		t.Fatalf("want completed with a token and the demo user's info, got %s", rest)
	}
}

// readmeServeArgs returns the arguments of the README's serve command.
func readmeServeArgs(t *testing.T, readme string) []string {
	t.Helper()
	m := regexp.MustCompile("(?m)^go run \\./cmd/authengine ([^#\n]*?)\\s*(#.*)?$").FindStringSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no `go run ./cmd/authengine ...` command")
	}
	return strings.Fields(m[1])
}

// readmeQuickStart returns the shell block between the quickstart markers.
func readmeQuickStart(t *testing.T, readme string) string {
	t.Helper()
	m := regexp.MustCompile("(?s)<!-- quickstart -->\\s*```sh\n(.*?)```\\s*<!-- /quickstart -->").FindStringSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no quick-start block between <!-- quickstart --> markers")
	}
	return m[1]
}

func waitHealthy(t *testing.T, base string, logs *syncWriter) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/v1/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the engine did not come up: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// clickAllow plays the browser: it loads the consent page, submits Allow
// and follows the redirect to the engine's callback.
func clickAllow(t *testing.T, authorizeURL string) {
	t.Helper()
	resp, err := http.Get(authorizeURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("consent page: HTTP %d: %s", resp.StatusCode, page)
	}
	m := regexp.MustCompile(`name="consent" value="([^"]+)"`).FindSubmatch(page)
	if m == nil || !strings.Contains(string(page), `value="allow"`) || !strings.Contains(string(page), `value="deny"`) {
		t.Fatalf("consent page has no consent id or lacks Allow/Deny:\n%s", page)
	}
	u, _ := url.Parse(authorizeURL)
	form := url.Values{"consent": {string(m[1])}, "decision": {"allow"}, "login": {"ada"}}
	resp, err = http.PostForm(fmt.Sprintf("%s://%s%s", u.Scheme, u.Host, u.Path), form)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/oauth/callback" {
		t.Fatalf("after Allow: HTTP %d at %s: %s", resp.StatusCode, resp.Request.URL.Path, body)
	}
}

// TestDemoProviderOnlyInDevelopment: the demo provider's routes exist with
// api.development: true and answer 404 with it off, where a provider still
// pointing at them is named in a warning.
func TestDemoProviderOnlyInDevelopment(t *testing.T) {
	for _, tc := range []struct {
		name        string
		development bool
		keys        string
		want        int
	}{
		{"development mode serves the consent page", true, "", http.StatusOK},
		{"without development mode the routes do not exist", false,
			"  api_keys: [ae_test_key_0123456789]\n  admin_keys: [ae_admin_key_0123456789]\nsecurity: {root_keys: [{id: k1, value: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=}]}\n", http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			port := freePort(t)
			cfg := filepath.Join(dir, "engine.yaml")
			yaml := fmt.Sprintf("data_dir: %s\nstore: {type: embedded}\napi:\n  development: %t\n  port: %d\n  public_url: http://localhost:%d\n%s",
				filepath.Join(dir, "data"), tc.development, port, port, tc.keys) +
				strings.ReplaceAll(demoProviderYAML, "9099", fmt.Sprint(port))
			if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			base := fmt.Sprintf("http://127.0.0.1:%d", port)
			errOut := serveInTest(t, base, "serve", "-c", cfg)
			q := url.Values{
				"client_id": {"authengine-demo"}, "redirect_uri": {fmt.Sprintf("http://localhost:%d/oauth/callback", port)},
				"response_type": {"code"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"},
				"code_challenge_method": {"S256"}, "scope": {"profile"}, "state": {"s"},
			}
			for _, path := range []string{"/demo/oauth/authorize?" + q.Encode(), "/demo/oauth/userinfo"} {
				resp, err := http.Get(base + path)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				want := tc.want
				if path == "/demo/oauth/userinfo" && tc.development {
					want = http.StatusUnauthorized
				}
				if resp.StatusCode != want {
					t.Errorf("GET %s: HTTP %d, want %d", path, resp.StatusCode, want)
				}
			}
			warned := strings.Contains(errOut.String(), "exists only with api.development: true")
			if warned == tc.development {
				t.Errorf("warning about the demo provider entry: %t, want %t; stderr:\n%s", warned, !tc.development, errOut.String())
			}
		})
	}
}

// demoProviderYAML is the shipped engine.yaml's demo entry, trimmed.
const demoProviderYAML = `auth:
  user_verification: {enabled: false}
  providers:
    - id: demo
      client_id: authengine-demo
      client_secret: authengine-demo-secret
      oauth2:
        grant_type: authorization_code
        allowed_scopes: [profile]
        pkce: {enabled: true}
        authorize_request:
          endpoint: http://localhost:9099/demo/oauth/authorize
          params: {response_type: code, client_id: <<client_id>>, redirect_uri: <<redirect_uri>>, scope: <<scopes>>}
        token_request:
          endpoint: http://localhost:9099/demo/oauth/token
          auth_method: client_secret_basic
          params: {grant_type: authorization_code, redirect_uri: <<redirect_uri>>}
`

// TestReadmeTry runs the README's `try demo` command as a new user would,
// from a directory holding only a copy of engine.yaml, the test opening
// the printed URL and clicking Allow: every step passes.
func TestReadmeTry(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an engine on the README's port")
	}
	readme, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?m)^go run \\./cmd/authengine (try [^#\n]*?)\\s*(#.*)?$").FindStringSubmatch(string(readme))
	if m == nil {
		t.Fatal("README.md has no `go run ./cmd/authengine try ...` command")
	}
	dir := inShippedDir(t)
	// The flag a user without a desktop would not need: no browser opens
	// in a test.
	args := append(strings.Fields(m[1]), "--no-browser")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errOut syncWriter
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, &out, &errOut) }()
	for authorizeLine.FindStringSubmatch(out.String()) == nil {
		select {
		case code := <-done:
			t.Fatalf("try ended (exit %d) before printing the URL:\n%s\n%s", code, out.String(), errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	clickAllow(t, authorizeLine.FindStringSubmatch(out.String())[1])
	if code := <-done; code != 0 || !strings.Contains(out.String(), "every step passed (4)") {
		t.Fatalf("exit %d:\n%s\n%s", code, out.String(), errOut.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		t.Errorf("try wrote into the configured data_dir")
	}
}
