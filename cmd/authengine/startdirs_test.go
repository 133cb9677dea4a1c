package main

import (
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeFailsBeforeMakingAnyKeyOrFile: an address in use (the main
// port, api.admin_listen) and a directory that cannot be created (data_dir,
// the embedded store's) make serve exit 1 with one line naming the
// setting, and leave no keys file and no data file behind.
func TestServeFailsBeforeMakingAnyKeyOrFile(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port

	// yaml gets the case's directory as %[1]s, a free port as %[2]d and
	// the busy port as %[3]d.
	cases := []struct{ name, yaml, want string }{
		{"port in use", `
data_dir: %[1]s/data
api: {development: true, host: 127.0.0.1, port: %[3]d}
store: {type: embedded, embedded: {path: %[1]s/data/authengine.db}}`, fmt.Sprintf("listen on 127.0.0.1:%d", busyPort)},
		{"admin_listen in use", `
data_dir: %[1]s/data
api: {development: true, host: 127.0.0.1, port: %[2]d, admin_listen: "127.0.0.1:%[3]d"}
store: {type: embedded, embedded: {path: %[1]s/data/authengine.db}}`, "api.admin_listen: listen on"},
		{"data_dir under a file", `
data_dir: %[1]s/afile/data
api: {development: true, host: 127.0.0.1, port: %[2]d}
store: {type: embedded, embedded: {path: %[1]s/db/authengine.db}}`, "data_dir: directory "},
		{"store directory under a file", `
data_dir: %[1]s/data
api: {development: true, host: 127.0.0.1, port: %[2]d}
store: {type: embedded, embedded: {path: %[1]s/afile/authengine.db}}`, "store.embedded.path: directory "},
	}
	if os.Geteuid() != 0 { // root writes into a read-only directory all the same
		cases = append(cases, struct{ name, yaml, want string }{"data_dir under a read-only directory", `
data_dir: %[1]s/ro/data
api: {development: true, host: 127.0.0.1, port: %[2]d}
store: {type: embedded, embedded: {path: %[1]s/ro/data/authengine.db}}`, "data_dir: directory "})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "afile"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(filepath.Join(dir, "ro"), 0o500); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(filepath.Join(dir, "ro"), 0o700) })
			cfg := filepath.Join(dir, "engine.yaml")
			body := fmt.Sprintf(tc.yaml, dir, freePort(t), busyPort) + "\ntelemetry: {log: {format: text}}\n"
			if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out, errOut := runCmd(t, "serve", "-c", cfg)
			if code != 1 {
				t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
			}
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
				t.Errorf("stderr = %q, want one line containing %q", errOut, tc.want)
			}
			if strings.Contains(out+errOut, "ae_dev_") || strings.Contains(out+errOut, "keys generated") {
				t.Errorf("keys were generated:\n%s%s", out, errOut)
			}
			filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() && path != cfg && filepath.Base(path) != "afile" {
					t.Errorf("serve left %s behind", path)
				}
				return nil
			})
		})
	}
}
