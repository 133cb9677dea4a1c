package config

import (
	"strings"
	"testing"
	"time"
)

func TestRefreshSweeperConfig(t *testing.T) {
	c, _, err := loadString(t, baseYAML, testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Refresh.Sweeper.Enabled {
		t.Error("the refresh sweeper is on by default; it must be off unless enabled")
	}
	c, _, err = loadString(t, baseYAML+"refresh: {sweeper: {enabled: true, interval: 30s, window: 15m, idle_after: 720h, concurrency: 8}}\n", testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if sw := c.Refresh.Sweeper; !sw.Enabled || sw.Interval != 30*time.Second || sw.Window != 15*time.Minute || sw.IdleAfter != 720*time.Hour || sw.Concurrency != 8 {
		t.Fatalf("refresh.sweeper = %+v", sw)
	}
	for field, bad := range map[string]string{"interval": "10ms", "window": "-1m", "idle_after": "-1h", "concurrency": "100"} {
		_, _, err := loadString(t, baseYAML+"refresh: {sweeper: {enabled: true, "+field+": "+bad+"}}\n", testEnv)
		if err == nil || !strings.Contains(err.Error(), "refresh.sweeper."+field) {
			t.Errorf("refresh.sweeper.%s %s: %v, want an error naming the field", field, bad, err)
		}
	}
}
