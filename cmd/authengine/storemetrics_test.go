package main

import (
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authengine/authengine/engine/store/bolt"
)

// TestStoreCorruptRecordMetricIsExported: the embedded store's count of
// corrupt records its sweep skipped reaches /metrics.
func TestStoreCorruptRecordMetricIsExported(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "authengine.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	reg := prometheus.NewRegistry()
	reg.MustRegister(storeCollectors(st)...)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "authengine_store_corrupt_records_skipped_total" {
			return
		}
	}
	t.Fatalf("authengine_store_corrupt_records_skipped_total is not exported (got %d families)", len(families))
}
