package tools_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/authengine/authengine/toolkit"
)

// BenchmarkExecuteConnectedUser measures POST /v1/tools/execute for a
// connected user against a no-op tool, over loopback HTTP to the engine and
// from the engine to a real toolkit worker: API-key check, catalog lookup,
// a store read and unseal of the user's token, the signed worker call and
// the response. It reports the median latency as median-ms (target: under
// 2 ms).
func BenchmarkExecuteConnectedUser(b *testing.B) {
	h := newHarness(b, harnessOptions{tools: func(*recorder) []*toolkit.Tool {
		return []*toolkit.Tool{toolkit.New(toolkit.Definition{
			Name: "Noop", Description: "Does nothing.",
			RequiresAuth: &toolkit.OAuth2{ID: "hooli", Scopes: []string{"profile"}},
		}, func(context.Context, toolkit.Context, struct{}) (any, error) { return nil, nil })}
	}})
	a := h.authorizeTool("ada", "Hooli.Noop")
	h.connect(a.URL)
	body := []byte(`{"tool_name":"Hooli.Noop","user_id":"ada","input":{}}`)
	if code, out := h.execute(executeBody("ada", "Hooli.Noop", map[string]any{})); code != 200 || !out.Success {
		b.Fatalf("warm-up: HTTP %d %+v", code, out)
	}
	lat := make([]time.Duration, 0, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		began := time.Now()
		req, _ := http.NewRequest("POST", h.srv.URL+"/v1/tools/execute", bytes.NewReader(body))
		req.Header.Set("Authorization", apiKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := h.client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("HTTP %d", resp.StatusCode)
		}
		lat = append(lat, time.Since(began))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
