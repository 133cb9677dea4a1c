package httpapi_test

import (
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine/store"
	redisstore "github.com/authengine/authengine/engine/store/redis"
	"github.com/authengine/authengine/internal/enginetest"
	"github.com/authengine/authengine/internal/providertest"
	"github.com/authengine/authengine/internal/redistest"
)

// TestRedisOutOfMemoryAnswers503StoreUnavailable: a Redis at maxmemory
// with noeviction refuses writes with "OOM command not allowed". Starting
// an authorization and taking the refresh lock used to answer 500
// internal_error without Retry-After, and health said healthy. They answer
// 503 store_unavailable with Retry-After, health reports the store, and
// everything works again once Redis has memory.
func TestRedisOutOfMemoryAnswers503StoreUnavailable(t *testing.T) {
	srv := redistest.Private(t, redistest.PrivateOptions{})
	admin := goredis.NewClient(&goredis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = admin.Close() })
	var idp *providertest.Provider
	h := newHarness(t, harnessOptions{
		openStore: func(now func() time.Time) (store.Store, error) {
			return redisstore.Open(redisstore.Config{URL: srv.URL(), KeyPrefix: redistest.Prefix(t)}, redisstore.Options{Now: now})
		},
		providers: func(h *harness, redirect string) []config.Provider {
			idp = providertest.New(t, providertest.Options{RedirectURI: redirect, ClientAuth: providertest.ClientSecretBasic,
				RotateRefreshTokens: true, AccessTokenTTL: time.Hour, Now: h.clock.Now})
			return []config.Provider{idp.Config("hooli")}
		},
	})
	h.connect(idp, "ada", "hooli")
	h.clock.Advance(2 * time.Hour) // ada's next request refreshes, under the store's lock

	setMaxMemory := func(v string) {
		t.Helper()
		for _, kv := range [][2]string{{"maxmemory-policy", "noeviction"}, {"maxmemory", v}} {
			if err := admin.ConfigSet(t.Context(), kv[0], kv[1]).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	setMaxMemory("1") // below what Redis already uses: every write is over the limit

	for _, user := range []string{"bob" /* a new flow */, "ada" /* the refresh lock */} {
		var out apiErr
		resp := enginetest.Do(t, nil, h.srv.URL, "Bearer "+apiKey, "POST", "/v1/auth/authorize", authorizeBody(user, "hooli"), &out)
		if resp.StatusCode != 503 || out.Name != "store_unavailable" || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("authorize for %s with Redis out of memory: HTTP %d %+v Retry-After %q, want 503 store_unavailable with Retry-After",
				user, resp.StatusCode, out, resp.Header.Get("Retry-After"))
		}
	}
	if n := idp.Counts().Refreshes; n != 0 {
		t.Fatalf("the provider saw %d refreshes while the store could not take the lock or keep the result", n)
	}
	var health map[string]any
	if code := h.do("GET", "/v1/health", nil, &health); code != 503 || health["healthy"] != false {
		t.Fatalf("health with Redis out of memory: HTTP %d %v, want 503 unhealthy", code, health)
	}
	if code := h.do("GET", "/v1/health/ready", nil, &health); code != 503 || health["healthy"] != false {
		t.Fatalf("readiness with Redis out of memory: HTTP %d %v, want 503 unhealthy", code, health)
	}
	var live map[string]any
	if code := h.do("GET", "/v1/health/live", nil, &live); code != 200 || live["alive"] != true {
		t.Fatalf("liveness with Redis out of memory: HTTP %d %v, want 200: a restart does not bring the store back", code, live)
	}

	setMaxMemory("0")
	for _, path := range []string{"/v1/health", "/v1/health/ready"} {
		if code := h.do("GET", path, nil, &health); code != 200 || health["healthy"] != true {
			t.Fatalf("%s once Redis has memory again: HTTP %d %v", path, code, health)
		}
	}
	if got := h.authorize("ada", "hooli"); got.Status != "completed" || got.Token() == "" {
		t.Fatalf("authorize once Redis has memory again: %+v", got)
	}
	if got := h.authorize("bob", "hooli"); got.Status != "pending" {
		t.Fatalf("authorize for a new user once Redis has memory again: %+v", got)
	}
}
