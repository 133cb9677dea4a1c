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

// TestNegativeWaitIsNoWait: wait is clamped at both ends; a negative one
// answers a pending flow at once instead of being refused.
func TestNegativeWaitIsNoWait(t *testing.T) {
	var idp *providertest.Provider
	h := newHarness(t, harnessOptions{providers: func(h *harness, redirect string) []config.Provider {
		idp = providertest.New(t, providertest.Options{RedirectURI: redirect, ClientAuth: providertest.ClientSecretBasic})
		return []config.Provider{idp.Config("hooli")}
	}})
	start := h.authorize("ada", "hooli")
	var out struct{ Status string }
	if code := h.do("GET", "/v1/auth/status?id="+start.ID+"&wait=-3", nil, &out); code != 200 || out.Status != "pending" {
		t.Fatalf("negative wait on a pending flow: HTTP %d %+v, want 200 pending", code, out)
	}
}

// TestRefreshLosesToNewAuthorization: a refresh still at the provider when
// the user disconnects and authorizes again (the record is re-created, at
// version 1 again) must not overwrite the new authorization.
func TestRefreshLosesToNewAuthorization(t *testing.T) {
	var idp *providertest.Provider
	h := newHarness(t, harnessOptions{providers: func(h *harness, redirect string) []config.Provider {
		idp = providertest.New(t, providertest.Options{RedirectURI: redirect, ClientAuth: providertest.ClientSecretBasic,
			RotateRefreshTokens: true, AccessTokenTTL: time.Hour, Now: h.clock.Now})
		return []config.Provider{idp.Config("hooli")}
	}})
	h.connect(idp, "ada", "hooli")
	h.clock.Advance(2 * time.Hour)
	id := store.ConnectionID("hooli", "ada")

	idp.SetDelay(2 * time.Second)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var out authResp
		h.do("POST", "/v1/auth/authorize", authorizeBody("ada", "hooli"), &out)
	}()
	time.Sleep(300 * time.Millisecond) // the refresh waits at the provider
	idp.SetDelay(0)
	if err := h.engine.Disconnect(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	fresh := h.connect(idp, "ada", "hooli")
	<-done
	if now := h.authorize("ada", "hooli"); now.Token() != fresh.Token() {
		t.Fatal("the new authorization's token was replaced by the old chain's refreshed token")
	}
}

// TestUnsavedRefreshAcrossInstances: the store is down longer than the
// engine retries a refreshed token's write. The token is kept and written
// in the background once the store is back; neither the same instance nor
// another one ever presents the used refresh token, and nobody gets an
// expired access token.
func TestUnsavedRefreshAcrossInstances(t *testing.T) {
	srv := redistest.Private(t, redistest.PrivateOptions{AppendOnly: true})
	prefix := redistest.Prefix(t)
	open := func(now func() time.Time) (store.Store, error) {
		return redisstore.Open(redisstore.Config{URL: srv.URL(), KeyPrefix: prefix}, redisstore.Options{Now: now})
	}
	var idp *providertest.Provider
	a := newHarness(t, harnessOptions{timeout: time.Second, lease: 15 * time.Second, openStore: open,
		providers: func(h *harness, redirect string) []config.Provider {
			idp = providertest.New(t, providertest.Options{RedirectURI: redirect, ClientAuth: providertest.ClientSecretBasic,
				RotateRefreshTokens: true, AccessTokenTTL: time.Hour, Now: h.clock.Now})
			return []config.Provider{idp.Config("hooli")}
		}})
	b := newHarness(t, harnessOptions{timeout: time.Second, lease: 15 * time.Second, openStore: open, key: &a.key, clock: a.clock,
		providers: func(h *harness, redirect string) []config.Provider { return []config.Provider{idp.Config("hooli")} }})
	a.connect(idp, "ada", "hooli")
	a.clock.Advance(2 * time.Hour)

	idp.SetDelay(500 * time.Millisecond)
	up := make(chan struct{})
	go func() {
		time.Sleep(200 * time.Millisecond) // the refresh is at the provider
		srv.Stop()
		time.Sleep(10 * time.Second) // longer than the engine's write retries
		srv.Start()
		close(up)
	}()
	var first apiErr
	if code := a.do("POST", "/v1/auth/authorize", authorizeBody("ada", "hooli"), &first); code != 503 {
		t.Fatalf("refresh during a long outage: HTTP %d %+v, want 503", code, first)
	}
	idp.SetDelay(0)
	<-up
	var got authResp
	for range 40 { // clients retry 503s; the store comes back within a few seconds
		var code int
		if code = b.do("POST", "/v1/auth/authorize", authorizeBody("ada", "hooli"), &got); code == 200 {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if got.Status != "completed" || !idp.ValidAccessToken(got.Token()) {
		t.Fatalf("the other instance after the outage: %+v, want completed with a valid token", got)
	}
	a.clock.Advance(2 * time.Hour) // the kept token is stale by now as well
	later := a.authorize("ada", "hooli")
	if later.Status != "completed" || !idp.ValidAccessToken(later.Token()) {
		t.Fatalf("the first instance later: %s valid=%v, want completed with a valid token", later.Status, idp.ValidAccessToken(later.Token()))
	}
	if c := idp.Counts(); c.Replays != 0 {
		t.Fatalf("the provider saw %d reused refresh tokens (the chain is revoked)", c.Replays)
	}
}
