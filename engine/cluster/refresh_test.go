package cluster_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/authengine/authengine/internal/providertest"
)

// TestOneRefreshAcrossInstances: hundreds of callers on three instances ask
// for an expired token at once. The provider rotates refresh tokens, so a
// second refresh would be a replay that revokes the user's whole token
// chain: exactly one refresh may reach it, and every caller must get the
// token that refresh produced.
func TestOneRefreshAcrossInstances(t *testing.T) {
	const callers = 300
	cases := []struct {
		name  string
		delay time.Duration
	}{
		{"300 callers on three instances share one refresh of an expired token", 0},
		{"300 callers share one refresh when the provider takes 300 ms to answer it", 300 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, clusterOptions{instances: 3, idp: providertest.Options{
				RequirePKCE: true, RotateRefreshTokens: true, AccessTokenTTL: time.Hour}})
			old := c.connect("ada", 0, 1, 2).token()
			c.clock.Advance(2 * time.Hour)
			c.idp.SetDelay(tc.delay)
			before := c.idp.Counts()

			var (
				wg     sync.WaitGroup
				mu     sync.Mutex
				tokens = map[string]int{}
				bad    []string
				// retries of store_unavailable (Redis slower than the
				// store's read timeout on a starved machine).
				retries int
			)
			release := make(chan struct{})
			for i := range callers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-release
					out, code, r, err := c.authorizeRetrying(context.Background(), i%3, "ada")
					mu.Lock()
					defer mu.Unlock()
					retries += r
					if err != nil || code != http.StatusOK || out.Status != "completed" {
						bad = append(bad, http.StatusText(code)+" "+out.Status+" "+out.Name)
						return
					}
					tokens[out.token()]++
				}()
			}
			close(release)
			wg.Wait()
			c.idp.SetDelay(0)

			if retries > 0 {
				t.Logf("%d calls answered store_unavailable and were retried", retries)
			}
			after := c.idp.Counts()
			if n := after.Refreshes - before.Refreshes; n != 1 {
				t.Errorf("the provider saw %d refreshes, want exactly 1", n)
			}
			if n := after.Replays - before.Replays; n != 0 {
				t.Errorf("the provider saw %d reused refresh tokens, want none", n)
			}
			if n := after.Rejected - before.Rejected; n != 0 {
				t.Errorf("the provider rejected %d requests, want none", n)
			}
			if len(bad) > 0 {
				t.Errorf("%d of %d callers did not get a completed authorization, e.g. %q", len(bad), callers, bad[0])
			}
			if len(tokens) != 1 {
				t.Fatalf("callers got %d different tokens, want every caller to get the one refreshed token", len(tokens))
			}
			for tok, n := range tokens {
				if tok == old {
					t.Errorf("callers got the expired token, want the refreshed one")
				}
				if !c.idp.ValidAccessToken(tok) {
					t.Errorf("the token %d callers got is not one the provider considers valid", n)
				}
			}
			// The chain is intact: the stored (rotated) refresh token still
			// works, so the next expiry refreshes without re-authorization.
			c.clock.Advance(2 * time.Hour)
			if again := c.authorize(2, "ada"); again.Status != "completed" || !c.idp.ValidAccessToken(again.token()) {
				t.Errorf("authorize after a second expiry: got %q, want completed with a valid token", again.Status)
			}
			if v := c.idp.Violations(); len(v) > 0 {
				t.Errorf("protocol violations at the provider: %v", v)
			}
		})
	}
}
