package engine

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/authengine/authengine/engine/store"
)

// serviceToken asks for the client-credentials token of "svc" for scopes.
func (r *rig) serviceToken(ctx context.Context, scopes ...string) (Authorization, error) {
	return r.eng.Authorize(ctx, AuthorizeRequest{UserID: "app", ProviderID: "svc", Scopes: scopes})
}

// TestServiceTokensOfDifferentScopeSetsAreSeparateRequests: callers
// asking at once for two scope sets share one grant per set, and each
// gets a token of exactly its own scopes (never the other set's, never a
// union).
func TestServiceTokensOfDifferentScopeSetsAreSeparateRequests(t *testing.T) {
	r := newRig(t, rigOptions{service: true})
	r.idp.SetDelay(300 * time.Millisecond)
	sets := [][]string{{"read"}, {"write"}}
	const perSet = 8
	var wg sync.WaitGroup
	for _, scopes := range sets {
		for range perSet {
			wg.Go(func() {
				a, err := r.serviceToken(context.Background(), scopes...)
				if err != nil || a.Status != StatusCompleted {
					t.Errorf("service token %v: %+v, %v", scopes, a, err)
					return
				}
				if got := r.idp.AccessTokenScopes(a.Token); !slices.Equal(got, scopes) {
					t.Errorf("asked for %v, got a token of %v", scopes, got)
				}
			})
		}
	}
	wg.Wait()
	if c := r.idp.Counts(); c.ClientCredentials != len(sets) {
		t.Errorf("provider saw %d client-credentials grants for %d scope sets, want one each", c.ClientCredentials, len(sets))
	}
	// A fresh stored token is handed out again, not fetched anew, and
	// without taking the refresh lock.
	locks := r.st.locks.Load()
	a, err := r.serviceToken(context.Background(), "read")
	mustComplete(t, "service token again", a, err)
	if n := r.st.locks.Load() - locks; n != 0 {
		t.Errorf("a fresh stored service token took %d refresh locks, want 0", n)
	}
	if c := r.idp.Counts(); c.ClientCredentials != len(sets) {
		t.Errorf("provider saw %d client-credentials grants after asking again, want %d (the stored token reused)", c.ClientCredentials, len(sets))
	}
}

// TestServiceTokensAreBoundedPerProvider: past maxServiceTokens scope
// sets, a new one evicts the token fetched longest ago; the newest stays.
func TestServiceTokensAreBoundedPerProvider(t *testing.T) {
	r := newRig(t, rigOptions{service: true})
	ctx := context.Background()
	const sets = maxServiceTokens + 2
	for i := range sets {
		a, err := r.serviceToken(ctx, fmt.Sprintf("s%d", i))
		mustComplete(t, "service token", a, err)
		r.clock.Advance(time.Second) // each fetched later than the one before
	}
	conns, total, err := r.st.ListConnections(ctx, store.ConnectionFilter{ProviderID: "svc"}, 0, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if total != maxServiceTokens {
		t.Fatalf("%d service tokens kept for %d scope sets, want %d", total, sets, maxServiceTokens)
	}
	kept := map[string]bool{}
	for _, c := range conns {
		kept[c.ID] = true
	}
	for i := range sets {
		id := store.ServiceConnectionID("svc", []string{fmt.Sprintf("s%d", i)})
		if want := i >= sets-maxServiceTokens; kept[id] != want {
			t.Errorf("scope set s%d kept=%v, want %v (the oldest are evicted)", i, kept[id], want)
		}
	}
}

// TestServiceRecordNotConnectedIsFetchedAgain: a service token record
// that is not connected (a status only user connections act on) is
// replaced by a new grant, never answered with needs_reauth: a service
// token has no user to authorize again.
func TestServiceRecordNotConnectedIsFetchedAgain(t *testing.T) {
	r := newRig(t, rigOptions{service: true})
	ctx := context.Background()
	first, err := r.serviceToken(ctx, "read")
	mustComplete(t, "first service token", first, err)
	id := store.ServiceConnectionID("svc", []string{"read"})
	if _, err := r.st.UpdateConnection(ctx, id, func(c store.Connection, exists bool) (store.Connection, error) {
		if !exists {
			t.Fatalf("no service record %s", id)
		}
		c.Status = store.ConnectionNeedsReauth
		return c, nil
	}); err != nil {
		t.Fatal(err)
	}
	again, err := r.serviceToken(ctx, "read")
	mustComplete(t, "service token after its record left connected", again, err)
	if again.Token == first.Token {
		t.Error("the record that is not connected was handed out, not replaced")
	}
	if c := r.idp.Counts(); c.ClientCredentials != 2 {
		t.Errorf("provider saw %d client-credentials grants, want 2", c.ClientCredentials)
	}
}

// TestServiceTokenIsServedFromTheCache: a fresh service token read once
// is handed out from memory; a write of its record through the store (here
// one that takes it out of connected) is seen by the next call, and a token
// inside the refresh margin is fetched again, never served from memory.
func TestServiceTokenIsServedFromTheCache(t *testing.T) {
	r := newRig(t, rigOptions{service: true})
	ctx := context.Background()
	first, err := r.serviceToken(ctx, "read")
	mustComplete(t, "first service token", first, err)
	again, err := r.serviceToken(ctx, "read") // read from the store, then kept
	mustComplete(t, "second service token", again, err)
	hits := r.hits()
	third, err := r.serviceToken(ctx, "read")
	mustComplete(t, "third service token", third, err)
	if r.hits() != hits+1 || third.Token != first.Token {
		t.Fatalf("third call: %d new cache hits, same token %v; want 1 hit and the same token", r.hits()-hits, third.Token == first.Token)
	}

	id := store.ServiceConnectionID("svc", []string{"read"})
	if _, err := r.st.UpdateConnection(ctx, id, func(c store.Connection, _ bool) (store.Connection, error) {
		c.Status = store.ConnectionNeedsReauth
		return c, nil
	}); err != nil {
		t.Fatal(err)
	}
	replaced, err := r.serviceToken(ctx, "read")
	mustComplete(t, "service token after its record was written", replaced, err)
	if replaced.Token == first.Token {
		t.Fatal("the cached token was handed out after its record left connected")
	}
	if c := r.idp.Counts(); c.ClientCredentials != 2 {
		t.Fatalf("provider saw %d client-credentials grants, want 2", c.ClientCredentials)
	}

	// Cached again, then inside the margin: fetched anew, once.
	for range 2 {
		a, err := r.serviceToken(ctx, "read")
		mustComplete(t, "service token", a, err)
	}
	conn, err := r.st.GetConnection(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(conn.ExpiresAt.Sub(r.clock.Now()) - time.Second)
	late, err := r.serviceToken(ctx, "read")
	mustComplete(t, "service token inside the margin", late, err)
	if late.Token == replaced.Token {
		t.Fatal("a token inside the refresh margin was served from the cache")
	}
	if c := r.idp.Counts(); c.ClientCredentials != 3 {
		t.Fatalf("provider saw %d client-credentials grants, want 3", c.ClientCredentials)
	}
}
