package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine"
	"github.com/authengine/authengine/engine/tools"
	"github.com/authengine/authengine/engine/workerclient"
)

// startupCatalogTimeout bounds the first catalog fetch at startup.
const startupCatalogTimeout = 5 * time.Second

// buildTools builds the tools service from tools.workers: one worker client
// per enabled worker and a registry of their catalogs. The first catalog
// fetch must not hold up startup when a worker is down: its failure is
// logged, and the registry fills in on a later refresh (every
// workerclient.DefaultRefreshInterval, or at once when a tool name misses).
// The returned stop func ends the background refresh. With no enabled
// worker it returns a nil service and a no-op stop.
func buildTools(ctx context.Context, cfg *config.Config, eng *engine.Engine, log *slog.Logger) (*tools.Service, func(), error) {
	var clients []*workerclient.Client
	for _, w := range cfg.Tools.Workers {
		if !w.IsEnabled() {
			log.Info("tool worker disabled", "worker", w.ID)
			continue
		}
		clients = append(clients, workerclient.New(workerclient.Options{
			ID:      w.ID,
			URI:     w.HTTP.URI,
			Secret:  w.HTTP.Secret,
			Timeout: w.HTTP.Timeout,
			Retry:   w.HTTP.Retry,
		}))
	}
	if len(clients) == 0 {
		return nil, func() {}, nil
	}
	reg := workerclient.NewRegistry(workerclient.RegistryOptions{Workers: clients, Logger: log})

	// Bound the first fetch (the worker client's retries included): a
	// worker that is down must not delay serving. The background refresh
	// and Resolve's refresh-on-miss catch up when it comes up.
	fetchCtx, cancel := context.WithTimeout(ctx, startupCatalogTimeout)
	if err := reg.Refresh(fetchCtx); err != nil {
		log.Warn("tool catalog incomplete at startup; continuing, it refreshes in the background", "err", err)
	}
	cancel()
	log.Info("tool workers configured", "workers", len(clients), "tools", len(reg.Tools()))

	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		reg.Run(runCtx)
	}()
	svc := tools.New(tools.Options{Engine: eng, Registry: reg, Logger: log})
	return svc, func() { stop(); <-done }, nil
}
