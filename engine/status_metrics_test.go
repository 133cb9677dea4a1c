package engine

import (
	"context"
	"maps"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authengine/authengine/engine/store"
)

func TestConnectionsGaugeCountsByProviderAndStatusWithoutUsers(t *testing.T) {
	r := newRig(t, rigOptions{})
	reg := prometheus.NewRegistry()
	r.opts.Metrics = NewMetrics(reg)
	eng, err := New(r.opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close(context.Background()) })
	r.eng = eng
	r.connect("ada")
	bob := r.connect("bob")
	conn, err := r.st.GetConnection(context.Background(), bob)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.markStatus(context.Background(), conn, store.ConnectionNeedsReauth, "test", "invalid_grant"); err == nil {
		t.Fatal("markStatus did not report the needs-reauthorization")
	}
	want := map[string]float64{"connected": 1, "needs_reauth": 1, "expired": 0, "revoked": 0}
	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "authengine_connections" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["provider"] != "hooli" {
				t.Errorf("a series for provider %q", labels["provider"])
			}
			got[labels["status"]] = m.GetGauge().GetValue()
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("authengine_connections by status = %v, want %v", got, want)
	}
	out, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range out {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetValue(), "ada") || strings.Contains(l.GetValue(), "bob") {
					t.Errorf("metric %s carries a user id in label %s", mf.GetName(), l.GetName())
				}
			}
		}
	}
}
