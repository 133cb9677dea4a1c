package toolkit_test

import (
	"crypto/rand"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authengine/authengine/toolkit"
)

// TestAttack_WorkerJWTReplay: someone who captured one signed request (a
// log, a proxy) sends the same token again with a body of their own. The
// worker remembers each token's jti until it expires and refuses the
// second use; a token without a jti is refused unless the worker allows
// it; the memory is bounded and fails closed.
func TestAttack_WorkerJWTReplay(t *testing.T) {
	var s seen
	newWorker := func(opts toolkit.WorkerOptions) *toolkit.Worker {
		opts.Secret = testSecret
		opts.Toolkit = toolkit.ToolkitDefinition{Name: "Test", Description: "Test tools", Version: "1.0.0"}
		w, err := toolkit.NewWorker(opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Register(echoTool(&s)); err != nil {
			t.Fatal(err)
		}
		return w
	}

	t.Run("the same token is refused the second time, whatever the body", func(t *testing.T) {
		w := newWorker(toolkit.WorkerOptions{})
		token := "Bearer " + mint(t, testSecret, validClaims())
		if rec := do(t, w, http.MethodPost, "/worker/tools/invoke", token, goodRequest()); rec.Code != http.StatusOK {
			t.Fatalf("first use: status %d %s", rec.Code, rec.Body)
		}
		other := goodRequest()
		other.Inputs = map[string]any{"message": "transfer everything"}
		rec := do(t, w, http.MethodPost, "/worker/tools/invoke", token, other)
		if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "already used") {
			t.Fatalf("replay: status %d %s, want 401 already used", rec.Code, rec.Body)
		}
		if rec := do(t, w, http.MethodGet, "/worker/tools", token, nil); rec.Code != http.StatusUnauthorized {
			t.Fatalf("replay on another route: status %d, want 401", rec.Code)
		}
	})

	t.Run("concurrent replays: exactly one use is accepted", func(t *testing.T) {
		w := newWorker(toolkit.WorkerOptions{})
		token := "Bearer " + mint(t, testSecret, validClaims())
		var wg sync.WaitGroup
		codes := make(chan int, 16)
		for range 16 {
			wg.Go(func() { codes <- do(t, w, http.MethodGet, "/worker/tools", token, nil).Code })
		}
		wg.Wait()
		close(codes)
		ok := 0
		for c := range codes {
			if c == http.StatusOK {
				ok++
			}
		}
		if ok != 1 {
			t.Fatalf("%d of 16 concurrent uses accepted, want 1", ok)
		}
	})

	t.Run("a token without a jti is refused unless allowed", func(t *testing.T) {
		claims := validClaims()
		delete(claims, "jti")
		token := "Bearer " + mint(t, testSecret, claims)
		if rec := do(t, newWorker(toolkit.WorkerOptions{}), http.MethodGet, "/worker/tools", token, nil); rec.Code != http.StatusUnauthorized {
			t.Fatalf("no jti: status %d, want 401", rec.Code)
		}
		if rec := do(t, newWorker(toolkit.WorkerOptions{AllowMissingJTI: true}), http.MethodGet, "/worker/tools", token, nil); rec.Code != http.StatusOK {
			t.Fatalf("no jti with AllowMissingJTI: status %d, want 200", rec.Code)
		}
	})

	t.Run("the memory is bounded, fails closed when full and frees expired ids", func(t *testing.T) {
		now := time.Now()
		w := newWorker(toolkit.WorkerOptions{ReplayCacheSize: 2, Now: func() time.Time { return now }})
		mintAt := func() string {
			return "Bearer " + mint(t, testSecret, jwt.MapClaims{"aud": "worker", "ver": "1", "iat": now.Unix(),
				"exp": now.Add(time.Minute).Unix(), "jti": rand.Text()})
		}
		for i := range 2 {
			if rec := do(t, w, http.MethodGet, "/worker/tools", mintAt(), nil); rec.Code != http.StatusOK {
				t.Fatalf("token %d: status %d %s", i, rec.Code, rec.Body)
			}
		}
		if rec := do(t, w, http.MethodGet, "/worker/tools", mintAt(), nil); rec.Code != http.StatusUnauthorized {
			t.Fatalf("third live token with a cache of 2: status %d, want 401", rec.Code)
		}
		now = now.Add(2 * time.Minute)
		if rec := do(t, w, http.MethodGet, "/worker/tools", mintAt(), nil); rec.Code != http.StatusOK {
			t.Fatalf("after the first tokens expired: status %d %s, want 200", rec.Code, rec.Body)
		}
	})
}
