package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authengine/authengine/internal/enginetest"
	"github.com/authengine/authengine/internal/mcptest"
)

// serveConfig writes an engine.yaml for serveWhile: development mode on
// port with public_url base, testAPIKey, private endpoints allowed (the
// stand-ins listen on loopback), and providers (auth.providers items).
func serveConfig(t *testing.T, port int, base, providers string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "engine.yaml")
	err := os.WriteFile(cfg, []byte(fmt.Sprintf(`
data_dir: %s
api: {development: true, port: %d, public_url: %q, api_keys: [%s]}
security: {allow_private_endpoints: true}
auth:
  providers:%s
`, filepath.Join(dir, "data"), port, base, testAPIKey, providers)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// testAPIKey is the API key the serve tests configure.
const testAPIKey = "test-api-key-0123456789abcdef"

// serveWhile starts serve on cfg (which lists testAPIKey), calls use with
// the API key once it answers, stops it and returns its log.
func serveWhile(t *testing.T, cfg, base string, use func(key string)) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncWriter
	done := make(chan int)
	go func() { done <- run(ctx, []string{"serve", "-c", cfg}, &out, &errOut) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(base + "/v1/health")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case code := <-done:
			cancel()
			t.Fatalf("serve exited %d: %s", code, errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not come up: %s", errOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	use(testAPIKey)
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exit %d: %s", code, errOut.String())
	}
	return errOut.String()
}

// TestServeWithAnMCPServerURLOnly: a provider given only a remote MCP
// server's URL registers the engine dynamically at start and completes a
// real authorization through the engine's API whose token the MCP server
// accepts; the registration is kept (a restart does not register again);
// when the server forgets it, the code exchange meets invalid_client, the
// engine registers again and the next authorization works. The engine
// serves the provider's client ID metadata document under public_url.
func TestServeWithAnMCPServerURLOnly(t *testing.T) {
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	srv := mcptest.New(t, mcptest.Options{RedirectURI: base + "/oauth/callback", Scopes: []string{"files:read"}})
	cfg := serveConfig(t, port, base, fmt.Sprintf(`
    - id: files
      type: mcp
      mcp: {url: %q}`, srv.URL()))

	// start authorizes user through the API and returns the authorization
	// and the callback URL the user's browser lands on.
	start := func(key, user string) (enginetest.AuthResponse, string) {
		var a enginetest.AuthResponse
		if code := enginetest.Call(t, nil, base, key, "POST", "/v1/auth/authorize", enginetest.AuthorizeBody(user, "files"), &a); code != 200 || a.URL == "" {
			t.Fatalf("authorize: HTTP %d %+v", code, a)
		}
		callback, err := srv.Consent(t.Context(), a.URL)
		if err != nil {
			t.Fatal(err)
		}
		return a, callback
	}
	finish := func(key string, a enginetest.AuthResponse, callback string) enginetest.AuthResponse {
		enginetest.Browse(t, callback)
		var done enginetest.AuthResponse
		enginetest.Call(t, nil, base, key, "GET", "/v1/auth/status?id="+url.QueryEscape(a.ID)+"&wait=5", nil, &done)
		return done
	}
	callMCP := func(tok string) int {
		code, err := srv.Call(tok)
		if err != nil {
			t.Fatal(err)
		}
		return code
	}

	serveWhile(t, cfg, base, func(key string) {
		a, callback := start(key, "ada")
		done := finish(key, a, callback)
		if done.Status != "completed" || done.Token() == "" || callMCP(done.Token()) != http.StatusOK {
			t.Fatalf("status = %+v, want completed with a token the MCP server accepts", done)
		}
		var doc map[string]any
		if code := enginetest.Call(t, nil, base, "", "GET", "/oauth/client-metadata/files", nil, &doc); code != 200 || doc["client_id"] != base+"/oauth/client-metadata/files" {
			t.Fatalf("client metadata document: HTTP %d %v", code, doc)
		}
		if code := enginetest.Call(t, nil, base, "", "GET", "/oauth/client-metadata/hooli", nil, nil); code != http.StatusNotFound {
			t.Errorf("client metadata document of an unknown provider: HTTP %d, want 404", code)
		}
	})
	if srv.Registrations() != 1 {
		t.Fatalf("%d registrations at the first start, want 1", srv.Registrations())
	}
	logs := serveWhile(t, cfg, base, func(key string) {
		a, callback := start(key, "bob")
		srv.Forget()
		enginetest.Browse(t, callback)
		var failed enginetest.APIError
		if code := enginetest.Call(t, nil, base, key, "GET", "/v1/auth/status?id="+url.QueryEscape(a.ID)+"&wait=5", nil, &failed); code != http.StatusGone || failed.Name != "flow_failed" {
			t.Fatalf("status with a forgotten registration: HTTP %d %+v, want 410 flow_failed", code, failed)
		}
		if srv.Registrations() != 2 {
			t.Fatalf("%d registrations after invalid_client, want a second one", srv.Registrations())
		}
		a, callback = start(key, "bob")
		done := finish(key, a, callback)
		if done.Status != "completed" || callMCP(done.Token()) != http.StatusOK {
			t.Fatalf("status after registering again = %+v, want completed", done)
		}
	})
	if !strings.Contains(logs, "registered again") {
		t.Errorf("the engine did not say it registered again:\n%s", logs)
	}
	if strings.Contains(logs, "mcp-secret-1") {
		t.Error("the registration's client secret reached the log")
	}
	before := srv.Registrations()
	if code, out, errOut := runCmd(t, "check", "-c", cfg); code != 0 || !strings.Contains(out, "provider files") {
		t.Fatalf("check: exit %d\n%s%s", code, out, errOut)
	}
	if srv.Registrations() != before {
		t.Error("check registered a client")
	}
	if v := srv.Violations(); len(v) > 0 {
		t.Fatalf("violations: %v", v)
	}
}
