package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDevelopmentReloadWithoutKeysFileIsRefused: in development mode a
// SIGHUP reload with the keys file gone is refused (new API and admin keys
// would not go with the root key the engine keeps sealing with): no keys
// file is written, and the running API key still works.
func TestDevelopmentReloadWithoutKeysFileIsRefused(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	dataDir := filepath.Join(dir, "data")
	cfg := filepath.Join(dir, "engine.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("data_dir: %s\napi: {development: true, host: 127.0.0.1, port: %d}\nstore: {type: embedded}\n", dataDir, port)), 0o600)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	errOut := serveInTest(t, base, "serve", "-c", cfg)
	key := devAPIKey(t, dataDir)
	keysFile := filepath.Join(dataDir, "dev-keys.json")
	if err := os.Remove(keysFile); err != nil {
		t.Fatal(err)
	}
	before := len(errOut.String())
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(errOut.String()[before:], "configuration reload refused"); {
		if time.Now().After(deadline) {
			t.Fatalf("no refused reload logged:\n%s", errOut.String()[before:])
		}
		time.Sleep(20 * time.Millisecond)
	}
	if log := errOut.String()[before:]; !strings.Contains(log, "development keys file") {
		t.Errorf("the refusal does not say why:\n%s", log)
	}
	if _, err := os.Stat(keysFile); !os.IsNotExist(err) {
		t.Errorf("the reload wrote a keys file (stat: %v)", err)
	}
	req, _ := http.NewRequest("GET", base+"/v1/auth/connections?user_id=ada", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		t.Error("the running API key was replaced by the refused reload")
	}
}
