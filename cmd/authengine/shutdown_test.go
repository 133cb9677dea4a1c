package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testSIGTERMDrains stops a real engine process with SIGTERM while a
// status wait is held and a refresh (rotating the refresh token) is at the
// provider: the held wait is answered pending (not reset), the refresh's
// caller gets its token, the process exits 0 within api.shutdown_timeout,
// and the rotated refresh token was stored (after a restart the next
// refresh presents it, and the provider sees no reuse).
func testSIGTERMDrains(t *testing.T, bin string) {
	r := newCrashRig(t, bin, "embedded")
	raw, err := os.ReadFile(r.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(raw), "api: {development: false,", "api: {shutdown_timeout: 20s, development: false,", 1)
	if err := os.WriteFile(r.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	r.start()
	if !r.connect(r.authorize("ada")) {
		t.Fatalf("connect ada\n%s", r.logTail())
	}
	pending := r.authorize("bob")
	if pending.Status != "pending" {
		t.Fatalf("authorize bob: %+v, want pending", pending)
	}

	type answer struct {
		code   int
		status string
		err    error
	}
	longClient := &http.Client{Timeout: 60 * time.Second}
	get := func(path string, body any) answer {
		method, rd := "GET", strings.NewReader("")
		if body != nil {
			b, _ := json.Marshal(body)
			method, rd = "POST", strings.NewReader(string(b))
		}
		req, _ := http.NewRequest(method, r.base+path, rd)
		req.Header.Set("Authorization", "Bearer "+crashAPIKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := longClient.Do(req)
		if err != nil {
			return answer{err: err}
		}
		defer resp.Body.Close()
		var out crashAuth
		err = json.NewDecoder(resp.Body).Decode(&out)
		return answer{code: resp.StatusCode, status: out.Status, err: err}
	}
	held := make(chan answer, 1)
	go func() { held <- get("/v1/auth/status?id="+url.QueryEscape(pending.ID)+"&wait=50", nil) }()

	time.Sleep(1500 * time.Millisecond) // ada's one-second token is stale now
	r.idp.SetDelay(2 * time.Second)
	refreshed := make(chan answer, 1)
	body := map[string]any{"user_id": "ada", "auth_requirement": map[string]any{"provider_id": "hooli", "oauth2": map[string]any{"scopes": []string{"read"}}}}
	go func() { refreshed <- get("/v1/auth/authorize", body) }()
	time.Sleep(500 * time.Millisecond) // the refresh is at the provider

	exited := make(chan error, 1)
	proc := r.cmd.Process
	go func() {
		// start reaps the process in the background; poll for its end.
		for proc.Signal(syscall.Signal(0)) == nil {
			time.Sleep(20 * time.Millisecond)
		}
		exited <- nil
	}()
	sent := time.Now()
	if err := proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if a := <-held; a.err != nil || a.code != 200 || a.status != "pending" {
		t.Errorf("held wait at SIGTERM: HTTP %d %q %v, want 200 pending", a.code, a.status, a.err)
	}
	if a := <-refreshed; a.err != nil || a.code != 200 || a.status != "completed" {
		t.Errorf("refresh in flight at SIGTERM: HTTP %d %q %v, want 200 completed", a.code, a.status, a.err)
	}
	select {
	case <-exited:
	case <-time.After(25 * time.Second):
		t.Fatalf("the engine did not exit within its 20s shutdown timeout\n%s", r.logTail())
	}
	if d := time.Since(sent); d > 15*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	if !strings.Contains(r.logs(), `"msg":"stopped"`) {
		t.Errorf("the engine did not finish its shutdown\n%s", r.logTail())
	}
	r.cmd = nil
	if c := r.idp.Counts(); c.Refreshes != 1 {
		t.Fatalf("provider saw %d refreshes before the restart, want 1", c.Refreshes)
	}

	r.idp.SetDelay(0)
	r.start()
	defer r.kill()
	if a := r.authorize("ada"); a.Status != "completed" {
		t.Fatalf("ada after the restart: %+v, want completed\n%s", a, r.logTail())
	}
	if c := r.idp.Counts(); c.Replays != 0 {
		t.Fatalf("the provider saw %d reused refresh tokens: the rotated one was not stored before exit", c.Replays)
	}
}
