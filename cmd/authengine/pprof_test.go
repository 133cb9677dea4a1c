package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPprof: the runtime profiles are not served unless telemetry.pprof
// is on; when on, only an admin key gets them (no key, an app's API key
// or a wrong key is 401), and with api.admin_listen they are on the admin
// listener only.
func TestPprof(t *testing.T) {
	type probe struct {
		name   string
		admin  bool // on the admin listener (else the main one)
		path   string
		key    string // "admin", "api", "wrong" or "" (none)
		want   int
		inBody string
	}
	cases := []struct {
		name      string
		telemetry string
		adminPort bool
		probes    []probe
	}{
		{"off by default", "", false, []probe{
			{"the index is not served, even to an admin key", false, "/debug/pprof/", "admin", 404, ""},
			{"the heap profile is not served", false, "/debug/pprof/heap", "admin", 404, ""},
			{"nor without a key", false, "/debug/pprof/heap", "", 404, ""},
		}},
		{"on, on the main listener", "telemetry: {pprof: true}", false, []probe{
			{"no key is refused", false, "/debug/pprof/heap", "", 401, ""},
			{"an app's API key is refused", false, "/debug/pprof/heap", "api", 401, ""},
			{"a wrong key is refused", false, "/debug/pprof/goroutine", "wrong", 401, ""},
			{"the command line needs the admin key too", false, "/debug/pprof/cmdline", "", 401, ""},
			{"the admin key gets the index", false, "/debug/pprof/", "admin", 200, "goroutine"},
			{"the admin key gets a goroutine dump", false, "/debug/pprof/goroutine?debug=1", "admin", 200, "goroutine profile:"},
			{"the admin key gets the heap profile", false, "/debug/pprof/heap?debug=1", "admin", 200, "heap profile:"},
		}},
		{"on, with an admin listener", "telemetry: {pprof: true}", true, []probe{
			{"the admin listener serves the admin key", true, "/debug/pprof/heap?debug=1", "admin", 200, "heap profile:"},
			{"the admin listener refuses no key", true, "/debug/pprof/heap", "", 401, ""},
			{"the main listener does not serve them", false, "/debug/pprof/heap", "admin", 404, ""},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			port := freePort(t)
			adminListen := ""
			adminBase := ""
			if tc.adminPort {
				p := freePort(t)
				adminListen = fmt.Sprintf(", admin_listen: \"127.0.0.1:%d\"", p)
				adminBase = fmt.Sprintf("http://127.0.0.1:%d", p)
			}
			cfg := filepath.Join(dir, "engine.yaml")
			data := filepath.Join(dir, "data")
			if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`
data_dir: %s
api: {development: true, port: %d, public_url: "http://localhost:%d"%s}
store: {type: embedded}
%s
`, data, port, port, adminListen, tc.telemetry)), 0o600); err != nil {
				t.Fatal(err)
			}
			main := fmt.Sprintf("http://127.0.0.1:%d", port)
			errOut := serveInTest(t, main, "serve", "-c", cfg)
			if tc.adminPort {
				waitHealthy(t, adminBase, errOut)
			}
			raw, err := os.ReadFile(filepath.Join(data, "dev-keys.json"))
			if err != nil {
				t.Fatal(err)
			}
			var keys devKeys
			if err := json.Unmarshal(raw, &keys); err != nil || keys.AdminKey == "" || keys.APIKey == "" {
				t.Fatalf("development keys: %v %s", err, raw)
			}
			for _, p := range tc.probes {
				base := main
				if p.admin {
					base = adminBase
				}
				req, _ := http.NewRequest(http.MethodGet, base+p.path, nil)
				switch p.key {
				case "admin":
					req.Header.Set("Authorization", "Bearer "+keys.AdminKey)
				case "api":
					req.Header.Set("Authorization", "Bearer "+keys.APIKey)
				case "wrong":
					req.Header.Set("Authorization", "Bearer ae_admin_not-the-key")
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != p.want || !strings.Contains(string(body), p.inBody) {
					t.Errorf("%s: GET %s: HTTP %d %.200q, want %d with %q", p.name, p.path, resp.StatusCode, body, p.want, p.inBody)
				}
				if p.want == 401 && strings.Contains(string(body), "profile") {
					t.Errorf("%s: a refused request got profile data: %.200q", p.name, body)
				}
			}
		})
	}
}
