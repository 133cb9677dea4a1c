package config

import (
	"encoding/base64"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// whsec is a valid webhook secret (32 bytes).
var whsec = "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))

func TestWebhooksLoadWithSecretsFromTheEnvironment(t *testing.T) {
	env := maps.Clone(testEnv)
	env["WEBHOOK_SECRET"] = whsec
	c, _, err := loadString(t, baseYAML+`
webhooks:
  - url: https://app.example.com/hooks/authengine
    secret: $<env:WEBHOOK_SECRET>
    events: [connection.needs_reauth, flow.failed]
  - url: http://127.0.0.1:9000/all
    secret: `+whsec+`
`, env)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Webhooks) != 2 || c.Webhooks[0].Secret != whsec || !slices.Equal(c.Webhooks[0].Events, []string{"connection.needs_reauth", "flow.failed"}) || len(c.Webhooks[1].Events) != 0 {
		t.Fatalf("webhooks = %+v", c.Webhooks)
	}
	if s := c.Webhooks[0].String(); strings.Contains(s, strings.TrimPrefix(whsec, "whsec_")) {
		t.Errorf("Webhook.String() shows the secret: %s", s)
	}
}

func TestBadWebhooksAreRefusedWithTheirFieldPath(t *testing.T) {
	short := "whsec_" + base64.StdEncoding.EncodeToString([]byte("short"))
	for _, tc := range []struct{ name, yaml, path, want string }{
		{"no url", "  - secret: " + whsec, "webhooks[0].url", "is required"},
		{"ftp url", "  - url: ftp://app.example.com\n    secret: " + whsec, "webhooks[0].url", "http"},
		{"no secret", "  - url: https://app.example.com/h", "webhooks[0].secret", "is required"},
		{"secret without prefix", "  - url: https://app.example.com/h\n    secret: " + secretValue, "webhooks[0].secret", "whsec_"},
		{"secret not base64", "  - url: https://app.example.com/h\n    secret: whsec_" + secretValue, "webhooks[0].secret", "base64"},
		{"short key", "  - url: https://app.example.com/h\n    secret: " + short, "webhooks[0].secret", "24 to 64 bytes"},
		{"unknown event", "  - url: https://app.example.com/h\n    secret: " + whsec + "\n    events: [connection.created, token.leaked]", "webhooks[0].events[1]", "unknown event type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := loadString(t, baseYAML+"webhooks:\n"+tc.yaml+"\n", testEnv)
			var errs *Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Load: %v, want *Errors", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.path) || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not name %s with %q", msg, tc.path, tc.want)
			}
			if strings.Contains(msg, secretValue) {
				t.Errorf("error repeats the secret: %q", msg)
			}
		})
	}
}

func TestAuditRetention(t *testing.T) {
	c, _, err := loadString(t, baseYAML, testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Audit.Retention != DefaultAuditRetention {
		t.Errorf("default audit.retention = %s, want %s", c.Audit.Retention, DefaultAuditRetention)
	}
	c, _, err = loadString(t, baseYAML+"audit: {retention: 720h}\n", testEnv)
	if err != nil || c.Audit.Retention != 720*time.Hour {
		t.Fatalf("audit.retention 720h: %v, %v", c.Audit.Retention, err)
	}
	for _, bad := range []string{"-1h", "10m"} {
		if _, _, err := loadString(t, baseYAML+"audit: {retention: "+bad+"}\n", testEnv); err == nil || !strings.Contains(err.Error(), "audit.retention") {
			t.Errorf("audit.retention %s: %v, want an error naming audit.retention", bad, err)
		}
	}
}
