package console_test

import (
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/store/bolt"
	redisstore "github.com/authengine/authengine/engine/store/redis"
	"github.com/authengine/authengine/internal/enginetest"
	"github.com/authengine/authengine/internal/redistest"
)

func TestMain(m *testing.M) { redistest.MainNoLeaks(m) }

// TestFailedSignInsAreRateLimitedPerAddress: a wrong key is refused with
// 401; past the allowed failures the address is answered 429 with
// Retry-After, even with the right key, until its bucket refills.
func TestFailedSignInsAreRateLimitedPerAddress(t *testing.T) {
	h := newHarness(t, harnessOptions{attempts: 3})
	c := h.client()
	for i := range 3 {
		resp, body := h.signIn(c, "ae_admin_wrong")
		if resp.StatusCode != http.StatusUnauthorized || !contains(body, "That admin key is not valid.") || sessionCookieOf(resp) != nil {
			t.Fatalf("wrong key #%d: HTTP %d, want 401 with the error and no session", i+1, resp.StatusCode)
		}
	}
	resp, _ := h.signIn(c, "ae_admin_wrong")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("fourth wrong key: HTTP %d Retry-After %q, want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || secs < 1 || secs > 60 {
		t.Errorf("Retry-After %q, want whole seconds within the minute", resp.Header.Get("Retry-After"))
	}
	resp, _ = h.signIn(c, adminKey)
	if resp.StatusCode != http.StatusTooManyRequests || sessionCookieOf(resp) != nil {
		t.Fatalf("right key while blocked: HTTP %d, want 429 and no session", resp.StatusCode)
	}
	h.clock.Advance(time.Minute)
	if resp, _ := h.signIn(c, adminKey); resp.StatusCode != http.StatusSeeOther || sessionCookieOf(resp) == nil {
		t.Fatalf("right key a minute later: HTTP %d, want a session", resp.StatusCode)
	}
}

// TestSessionCookieFlags: HttpOnly, SameSite=Strict, Path=/console, and
// Secure exactly when public_url is https.
func TestSessionCookieFlags(t *testing.T) {
	for _, tc := range []struct {
		name, public string
		secure       bool
	}{
		{"over http the cookie is not Secure", "", false},
		{"over https the cookie is Secure", "https://auth.example.com", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{publicURL: tc.public})
			resp, _ := h.signIn(h.client(), adminKey)
			ck := sessionCookieOf(resp)
			if ck == nil {
				t.Fatalf("no session cookie: HTTP %d", resp.StatusCode)
			}
			if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/console" || ck.Secure != tc.secure {
				t.Errorf("cookie HttpOnly=%v SameSite=%v Path=%q Secure=%v; want true, Strict, /console, %v", ck.HttpOnly, ck.SameSite, ck.Path, ck.Secure, tc.secure)
			}
		})
	}
}

// TestSessionIdleAndAbsoluteExpiry: use keeps a session alive past its
// idle timeout, never past its maximum age; an idle session ends.
func TestSessionIdleAndAbsoluteExpiry(t *testing.T) {
	h := newHarness(t, harnessOptions{idle: 10 * time.Minute, max: 30 * time.Minute})
	c := h.mustSignIn()
	for i := range 3 { // 24 minutes of use, 8 at a time
		h.clock.Advance(8 * time.Minute)
		if resp, _ := h.get(c, "/console/providers"); resp.StatusCode != http.StatusOK {
			t.Fatalf("after %d minutes of use: HTTP %d, want the page", (i+1)*8, resp.StatusCode)
		}
	}
	h.clock.Advance(8 * time.Minute) // 32 minutes: past the maximum age
	if resp, _ := h.get(c, "/console/providers"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/sign-in" {
		t.Fatalf("past the maximum age: HTTP %d to %q, want the sign-in page", resp.StatusCode, resp.Header.Get("Location"))
	}
	idle := h.mustSignIn()
	h.clock.Advance(11 * time.Minute)
	if resp, _ := h.get(idle, "/console/providers"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after 11 idle minutes: HTTP %d, want the sign-in page", resp.StatusCode)
	}
}

