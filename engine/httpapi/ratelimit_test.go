package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine/httpapi"
	"github.com/authengine/authengine/internal/providertest"
	"github.com/authengine/authengine/internal/ratelimit"
)

const otherAPIKey = "second-api-key-for-rate-limit-tests"

func limitedHarness(t *testing.T, opts harnessOptions) *harness {
	opts.providers = func(h *harness, redirect string) []config.Provider {
		idp := providertest.New(t, providertest.Options{RedirectURI: redirect, ClientAuth: providertest.ClientSecretBasic})
		return []config.Provider{idp.Config("hooli")}
	}
	opts.apiKeys = []string{otherAPIKey}
	return newHarness(t, opts)
}

// get sends GET path with key and headers, returning the status, the
// Retry-After header and the error name.
func get(t *testing.T, h *harness, key, path string, header map[string]string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest("GET", h.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out apiErr
	_ = json.NewDecoder(resp.Body).Decode(&out) // pages are not JSON: Name stays empty
	return resp.StatusCode, resp.Header.Get("Retry-After"), out.Name
}

// TestAttack_OneAPIKeyFloodsTheEngine: one app key sending as fast as it
// can is refused with 429 rate_limited and a Retry-After once its bucket
// is empty; another key is not affected.
func TestAttack_OneAPIKeyFloodsTheEngine(t *testing.T) {
	h := limitedHarness(t, harnessOptions{limits: httpapi.RateLimits{APIKey: ratelimit.New(1, time.Minute, 5)}})
	for i := range 5 {
		if code, _, _ := get(t, h, apiKey, "/v1/auth/status?id=nope", nil); code != 404 {
			t.Fatalf("request %d within the burst: HTTP %d, want 404 flow_not_found", i, code)
		}
	}
	code, retry, name := get(t, h, apiKey, "/v1/auth/status?id=nope", nil)
	if code != 429 || name != "rate_limited" {
		t.Fatalf("past the burst: HTTP %d %q, want 429 rate_limited", code, name)
	}
	if s, err := strconv.Atoi(retry); err != nil || s < 1 || s > 60 {
		t.Fatalf("Retry-After %q, want 1..60 seconds", retry)
	}
	if code, _, _ := get(t, h, otherAPIKey, "/v1/auth/status?id=nope", nil); code != 404 {
		t.Fatalf("another API key: HTTP %d, want 404 (its own bucket)", code)
	}
	if code, _, _ := get(t, h, "", "/v1/auth/status?id=nope", nil); code != 401 {
		t.Fatalf("no key: HTTP %d, want 401 before any limit", code)
	}
}

// TestAttack_CallbackFloodFromOneAddress: the callback is unauthenticated;
// one address hammering it is refused with a 429 page and Retry-After.
// Behind a trusted proxy the client is the X-Forwarded-For address; from
// anywhere else that header is ignored, so a client cannot name itself
// a fresh address per request.
func TestAttack_CallbackFloodFromOneAddress(t *testing.T) {
	t.Run("one address is limited", func(t *testing.T) {
		h := limitedHarness(t, harnessOptions{limits: httpapi.RateLimits{Callback: ratelimit.New(1, time.Minute, 3)}})
		for i := range 3 {
			if code, _, _ := get(t, h, "", "/oauth/callback?state=forged", nil); code != 400 {
				t.Fatalf("callback %d: HTTP %d, want 400", i, code)
			}
		}
		code, retry, _ := get(t, h, "", "/oauth/callback?state=forged", map[string]string{"X-Forwarded-For": "198.51.100.9"})
		if code != 429 || retry == "" {
			t.Fatalf("past the burst (with a forged X-Forwarded-For): HTTP %d Retry-After %q, want 429 with Retry-After", code, retry)
		}
	})
	t.Run("behind a trusted proxy each client has its own bucket", func(t *testing.T) {
		h := limitedHarness(t, harnessOptions{limits: httpapi.RateLimits{
			Callback:       ratelimit.New(1, time.Minute, 2),
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
		}})
		for _, client := range []string{"203.0.113.1", "203.0.113.2"} {
			for i := range 2 {
				if code, _, _ := get(t, h, "", "/oauth/callback?state=forged", map[string]string{"X-Forwarded-For": client}); code != 400 {
					t.Fatalf("%s callback %d: HTTP %d, want 400", client, i, code)
				}
			}
		}
		if code, _, _ := get(t, h, "", "/oauth/callback?state=forged", map[string]string{"X-Forwarded-For": "203.0.113.1"}); code != 429 {
			t.Fatalf("third callback from one client: HTTP %d, want 429", code)
		}
	})
	t.Run("development mode does not limit loopback clients", func(t *testing.T) {
		h := limitedHarness(t, harnessOptions{limits: httpapi.RateLimits{Callback: ratelimit.New(1, time.Minute, 1), ExemptLoopback: true}})
		for i := range 5 {
			if code, _, _ := get(t, h, "", "/oauth/callback?state=forged", nil); code != 400 {
				t.Fatalf("callback %d from loopback in development: HTTP %d, want 400", i, code)
			}
		}
	})
}

// TestAttack_PendingFlowsFillTheStore: each authorize for a user without a
// connection stores a flow that lives flow_ttl. One user, or one API key,
// may start only so many per flow_ttl; past that the answer is 429
// too_many_flows and nothing is stored.
func TestAttack_PendingFlowsFillTheStore(t *testing.T) {
	t.Run("per user", func(t *testing.T) {
		h := limitedHarness(t, harnessOptions{flowsPerUser: 3})
		for range 3 {
			h.authorize("victim", "hooli")
		}
		var out apiErr
		if code := h.do("POST", "/v1/auth/authorize", authorizeBody("victim", "hooli"), &out); code != 429 || out.Name != "too_many_flows" {
			t.Fatalf("fourth flow for one user: HTTP %d %q, want 429 too_many_flows", code, out.Name)
		}
		h.authorize("someone-else", "hooli")
		h.clock.Advance(10 * time.Minute)
		h.authorize("victim", "hooli")
	})
	t.Run("per API key", func(t *testing.T) {
		h := limitedHarness(t, harnessOptions{flowsPerAPIKey: 4})
		for i := range 4 {
			h.authorize("user-"+strconv.Itoa(i), "hooli")
		}
		var out apiErr
		if code := h.do("POST", "/v1/auth/authorize", authorizeBody("user-new", "hooli"), &out); code != 429 || out.Name != "too_many_flows" {
			t.Fatalf("fifth flow for one API key: HTTP %d %q, want 429 too_many_flows", code, out.Name)
		}
		if code := h.doKey(otherAPIKey, "POST", "/v1/auth/authorize", authorizeBody("user-new", "hooli"), &out); code != 200 {
			t.Fatalf("another API key: HTTP %d %q, want 200", code, out.Name)
		}
	})
}
