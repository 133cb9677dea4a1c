package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine/events"
	"github.com/authengine/authengine/internal/providertest"
)

// BenchmarkCallbackOutbox measures what the outbox adds to the callback
// path: two engines side by side, each on its own bbolt store in front of
// its own stand-in, one recording every lifecycle event (webhooks
// configured: connection.created is written in the callback's store
// transaction) and one recording none. Each iteration completes one
// authorization on both, alternating which goes first, and times only
// the browser's GET /oauth/callback (state, code exchange at the
// stand-in, sealing, the store writes, the redirect page). Between
// iterations, untimed, the events are removed as a deliverer keeping up
// removes them, so the outbox stays as small as in service. It reports
// both means, their ratio (with-outbox / without) and the median of the
// per-iteration ratios (each pair ran back to back, so a burst of load
// from elsewhere moves it less than the means); the target is a ratio
// under 1.10.
func BenchmarkCallbackOutbox(b *testing.B) {
	type side struct {
		h     *harness
		idp   *providertest.Provider
		total time.Duration
		last  time.Duration
	}
	newSide := func(types []string) *side {
		s := &side{}
		s.h = newHarness(b, harnessOptions{eventTypes: types, providers: func(h *harness, redirect string) []config.Provider {
			s.idp = providertest.New(b, providertest.Options{ClientAuth: providertest.ClientSecretBasic, RequirePKCE: true,
				RedirectURI: redirect, AccessTokenTTL: time.Hour})
			return []config.Provider{s.idp.Config("hooli")}
		}})
		return s
	}
	without, with := newSide(nil), newSide(events.Types)
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	ctx := context.Background()
	callback := func(s *side, user string) {
		start := s.h.authorize(user, "hooli", "read")
		cb, err := s.idp.Consent(ctx, start.URL)
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		resp, err := browser.Get(cb)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		s.last = time.Since(t0)
		s.total += s.last
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("callback: HTTP %d", resp.StatusCode)
		}
	}
	// Warm both (connections, pages, first bbolt growth).
	for i := range 20 {
		callback(without, "warm-"+strconv.Itoa(i))
		callback(with, "warm-"+strconv.Itoa(i))
	}
	without.total, with.total = 0, 0
	// drain removes the delivered events, untimed, as a deliverer keeping
	// up does: the outbox stays as small as it is in service.
	delivered := 0
	drain := func() {
		evs, _, err := with.h.store.ListEvents(ctx, "", 0, 0)
		if err != nil {
			b.Fatal(err)
		}
		for _, ev := range evs {
			if err := with.h.store.DeleteEvent(ctx, ev.ID); err != nil {
				b.Fatal(err)
			}
			delivered++
		}
	}
	drain()
	delivered = 0
	ratios := make([]float64, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		user := "user-" + strconv.Itoa(i)
		if i%2 == 0 {
			callback(without, user)
			callback(with, user)
		} else {
			callback(with, user)
			callback(without, user)
		}
		ratios = append(ratios, float64(with.last)/float64(without.last))
		drain()
	}
	b.StopTimer()
	slices.Sort(ratios)
	b.ReportMetric(ratios[len(ratios)/2], "median-ratio")
	n := float64(b.N)
	b.ReportMetric(float64(without.total.Nanoseconds())/n, "without-ns/op")
	b.ReportMetric(float64(with.total.Nanoseconds())/n, "with-outbox-ns/op")
	b.ReportMetric(float64(with.total)/float64(without.total), "ratio")
	if delivered != b.N {
		b.Fatalf("the outbox took %d events, want one connection.created per callback (%d)", delivered, b.N)
	}
}
