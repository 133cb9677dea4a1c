package toolkit_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authengine/authengine/toolkit"
)

// newTestWorkerF is newTestWorker for fuzz and benchmark setups.
func newTestWorkerF(tb testing.TB, tools ...*toolkit.Tool) *toolkit.Worker {
	tb.Helper()
	w, err := toolkit.NewWorker(toolkit.WorkerOptions{
		Toolkit: toolkit.ToolkitDefinition{Name: "Test", Version: "1.0.0"}, Secret: testSecret,
	})
	if err != nil {
		tb.Fatal(err)
	}
	if err := w.Register(tools...); err != nil {
		tb.Fatal(err)
	}
	return w
}

func mintF(tb testing.TB) string {
	tb.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, validClaims()).SignedString([]byte(testSecret))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// BenchmarkInvoke measures one authenticated invoke: JWT check, request
// decoding, input validation, the call and the response encoding.
func BenchmarkInvoke(b *testing.B) {
	tool := toolkit.New(toolkit.Definition{Name: "Filter", Description: "Filters"},
		func(_ context.Context, tc toolkit.Context, in filterIn) (any, error) {
			return map[string]any{"state": in.State, "user": tc.UserID}, nil
		})
	w := newTestWorkerF(b, tool)
	auth := "Bearer " + mintF(b)
	body := `{"run_id":"r","execution_id":"e","created_at":"2026-01-01T00:00:00Z",` +
		`"tool":{"name":"Filter","toolkit":"Test","version":"1.0.0"},` +
		`"inputs":{"state":"open","limit":10,"labels":["a","b"],"owner":{"login":"ada"}},` +
		`"context":{"authorization":{"token":"t","user_info":{"sub":"u"}},"secrets":[],"metadata":[],"user_id":"ada"}}`
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/worker/tools/invoke", strings.NewReader(body))
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		w.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
