package main

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"regexp"
	"strings"
	"testing"
)

// TestHelpPerCommand checks that --help, -h and `help <command>` print
// the command's flags, each once, on stdout, and exit 0.
func TestHelpPerCommand(t *testing.T) {
	for _, c := range commands {
		for _, form := range [][]string{
			append(strings.Fields(c.name), "--help"),
			append(strings.Fields(c.name), "-h"),
			append([]string{"help"}, strings.Fields(c.name)...),
		} {
			t.Run(strings.Join(form, " "), func(t *testing.T) {
				code, out, errOut := runCmd(t, form...)
				if code != 0 || errOut != "" {
					t.Fatalf("exit %d, stderr %q; want 0 and nothing on stderr", code, errOut)
				}
				if !strings.HasPrefix(out, "usage: authengine "+c.name) {
					t.Errorf("help does not start with the command's usage line:\n%s", out)
				}
				seen := map[string]int{}
				for _, m := range regexp.MustCompile(`(?m)^\s+(?:-\w, )?--([\w-]+)`).FindAllStringSubmatch(out, -1) {
					seen[m[1]]++
				}
				for name, n := range seen {
					if n != 1 {
						t.Errorf("flag --%s listed %d times:\n%s", name, n, out)
					}
				}
				if regexp.MustCompile(`(?m)^\s+-\w+ `).MatchString(out) {
					t.Errorf("-c and --config listed as two flags:\n%s", out)
				}
			})
		}
	}
	code, out, _ := runCmd(t, "--help")
	if code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	for _, c := range commands {
		if !strings.Contains(out, "  "+c.name+" ") {
			t.Errorf("overview does not list %q:\n%s", c.name, out)
		}
	}
}

// TestUsageErrors checks that a bad command line exits 2 naming what was
// wrong.
func TestUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{nil, "usage: authengine"},
		{[]string{"serv"}, `unknown command "serv"`},
		{[]string{"store"}, `want "store check|compact"`},
		{[]string{"check", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"check", "extra"}, `unexpected argument "extra"`},
		{[]string{"version", "-c", "x"}, "unknown shorthand flag: 'c'"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, _, errOut := runCmd(t, tc.args...)
			if code != 2 || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and %q", code, errOut, tc.want)
			}
		})
	}
}

// TestConfigFlagAndEnv checks --config, -c and AUTHENGINE_CONFIG name the
// same file, the flag winning, and that a missing file says "not found".
func TestConfigFlagAndEnv(t *testing.T) {
	good := filepath.Join(repoRoot(t), "engine.yaml")
	dir := t.TempDir()
	t.Chdir(dir)
	missing := filepath.Join(dir, "nope.yaml")

	for _, args := range [][]string{{"check", "-c", good}, {"check", "--config", good}, {"check", "--config=" + good}} {
		if code, out, errOut := runCmd(t, args...); code != 0 || !strings.Contains(out, "ok (") {
			t.Errorf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	code, _, errOut := runCmd(t, "check")
	if code != 1 || !strings.Contains(errOut, "engine.yaml not found") || strings.Contains(errOut, "invalid configuration") {
		t.Errorf("check without engine.yaml: exit %d, want 1 and \"not found\":\n%s", code, errOut)
	}
	t.Setenv("AUTHENGINE_CONFIG", good)
	if code, out, errOut := runCmd(t, "check"); code != 0 || !strings.Contains(out, good+": ok") {
		t.Errorf("AUTHENGINE_CONFIG=%s: exit %d\n%s%s", good, code, out, errOut)
	}
	if code, _, errOut := runCmd(t, "check", "-c", missing); code != 1 || !strings.Contains(errOut, missing+" not found") {
		t.Errorf("-c wins over AUTHENGINE_CONFIG: exit %d\n%s", code, errOut)
	}
	t.Setenv("AUTHENGINE_ALLOW_MISSING_KEYS", "maybe")
	if code, _, errOut := runCmd(t, "serve"); code != 2 || !strings.Contains(errOut, "AUTHENGINE_ALLOW_MISSING_KEYS") {
		t.Errorf("a bad flag variable: exit %d, want 2 naming it:\n%s", code, errOut)
	}
}

// TestVersion checks that version names the module version and a commit,
// not "dev", and that -ldflags values win.
func TestVersion(t *testing.T) {
	code, out, _ := runCmd(t, "version")
	if code != 0 || !regexp.MustCompile(`^authengine \S+ commit \S+.* go1\.`).MatchString(out) {
		t.Errorf("version: exit %d %q", code, out)
	}
	defer func(v, c string) { version, commit = v, c }(version, commit)
	version, commit = "v1.2.3", "0123abcd"
	if _, out, _ := runCmd(t, "--version"); !strings.HasPrefix(out, "authengine v1.2.3 commit 0123abcd ") {
		t.Errorf("--version with -ldflags values: %q", out)
	}
}

// TestBuildInfoMetric checks authengine_build_info carries the version
// and commit version prints, with the value 1.
func TestBuildInfoMetric(t *testing.T) {
	defer func(v, c string) { version, commit = v, c }(version, commit)
	version, commit = "v1.2.3", "0123abcd"
	reg := prometheus.NewRegistry()
	reg.MustRegister(buildInfoCollector())
	families, err := reg.Gather()
	if err != nil || len(families) != 1 || families[0].GetName() != "authengine_build_info" {
		t.Fatalf("gather: %v %v", families, err)
	}
	m := families[0].GetMetric()[0]
	labels := map[string]string{}
	for _, l := range m.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	if m.GetGauge().GetValue() != 1 || labels["version"] != "v1.2.3" || labels["commit"] != "0123abcd" || !strings.HasPrefix(labels["goversion"], "go1.") {
		t.Errorf("authengine_build_info = %v %v", m.GetGauge().GetValue(), labels)
	}
}

// TestHealthcheck checks healthcheck exits 0 only on a 200 answer.
func TestHealthcheck(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/health/ready" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	url := srv.URL + "/v1/health/ready"
	if code, out, errOut := runCmd(t, "healthcheck", "--url", url); code != 0 || !strings.Contains(out, "ok") {
		t.Errorf("ready engine: exit %d\n%s%s", code, out, errOut)
	}
	status = http.StatusServiceUnavailable
	if code, _, errOut := runCmd(t, "healthcheck", "--url", url); code != 1 || !strings.Contains(errOut, "HTTP 503") {
		t.Errorf("unready engine: exit %d, want 1 naming HTTP 503:\n%s", code, errOut)
	}
	srv.Close()
	t.Setenv("AUTHENGINE_URL", url)
	if code, _, errOut := runCmd(t, "healthcheck"); code != 1 || !strings.Contains(errOut, url) {
		t.Errorf("no engine (URL from AUTHENGINE_URL): exit %d, want 1 naming the URL:\n%s", code, errOut)
	}
}
