package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/internal/providertest"
)

// testSIGHUPReload changes a real engine process's configuration and
// sends SIGHUP: a provider added takes effect (a full authorization at
// it completes), the API keys are replaced (the old one is refused), and
// the log level drops the access log. A broken configuration sent next is
// refused with a logged error naming the field, and the engine keeps
// serving the running configuration.
func testSIGHUPReload(t *testing.T, bin string) {
	r := newCrashRig(t, bin, "embedded")
	r.start()
	defer r.kill()
	const newKey = "reloaded-api-key-0123456789"
	authorizeAcme := func(key string) (int, crashAuth) {
		t.Helper()
		var out crashAuth
		body := map[string]any{"user_id": "ada", "auth_requirement": map[string]any{"provider_id": "acme", "oauth2": map[string]any{"scopes": []string{"read"}}}}
		code := callWithKey(t, r.base, key, "POST", "/v1/auth/authorize", body, &out)
		return code, out
	}
	if code, _ := authorizeAcme(crashAPIKey); code != http.StatusNotFound {
		t.Fatalf("authorize at acme before the reload: HTTP %d, want 404 unknown_provider", code)
	}

	acme := providertest.New(t, providertest.Options{RedirectURI: r.base + "/oauth/callback", ClientAuth: providertest.ClientSecretBasic,
		RequirePKCE: true, AccessTokenTTL: time.Hour})
	raw, err := os.ReadFile(r.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	running := string(raw)
	next := strings.Replace(running, "api_keys: ["+crashAPIKey+"]", "api_keys: ["+newKey+"]", 1)
	next = strings.Replace(next, "level: info", "level: warn", 1)
	next += "    - " + providerYAML(t, acme.Config("acme")) + "\n"
	if next == running || !strings.Contains(next, newKey) || !strings.Contains(next, "level: warn") {
		t.Fatal("the test could not edit the configuration")
	}
	if err := os.WriteFile(r.cfgPath, []byte(next), 0o600); err != nil {
		t.Fatal(err)
	}
	r.hangUp("configuration reloaded")

	code, start := authorizeAcme(newKey)
	if code != 200 || start.Status != "pending" || !strings.HasPrefix(start.URL, acme.AuthorizeEndpoint()) {
		t.Fatalf("authorize at acme after the reload: HTTP %d %+v, want pending at acme", code, start)
	}
	cb, err := acme.Consent(context.Background(), start.URL)
	if err != nil {
		t.Fatal(err)
	}
	noRedirect := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(cb)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var done crashAuth
	if code := callWithKey(t, r.base, newKey, "GET", "/v1/auth/status?id="+url.QueryEscape(start.ID)+"&wait=5", nil, &done); code != 200 || done.Status != "completed" {
		t.Fatalf("status after the callback at acme: HTTP %d %+v, want completed\n%s", code, done, r.logTail())
	}
	if code, _ := authorizeAcme(crashAPIKey); code != http.StatusUnauthorized {
		t.Errorf("the replaced API key: HTTP %d, want 401", code)
	}
	if strings.Contains(r.logsSince("configuration reloaded"), `"msg":"http request"`) {
		t.Errorf("access lines (info) logged after the level was raised to warn")
	}

	// A broken configuration: a response_map JSONPath that does not parse.
	broken := next + "    - {id: broken, client_id: x, client_secret: y, oauth2: {authorize_request: {endpoint: \"https://b.example/a\"}, token_request: {endpoint: \"https://b.example/t\", response_map: {access_token: \"$.[\", expires_in: \"$.expires_in\"}}}}\n"
	if err := os.WriteFile(r.cfgPath, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	refused := r.hangUp("configuration reload refused")
	if !strings.Contains(refused, "auth.providers[broken].oauth2.token_request.response_map.access_token") {
		t.Errorf("the refusal does not name the field:\n%s", refused)
	}
	if code, again := authorizeAcme(newKey); code != 200 || again.Status != "completed" {
		t.Errorf("after the refused reload, authorize at acme: HTTP %d %+v, want the running configuration (completed)", code, again)
	}
	if err := r.cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("the engine is gone after the refused reload: %v", err)
	}
}

// hangUp sends SIGHUP, waits for a log line holding msg after it and
// returns the log written since the signal.
func (r *crashRig) hangUp(msg string) string {
	r.t.Helper()
	before := len(r.logs())
	if err := r.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		r.t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(r.logs()[before:], msg) {
		if time.Now().After(deadline) {
			r.t.Fatalf("no %q logged within 15 s of SIGHUP\n%s", msg, r.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return r.logs()[before:]
}

// logsSince is the log from the last line holding msg on.
func (r *crashRig) logsSince(msg string) string {
	l := r.logs()
	i := strings.LastIndex(l, msg)
	if i < 0 {
		return ""
	}
	return l[strings.LastIndex(l[:i], "\n")+1:]
}

// callWithKey sends one API request with key and decodes the answer.
func callWithKey(t *testing.T, base, key, method, path string, body, out any) int {
	t.Helper()
	var rd *strings.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = strings.NewReader(string(raw))
	} else {
		rd = strings.NewReader("")
	}
	req, _ := http.NewRequest(method, base+path, rd)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := crashClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// TestRestartOnlySettings: a reload applies providers, API and admin keys
// and the log level, and names every other changed setting by its path.
func TestRestartOnlySettings(t *testing.T) {
	base := func() *config.Config {
		return &config.Config{DataDir: "data", API: config.API{Port: 9099, APIKeys: []string{"a"}},
			Security:  config.Security{RootKeys: []config.RootKey{{ID: "k1", Value: "v"}}},
			Telemetry: config.Telemetry{Log: config.Log{Level: "info", Format: "json"}}}
	}
	cases := []struct {
		name   string
		change func(c *config.Config)
		want   []string
	}{
		{"nothing changed", func(*config.Config) {}, nil},
		{"providers, keys and the log level are applied", func(c *config.Config) {
			c.Auth.Providers = []config.Provider{{ID: "acme"}}
			c.API.APIKeys, c.API.AdminKeys = []string{"b"}, []string{"c"}
			c.Telemetry.Log.Level = "debug"
		}, nil},
		{"the port, the log format and a root key need a restart", func(c *config.Config) {
			c.API.Port = 9100
			c.Telemetry.Log.Format = "text"
			c.Security.RootKeys = append(c.Security.RootKeys, config.RootKey{ID: "k2", Value: "w"})
		}, []string{"api.port", "security.root_keys", "telemetry.log.format"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			next := base()
			tc.change(next)
			if got := restartOnly(base(), next); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("restartOnly = %v, want %v", got, tc.want)
			}
		})
	}
}
