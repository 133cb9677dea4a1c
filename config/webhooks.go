package config

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
)

// WebhookEventTypes are the lifecycle event types a webhook may ask for
// (engine/events defines them; docs/webhooks.md describes them).
var WebhookEventTypes = []string{
	"connection.created", "connection.needs_reauth", "connection.refresh_failed",
	"connection.disconnected", "connection.deleted", "flow.failed",
}

// validateWebhooks checks the webhooks list: an http(s) URL, a whsec_
// secret of 24 to 64 bytes, known event types.
func validateWebhooks(c *Config, r *report) {
	for i, w := range c.Webhooks {
		base := fmt.Sprintf("webhooks[%d]", i)
		if w.URL == "" {
			r.errorf(base+".url", "is required")
		} else if msg := checkHTTPURL(w.URL); msg != "" {
			r.errorf(base+".url", "%s", msg)
		}
		switch key, ok := strings.CutPrefix(w.Secret, "whsec_"); {
		case w.Secret == "":
			r.errorf(base+".secret", "is required (whsec_ followed by a key of 24 to 64 bytes in base64; generate one with: echo whsec_$(openssl rand -base64 32))")
		case !ok:
			r.errorf(base+".secret", "must start with whsec_ followed by the key in base64")
		default:
			raw, err := base64.StdEncoding.DecodeString(key)
			if err != nil {
				r.errorf(base+".secret", "the part after whsec_ is not valid base64")
			} else if len(raw) < 24 || len(raw) > 64 {
				r.errorf(base+".secret", "the key must be 24 to 64 bytes, not %d", len(raw))
			}
		}
		for j, ev := range w.Events {
			if !slices.Contains(WebhookEventTypes, ev) {
				r.errorf(fmt.Sprintf("%s.events[%d]", base, j), "unknown event type %q (want one of %s)", ev, strings.Join(WebhookEventTypes, ", "))
			}
		}
	}
}
