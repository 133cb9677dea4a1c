package toolkit_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/authengine/authengine/toolkit"
)

// FuzzInvokeBody sends arbitrary bodies to /worker/tools/invoke: the worker
// never panics or answers 5xx, and the tool only runs on inputs that decode
// into its input type.
func FuzzInvokeBody(f *testing.F) {
	for _, seed := range []string{
		`{"tool":{"name":"Filter","toolkit":"Test"},"inputs":{"state":"open"},"context":{}}`,
		`{"tool":{"name":"Filter","toolkit":"Test"},"inputs":{"state":"open","limit":1e400},"context":{}}`,
		`{"tool":{"name":"Filter","toolkit":"Test"},"inputs":{"state":"open","owner":{"login":[1]}},"context":{}}`,
		`{"tool":{"name":"Filter","toolkit":"Test"},"inputs":[1,2],"context":{}}`,
		`{"tool":{"name":"Filter","toolkit":"Test"},"inputs":{"labels":["a",null]},"context":{"authorization":null}}`,
		`{"tool":{"name":"Filter","toolkit":"Test"},"inputs":{"state":"open"},"context":{"secrets":[{"key":1}]}}`,
		`null`, `{}`, ``, `{"tool":null}`,
	} {
		f.Add(seed)
	}
	var ran atomic.Int32
	tool := toolkit.New(toolkit.Definition{Name: "Filter", Description: "Filters"},
		func(_ context.Context, _ toolkit.Context, in filterIn) (any, error) {
			ran.Add(1)
			if in.State != "open" && in.State != "closed" {
				panic("enum not enforced")
			}
			return in, nil
		})
	w := newTestWorkerF(f, tool)
	auth := "Bearer " + mintF(f)
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "/worker/tools/invoke", strings.NewReader(body))
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		w.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q", rec.Code, body)
		}
		if rec.Code == http.StatusOK {
			var resp toolkit.ToolCallResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
				t.Fatalf("200 with a body that is not a ToolCallResponse: %s", rec.Body)
			}
			if e := resp.Output.Error; e != nil && e.Kind == toolkit.KindToolRuntimeFatal {
				t.Fatalf("fatal error for %q: %+v", body, e)
			}
		}
	})
}
