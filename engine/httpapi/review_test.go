package httpapi_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine/store"
	redisstore "github.com/authengine/authengine/engine/store/redis"
	"github.com/authengine/authengine/internal/providertest"
	"github.com/authengine/authengine/internal/redistest"
)

// TestRefreshSurvivesStoreOutage: the store goes away while a rotating
// refresh is in flight at the provider. The rotated refresh token must
// still be stored (the engine retries the write), so no later caller ever
// presents the old, already used refresh token (which a strict provider
// treats as theft, revoking the chain).
func TestRefreshSurvivesStoreOutage(t *testing.T) {
	srv := redistest.Private(t, redistest.PrivateOptions{AppendOnly: true})
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
	h.clock.Advance(2 * time.Hour)

	idp.SetDelay(500 * time.Millisecond)
	go func() {
		time.Sleep(200 * time.Millisecond) // the refresh is at the provider now
		srv.Stop()
		time.Sleep(time.Second)
		srv.Start()
	}()
	first := h.authorize("ada", "hooli")
	idp.SetDelay(0)
	if first.Status != "completed" || !idp.ValidAccessToken(first.Token()) {
		t.Fatalf("refresh across a store outage: %s, want completed with the refreshed token", first.Status)
	}
	for range 3 {
		if again := h.authorize("ada", "hooli"); again.Token() != first.Token() {
			t.Fatal("a later caller did not get the stored refreshed token")
		}
	}
	if c := idp.Counts(); c.Refreshes != 1 || c.Replays != 0 {
		t.Fatalf("provider saw %d refreshes and %d replays, want 1 and 0", c.Refreshes, c.Replays)
	}
}

// TestShortLivedTokensRefreshOnce: a token living no longer than the
// refresh margin is refreshed once when it is half spent, not on every call.
func TestShortLivedTokensRefreshOnce(t *testing.T) {
	var idp *providertest.Provider
	h := newHarness(t, harnessOptions{providers: func(h *harness, redirect string) []config.Provider {
		idp = providertest.New(t, providertest.Options{RedirectURI: redirect, ClientAuth: providertest.ClientSecretBasic,
			RotateRefreshTokens: true, AccessTokenTTL: 30 * time.Second, Now: h.clock.Now})
		return []config.Provider{idp.Config("hooli")}
	}})
	first := h.connect(idp, "ada", "hooli")
	if again := h.authorize("ada", "hooli"); again.Token() != first.Token() || idp.Counts().Refreshes != 0 {
		t.Fatal("a fresh 30 s token was refreshed at once")
	}
	h.clock.Advance(20 * time.Second)
	var tokens []string
	for range 5 {
		tokens = append(tokens, h.authorize("ada", "hooli").Token())
	}
	if n := idp.Counts().Refreshes; n != 1 {
		t.Fatalf("provider saw %d refreshes for 5 calls after the token was half spent, want 1", n)
	}
	if tokens[0] == first.Token() || len(slices.Compact(slices.Clone(tokens))) != 1 {
		t.Fatal("callers did not share the one refreshed token")
	}
}

// TestServiceTokensForDifferentScopes: concurrent requests for a service
// token with different scopes each get a token covering their own scopes.
func TestServiceTokensForDifferentScopes(t *testing.T) {
	var idp *providertest.Provider
	h := newHarness(t, harnessOptions{providers: func(h *harness, redirect string) []config.Provider {
		idp = providertest.New(t, providertest.Options{RedirectURI: redirect, ClientAuth: providertest.ClientSecretBasic, AccessTokenTTL: time.Hour})
		idp.SetDelay(100 * time.Millisecond)
		return []config.Provider{idp.ClientCredentialsConfig("svc")}
	}})
	var wg sync.WaitGroup
	got := make([]authResp, 2)
	for i, scope := range []string{"a", "b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = h.authorize("caller", "svc", scope)
		}()
	}
	wg.Wait()
	for i, scope := range []string{"a", "b"} {
		if got[i].Status != "completed" || !slices.Contains(got[i].Scopes, scope) {
			t.Errorf("request for scope %q got %s with scopes %v", scope, got[i].Status, got[i].Scopes)
		}
	}
}

// TestHugeWaitIsClamped: a wait beyond 59 s is clamped, and a failed flow
// still answers 410.
func TestHugeWaitIsClamped(t *testing.T) {
	var idp *providertest.Provider
	h := newHarness(t, harnessOptions{providers: func(h *harness, redirect string) []config.Provider {
		idp = providertest.New(t, providertest.Options{RedirectURI: redirect, ClientAuth: providertest.ClientSecretBasic})
		return []config.Provider{idp.Config("hooli")}
	}})
	start := h.authorize("ada", "hooli")
	cb, _ := idp.Deny(t.Context(), start.URL)
	h.browse(cb)
	var out apiErr
	if code := h.do("GET", "/v1/auth/status?id="+start.ID+"&wait=99999999999", nil, &out); code != 410 || out.Name != "flow_failed" {
		t.Fatalf("huge wait on a failed flow: HTTP %d %+v, want 410 flow_failed", code, out)
	}
}
