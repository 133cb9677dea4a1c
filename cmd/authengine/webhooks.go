package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine"
	"github.com/authengine/authengine/engine/events"
	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/internal/netguard"
)

// webhookEventTypes are the event types some configured webhook wants:
// the ones the engine records in its outbox.
func webhookEventTypes(cfg *config.Config) []string {
	var types []string
	for _, w := range cfg.Webhooks {
		want := w.Events
		if len(want) == 0 {
			want = events.Types
		}
		for _, t := range want {
			if !slices.Contains(types, t) {
				types = append(types, t)
			}
		}
	}
	return types
}

// startWebhooks starts the webhook deliverer on the engine's lifecycle
// (Engine.Close stops and waits for it) when webhooks are configured.
// Every instance runs one; the one holding the store's delivery lock
// delivers. Webhook URLs cannot reach private addresses unless
// security.allow_private_endpoints is set (checked when connecting, so a
// name that later resolves to a private address is refused too).
func startWebhooks(cfg *config.Config, st store.Store, eng *engine.Engine, log *slog.Logger) error {
	if len(cfg.Webhooks) == 0 {
		return nil
	}
	var eps []events.Endpoint
	for i, w := range cfg.Webhooks {
		sec, err := events.ParseSecret(w.Secret)
		if err != nil {
			return fmt.Errorf("webhooks[%d].secret: %w", i, err)
		}
		eps = append(eps, events.Endpoint{URL: w.URL, Secret: sec, Events: w.Events})
	}
	d := events.NewDeliverer(events.Options{Store: st, Endpoints: eps, Client: webhookClient(cfg.Security.AllowPrivateEndpoints), Logger: log.With("component", "webhooks")})
	if !eng.Go(d.Run) {
		return fmt.Errorf("start webhook delivery: the engine is closed")
	}
	log.Info("webhook delivery started", "webhooks", len(eps), "events", webhookEventTypes(cfg))
	return nil
}

// webhookClient posts webhook events: it follows no redirect (the
// receiver must answer 2xx itself) and, unless allowPrivate, refuses to
// connect to a non-public address.
func webhookClient(allowPrivate bool) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = events.DefaultTimeout
	if !allowPrivate {
		tr = netguard.Transport(tr)
	}
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
