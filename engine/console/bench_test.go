package console_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/authengine/authengine/engine/store"
)

// pageCeiling is the most a console page may take to render at the
// server with 500 providers and 10,000 connections.
const pageCeiling = 50 * time.Millisecond

// BenchmarkConsolePages renders each console page at the server (the
// handler, no network) on a bolt store holding 500 runtime providers and
// 10,000 connections, and reports each page's time as a fraction of the
// 50 ms ceiling (ceiling-fraction below 1 is within it).
func BenchmarkConsolePages(b *testing.B) {
	h := newHarness(b, harnessOptions{})
	ctx := b.Context()
	for i := range 500 {
		doc := map[string]any{"id": fmt.Sprintf("p%03d", i), "provider_id": "github", "client_id": "client", "client_secret": "secret-0123456789-abcdef"}
		if _, err := h.engine.CreateProvider(ctx, doc); err != nil {
			b.Fatal(err)
		}
	}
	sealed := make([]byte, 600) // about a real token set's sealed size
	statuses := []store.ConnectionStatus{store.ConnectionConnected, store.ConnectionConnected, store.ConnectionConnected, store.ConnectionNeedsReauth}
	for i := range 10_000 {
		provider, user := fmt.Sprintf("p%03d", i%500), fmt.Sprintf("user-%05d", i)
		id := store.ConnectionID(provider, user)
		_, err := h.store.UpdateConnection(ctx, id, func(c store.Connection, _ bool) (store.Connection, error) {
			c.ID, c.UserID, c.ProviderID, c.Status, c.Sealed = id, user, provider, statuses[i%len(statuses)], sealed
			c.Scopes, c.ExpiresAt = []string{"repo", "read:org"}, time.Now().Add(time.Hour)
			return c, nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	client := h.mustSignIn()
	var cookies []*http.Cookie
	u := h.srv.URL + "/console/"
	req, _ := http.NewRequest("GET", u, nil)
	cookies = client.Jar.Cookies(req.URL)
	handler := *h.handler.Load()
	for _, page := range []string{
		"/console/integrations", "/console/providers", "/console/providers/p250/edit",
		"/console/connections", "/console/connections?page=150", "/console/connections?status=needs_reauth&provider=p001",
	} {
		b.Run(page, func(b *testing.B) {
			start := time.Now()
			for b.Loop() {
				req := httptest.NewRequest("GET", page, nil)
				for _, c := range cookies {
					req.AddCookie(c)
				}
				rec := httptest.NewRecorder()
				handler.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: HTTP %d", page, rec.Code)
				}
			}
			per := time.Since(start) / time.Duration(b.N)
			b.ReportMetric(float64(per)/float64(pageCeiling), "ceiling-fraction")
		})
	}
}
