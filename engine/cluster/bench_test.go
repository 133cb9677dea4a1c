package cluster_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/authengine/authengine/internal/providertest"
)

// BenchmarkAuthorizeCompletedOnRedis measures POST /v1/auth/authorize for
// a connected user (answered completed with the token) through one
// instance's HTTP API on Redis, client and server in one process. It is the
// in-process companion of bench/redis/authorize-load.sh, for profiles:
//
//	go test -run '^$' -bench AuthorizeCompletedOnRedis -cpuprofile cpu.out ./engine/cluster/
func BenchmarkAuthorizeCompletedOnRedis(b *testing.B) {
	c := newCluster(b, clusterOptions{instances: 1, idp: providertest.Options{RequirePKCE: true, AccessTokenTTL: time.Hour}})
	want := c.connect("ada", 0, 0, 0).token()
	body, err := json.Marshal(authorizeBody("ada"))
	if err != nil {
		b.Fatal(err)
	}
	target := c.base(0) + "/v1/auth/authorize"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	b.Cleanup(client.CloseIdleConnections)
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var out authResp
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+apiKey)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &out) != nil || out.token() != want {
				b.Errorf("authorize: HTTP %d %s, want completed with the stored token", resp.StatusCode, raw)
				return
			}
		}
	})
}
