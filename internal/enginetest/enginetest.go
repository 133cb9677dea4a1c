// Package enginetest holds the pieces every engine test drives the HTTP API
// with: a shared fake clock, a goroutine-safe log sink, an API client that
// checks every answer is JSON, a browser that stops at redirects, the
// AuthorizationResponse as Arcade's clients decode it, and fixtures for a
// bolt store in a temporary directory and a one-key sealer. Harnesses in
// engine/httpapi, engine/tools and engine/cluster build on it; it holds no
// engine wiring of its own, so each harness stays explicit about what it
// runs.
package enginetest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authengine/authengine/internal/clock"
)

// Clock is real time plus an offset that tests advance. Give its Now to the
// engine, the store and the stand-in provider so they agree on expiry, and
// the Clock itself to the engine (Options.Clock), whose pauses and lease
// renewals then fire when Advance passes them as well as in real time. It
// implements clock.Clock.
type Clock struct {
	offset atomic.Int64
	mu     sync.Mutex
	timers map[*clockTimer]struct{}
}

// Now is the current time plus the offset.
func (c *Clock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// Advance moves the clock forward by d, firing the timers it passes.
func (c *Clock) Advance(d time.Duration) {
	c.offset.Add(int64(d))
	now := c.Now()
	c.mu.Lock()
	var due []*clockTimer
	for t := range c.timers {
		if !now.Before(t.at) {
			due = append(due, t)
		}
	}
	c.mu.Unlock()
	for _, t := range due {
		t.fire()
	}
}

// NewTimer returns a timer that fires once d has passed on the clock: by
// real time, or earlier when Advance moves past it.
func (c *Clock) NewTimer(d time.Duration) *clock.Timer {
	t := c.start(&clockTimer{ch: make(chan time.Time, 1)}, d)
	return clock.NewTimer(t.ch, t.stop)
}

// AfterFunc calls f on a goroutine of its own once d has passed on the
// clock: by real time, or earlier when Advance moves past it.
func (c *Clock) AfterFunc(d time.Duration, f func()) *clock.Timer {
	t := c.start(&clockTimer{f: f}, d)
	return clock.NewTimer(nil, t.stop)
}

// start registers t to fire once d has passed, by Advance or in real time.
func (c *Clock) start(t *clockTimer, d time.Duration) *clockTimer {
	t.c, t.at = c, c.Now().Add(d)
	c.mu.Lock()
	if c.timers == nil {
		c.timers = map[*clockTimer]struct{}{}
	}
	c.timers[t] = struct{}{}
	c.mu.Unlock()
	t.real = time.AfterFunc(d, t.fire)
	return t
}

// clockTimer is one timer of a Clock: it sends on ch (NewTimer) or calls
// f (AfterFunc).
type clockTimer struct {
	c    *Clock
	at   time.Time
	ch   chan time.Time
	f    func()
	real *time.Timer
	once sync.Once
}

// fire sends the clock's time once and forgets the timer.
func (t *clockTimer) fire() {
	t.once.Do(func() {
		if !t.forget() {
			return // stopped
		}
		if t.f != nil {
			go t.f()
			return
		}
		t.ch <- t.c.Now()
	})
}

// stop forgets the timer; false when it had fired or been stopped.
func (t *clockTimer) stop() bool {
	stopped := t.forget()
	if t.real != nil {
		t.real.Stop()
	}
	return stopped
}

// forget removes the timer from its clock, reporting whether it was there.
func (t *clockTimer) forget() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	_, ok := t.c.timers[t]
	delete(t.c.timers, t)
	return ok
}

// LogSink is a goroutine-safe buffer for a slog handler.
type LogSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (s *LogSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

// String returns everything written so far.
func (s *LogSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// AuthResponse is the AuthorizationResponse as a client decodes it.
type AuthResponse struct {
	ID         string       `json:"id"`
	Status     string       `json:"status"`
	URL        string       `json:"url"`
	Scopes     []string     `json:"scopes"`
	ProviderID string       `json:"provider_id"`
	UserID     string       `json:"user_id"`
	Reason     string       `json:"reason"`
	ReasonName string       `json:"reason_name"`
	Context    *AuthContext `json:"context"`
}

// AuthContext is the context of a completed authorization.
type AuthContext struct {
	Token    string         `json:"token"`
	UserInfo map[string]any `json:"user_info"`
	Metadata map[string]any `json:"metadata"`
}

// Token is the access token of a completed response, or "".
func (a AuthResponse) Token() string {
	if a.Context == nil {
		return ""
	}
	return a.Context.Token
}

// APIError is the JSON error body.
type APIError struct {
	Name          string        `json:"name"`
	Message       string        `json:"message"`
	Authorization *AuthResponse `json:"authorization"`
}

// AuthorizeBody is the body Arcade's client sends to /v1/auth/authorize.
func AuthorizeBody(user, provider string, scopes ...string) map[string]any {
	req := map[string]any{"provider_id": provider, "provider_type": "oauth2"}
	if scopes != nil {
		req["oauth2"] = map[string]any{"scopes": scopes}
	}
	return map[string]any{"user_id": user, "auth_requirement": req}
}

// Call sends a request with "Authorization: Bearer <key>" (none when key
// is "") and returns the status; see Do.
func Call(t testing.TB, client *http.Client, base, key, method, path string, body, out any) int {
	t.Helper()
	auth := ""
	if key != "" {
		auth = "Bearer " + key
	}
	return Do(t, client, base, auth, method, path, body, out).StatusCode
}

// Do sends a request to base+path with the Authorization header given as is
// (Arcade's JS client sends the bare key), body as JSON (a string is sent
// as is), decodes a JSON answer into out, and fails the test if the answer
// is not JSON. The returned response's body is already read and closed.
func Do(t testing.TB, client *http.Client, base, authorization, method, path string, body, out any) *http.Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	req.Header.Set("Content-Type", "application/json")
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s: Content-Type %q, want application/json (body %s)", method, path, ct, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
	return resp
}

// Browse GETs a URL like a browser landing on it, without following
// redirects, and returns the status, the page and the Location header.
func Browse(t testing.TB, target string) (int, string, string) {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(target)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw), resp.Header.Get("Location")
}