// TestSessionSurvivesRestart: a session is in the store, so an engine
// restarted on the same file keeps it.
func TestSessionSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authengine.db")
	clock := &enginetest.Clock{}
	open := func() store.Store {
		st, err := bolt.Open(path, bolt.Options{Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	first := open()
	h := newHarness(t, harnessOptions{store: first, clock: clock})
	c := h.mustSignIn()
	first.Close()
	second := open()
	t.Cleanup(func() { second.Close() })
	h.start(harnessOptions{store: second, key: &h.key, clock: clock})
	if resp, body := h.get(c, "/console/providers"); resp.StatusCode != http.StatusOK || !contains(body, "OAuth credentials") {
		t.Fatalf("after the restart: HTTP %d, want the page with the same cookie", resp.StatusCode)
	}
}

// TestSessionWorksAcrossInstances: two engines on one Redis; a session
// started on one is good on the other, and signing out on one ends it on
// both.
func TestSessionWorksAcrossInstances(t *testing.T) {
	cfg := redisstore.Config{URL: redistest.URL(t), KeyPrefix: redistest.Prefix(t)}
	clock := &enginetest.Clock{}
	open := func() store.Store {
		st, err := redisstore.Open(cfg, redisstore.Options{Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	a := newHarness(t, harnessOptions{store: open(), clock: clock})
	b := newHarness(t, harnessOptions{store: open(), clock: clock, key: &a.key})
	c := a.mustSignIn()
	// The same cookie, sent to the other instance.
	u, _ := url.Parse(a.srv.URL + "/console")
	ub, _ := url.Parse(b.srv.URL + "/console")
	c.Jar.SetCookies(ub, c.Jar.Cookies(u))
	resp, body := b.get(c, "/console/integrations")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("instance b with a's session: HTTP %d, want the page", resp.StatusCode)
	}
	if resp, _ := b.post(c, "/console/sign-out", url.Values{"csrf": {csrfOf(t, body)}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out on b: HTTP %d", resp.StatusCode)
	}
	c.Jar.SetCookies(u, c.Jar.Cookies(u)) // a's cookie is still in the jar for a's address
	if resp, _ := a.get(c, "/console/integrations"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("instance a after signing out on b: HTTP %d, want the sign-in page", resp.StatusCode)
	}
}

// TestStateChangesNeedTheCSRFToken: a POST without the session's CSRF
// token, or with another one, is refused with 403 and changes nothing;
// the sign-in form needs its own token too.
func TestStateChangesNeedTheCSRFToken(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	ctx := t.Context()
	if _, err := h.engine.CreateProvider(ctx, map[string]any{"id": "keep", "provider_id": "github", "client_id": "id", "client_secret": "secret-0123456789"}); err != nil {
		t.Fatal(err)
	}
	c := h.mustSignIn()
	for name, form := range map[string]url.Values{
		"no token":    {},
		"wrong token": {"csrf": {"not-the-token"}},
	} {
		t.Run(name, func(t *testing.T) {
			if resp, _ := h.post(c, "/console/providers/keep/delete", form); resp.StatusCode != http.StatusForbidden {
				t.Errorf("delete: HTTP %d, want 403", resp.StatusCode)
			}
			create := url.Values{"id": {"new"}, "provider_id": {"github"}, "client_id": {"x"}, "client_secret": {"y"}}
			for k, v := range form {
				create[k] = v
			}
			if resp, _ := h.post(c, "/console/providers", create); resp.StatusCode != http.StatusForbidden {
				t.Errorf("create: HTTP %d, want 403", resp.StatusCode)
			}
			if resp, _ := h.post(c, "/console/sign-out", form); resp.StatusCode != http.StatusForbidden {
				t.Errorf("sign-out: HTTP %d, want 403", resp.StatusCode)
			}
		})
	}
	if _, err := h.engine.GetProvider(ctx, "keep"); err != nil {
		t.Errorf("the provider is gone after refused deletes: %v", err)
	}
	if _, err := h.engine.GetProvider(ctx, "new"); err == nil {
		t.Error("a refused create stored a provider")
	}
	if resp, _ := h.get(c, "/console/providers"); resp.StatusCode != http.StatusOK {
		t.Errorf("the session ended after refused requests: HTTP %d", resp.StatusCode)
	}
	fresh := h.client()
	if resp, _ := h.post(fresh, "/console/sign-in", url.Values{"admin_key": {adminKey}}); resp.StatusCode != http.StatusForbidden || sessionCookieOf(resp) != nil {
		t.Errorf("sign-in without the form's token: HTTP %d, want 403 and no session", resp.StatusCode)
	}
}

// TestPagesSendSecurityHeaders: every page, signed in or not, carries a
// CSP without inline scripts that forbids framing, and no referrer.
func TestPagesSendSecurityHeaders(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	c := h.mustSignIn()
	for _, path := range []string{"/console/sign-in", "/console/integrations", "/console/providers", "/console/providers/new", "/console/connections", "/console/nowhere"} {
		resp, _ := h.get(c, path)
		csp := resp.Header.Get("Content-Security-Policy")
		if !contains(csp, "script-src 'self'") || contains(csp, "unsafe-inline") || !contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if got := resp.Header.Get("Referrer-Policy"); got != "no-referrer" {
			t.Errorf("%s: Referrer-Policy %q", path, got)
		}
	}
}
