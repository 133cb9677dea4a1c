package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/internal/providertest"
)

// TestParkedWait: a held status wait on an HTTP/1.1 connection is held
// off its request's goroutine (the connection taken over); its answer is
// the one the handler would have written, with the request id and
// Connection: close, and the request is logged once, with its status, when
// it is answered. A client that goes away ends its wait; a draining engine
// answers it pending.
func TestParkedWait(t *testing.T) {
	var idp *providertest.Provider
	h := newHarness(t, harnessOptions{providers: func(h *harness, redirect string) []config.Provider {
		idp = providertest.New(t, providertest.Options{RedirectURI: redirect, RequirePKCE: true, ClientAuth: providertest.ClientSecretBasic})
		return []config.Provider{idp.Config("hooli")}
	}})
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	type answer struct {
		resp *http.Response
		body []byte
		err  error
	}
	hold := func(ctx context.Context, id, requestID string, wait int) <-chan answer {
		out := make(chan answer, 1)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.srv.URL+"/v1/auth/status?id="+url.QueryEscape(id)+"&wait="+strconv.Itoa(wait), nil)
		req.Header.Set("Authorization", "Bearer "+apiKey)
		req.Header.Set("X-Request-Id", requestID)
		go func() {
			resp, err := client.Do(req)
			if err != nil {
				out <- answer{err: err}
				return
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			out <- answer{resp: resp, body: body, err: err}
		}()
		return out
	}
	// logged waits until the access log has a line for requestID and
	// returns its status.
	logged := func(requestID string) int {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			for line := range strings.SplitSeq(h.logs.String(), "\n") {
				var rec struct {
					Msg       string `json:"msg"`
					Route     string `json:"route"`
					Status    int    `json:"status"`
					RequestID string `json:"request_id"`
				}
				if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "http request" && rec.RequestID == requestID {
					if rec.Route != "/v1/auth/status" {
						t.Errorf("access log route %q, want /v1/auth/status", rec.Route)
					}
					return rec.Status
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("no access log line for request %s", requestID)
		return 0
	}
	countLogged := func(requestID string) int {
		return strings.Count(h.logs.String(), `"request_id":"`+requestID+`"`)
	}

	t.Run("answered as the handler answers, logged once when answered", func(t *testing.T) {
		start := h.authorize("ada", "hooli")
		got := hold(t.Context(), start.ID, "parked-1", 30)
		time.Sleep(200 * time.Millisecond)
		if n := countLogged("parked-1"); n != 0 {
			t.Fatalf("the held request was logged %d times before its answer", n)
		}
		cb, err := idp.Consent(t.Context(), start.URL)
		if err != nil {
			t.Fatal(err)
		}
		h.browse(cb)
		var a answer
		select {
		case a = <-got:
		case <-time.After(10 * time.Second):
			t.Fatal("the held wait was not answered after the callback")
		}
		if a.err != nil {
			t.Fatal(a.err)
		}
		if a.resp.StatusCode != 200 || a.resp.Header.Get("Content-Type") != "application/json" ||
			a.resp.Header.Get("X-Request-Id") != "parked-1" || !a.resp.Close {
			t.Errorf("answer: HTTP %d, headers %v (close %v), want 200 application/json, the request id and Connection: close",
				a.resp.StatusCode, a.resp.Header, a.resp.Close)
		}
		var out authResp
		if err := json.Unmarshal(a.body, &out); err != nil || out.Status != "completed" || !idp.ValidAccessToken(out.Token()) {
			t.Errorf("answer body %s (%v), want completed with the issued token", a.body, err)
		}
		if status := logged("parked-1"); status != 200 {
			t.Errorf("access log status %d, want 200", status)
		}
		if n := countLogged("parked-1"); n != 1 {
			t.Errorf("the request was logged %d times, want once", n)
		}
	})

	t.Run("a wait that times out answers pending", func(t *testing.T) {
		start := h.authorize("bo", "hooli")
		a := <-hold(t.Context(), start.ID, "parked-2", 1)
		if a.err != nil {
			t.Fatal(a.err)
		}
		var out authResp
		if err := json.Unmarshal(a.body, &out); err != nil || a.resp.StatusCode != 200 || out.Status != "pending" || out.URL == "" {
			t.Errorf("answer HTTP %d %s, want 200 pending with the url", a.resp.StatusCode, a.body)
		}
	})

	t.Run("a client that goes away ends its wait", func(t *testing.T) {
		start := h.authorize("cy", "hooli")
		ctx, cancel := context.WithCancel(t.Context())
		got := hold(ctx, start.ID, "parked-3", 50)
		time.Sleep(200 * time.Millisecond)
		cancel()
		if a := <-got; a.err == nil {
			t.Fatalf("the cancelled request got an answer: HTTP %d", a.resp.StatusCode)
		}
		// The wait ends (logged as the client's closing) long before its 50 s.
		if status := logged("parked-3"); status != 499 {
			t.Errorf("access log status %d, want 499 (client closed request)", status)
		}
	})

	t.Run("held waits keep no goroutine of the engine's", func(t *testing.T) {
		// Each held wait keeps one goroutine, its connection's reader;
		// the wait itself is callbacks on the store's signal, its timer
		// and the drain, with no goroutine blocked on them.
		const n = 60
		start := h.authorize("ed", "hooli")
		answers := make([]<-chan answer, n)
		for i := range answers {
			answers[i] = hold(t.Context(), start.ID, "parked-many-"+strconv.Itoa(i), 30)
		}
		count := func(frame string) int {
			buf := make([]byte, 8<<20)
			return strings.Count(string(buf[:runtime.Stack(buf, true)]), frame)
		}
		deadline := time.Now().Add(10 * time.Second)
		for count("httpapi.(*parked).watch") < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d waits parked within 10s", count("httpapi.(*parked).watch"), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if held := count("engine.(*Wait)"); held != 0 {
			t.Errorf("%d goroutines are inside a held wait, want none", held)
		}
		cb, err := idp.Consent(t.Context(), start.URL)
		if err != nil {
			t.Fatal(err)
		}
		h.browse(cb)
		for i, got := range answers {
			select {
			case a := <-got:
				var out authResp
				if a.err != nil || json.Unmarshal(a.body, &out) != nil || out.Status != "completed" {
					t.Fatalf("wait %d: %v %s, want completed", i, a.err, a.body)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("wait %d was not answered after the callback", i)
			}
		}
	})

	t.Run("a draining engine answers pending", func(t *testing.T) {
		start := h.authorize("di", "hooli")
		got := hold(t.Context(), start.ID, "parked-4", 50)
		time.Sleep(200 * time.Millisecond)
		began := time.Now()
		h.engine.Drain()
		select {
		case a := <-got:
			var out authResp
			if a.err != nil || json.Unmarshal(a.body, &out) != nil || a.resp.StatusCode != 200 || out.Status != "pending" {
				t.Errorf("answer at drain: %v %s, want 200 pending", a.err, a.body)
			}
			if d := time.Since(began); d > 2*time.Second {
				t.Errorf("answered %s after Drain", d)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the held wait was not answered at Drain")
		}
	})
}
