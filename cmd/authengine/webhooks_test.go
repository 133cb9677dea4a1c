package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// testWebhookAfterKill: an event written with its state change is
// delivered after the engine is killed (-9) before it could deliver it,
// exactly once, signed as the Standard Webhooks library verifies. The
// receiver is down while the first engine runs (its attempts fail), the
// engine is killed, the receiver comes up and a new engine delivers.
func testWebhookAfterKill(t *testing.T, bin string) {
	r := newCrashRig(t, bin, "embedded")
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("crash-webhook-secret-0123456789ab"))
	port := freePort(t)
	hookURL := fmt.Sprintf("http://127.0.0.1:%d/hooks", port)
	raw, err := os.ReadFile(r.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(raw), "security: {root_keys:", "security: {allow_private_endpoints: true, root_keys:", 1)
	cfg += fmt.Sprintf("webhooks:\n  - url: %s\n    secret: %s\n    events: [connection.created]\n", hookURL, secret)
	if err := os.WriteFile(r.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	r.start()
	defer r.kill()
	a := r.authorize("webhook-user")
	if a.Status != "pending" || !r.connect(a) {
		t.Fatalf("authorization did not complete: %+v\n%s", a, r.logTail())
	}
	// The receiver is down: wait until the engine has tried once.
	var id string
	deadline := time.Now().Add(15 * time.Second)
	for id == "" {
		var list struct {
			Items []struct {
				ID       string `json:"id"`
				Type     string `json:"type"`
				Attempts int    `json:"attempts"`
			} `json:"items"`
		}
		if code := r.admin("GET", "/v1/admin/webhook_events?status=pending", &list); code != 200 {
			t.Fatalf("list webhook events: %d\n%s", code, r.logTail())
		}
		if len(list.Items) == 1 && list.Items[0].Type == "connection.created" && list.Items[0].Attempts >= 1 {
			id = list.Items[0].ID
		}
		if time.Now().After(deadline) {
			t.Fatalf("no failed attempt recorded: %+v\n%s", list, r.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.kill()

	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string]int{}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if err := wh.Verify(body, req.Header); err != nil {
			t.Errorf("the Standard Webhooks library refused the delivery: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var p struct {
			Type string `json:"type"`
			Data struct {
				UserID string `json:"user_id"`
				Status string `json:"status"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &p); err != nil || p.Type != "connection.created" || p.Data.UserID != "webhook-user" || p.Data.Status != "connected" {
			t.Errorf("payload %s", body)
		}
		mu.Lock()
		got[req.Header.Get("webhook-id")]++
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	r.start()
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return got[id]
	}
	deadline = time.Now().Add(20 * time.Second)
	for count() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("event %s not delivered after the restart\n%s", id, r.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(2500 * time.Millisecond) // two more polls: nothing is sent again
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[id] != 1 {
		t.Errorf("receiver got %v, want event %s exactly once", got, id)
	}
	var left struct {
		TotalCount int `json:"total_count"`
	}
	if code := r.admin("GET", "/v1/admin/webhook_events", &left); code != 200 || left.TotalCount != 0 {
		t.Errorf("outbox after delivery: %d events (HTTP %d), want none", left.TotalCount, code)
	}
}

// admin sends one admin API request and decodes the answer into out.
func (r *crashRig) admin(method, path string, out any) int {
	return r.callWith("crash-admin-key-0123456789", method, path, nil, out)
}

func TestWebhookClientRefusesPrivateAddressesUnlessAllowed(t *testing.T) {
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer rcv.Close()
	for _, allow := range []bool{false, true} {
		c := webhookClient(allow)
		resp, err := c.Post(rcv.URL, "application/json", strings.NewReader("{}"))
		if err == nil {
			resp.Body.Close()
		}
		if allow && (err != nil || resp.StatusCode != http.StatusNoContent) {
			t.Errorf("allow_private_endpoints: true: a loopback receiver is refused: %v", err)
		}
		if !allow && (err == nil || !strings.Contains(err.Error(), "loopback")) {
			t.Errorf("allow_private_endpoints: false: a loopback receiver is reached (err %v)", err)
		}
		c.CloseIdleConnections()
	}
}
