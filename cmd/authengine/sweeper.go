package main

import (
	"errors"
	"log/slog"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine"
	"github.com/authengine/authengine/engine/store"
	"github.com/authengine/authengine/engine/sweeper"
)

// startSweeper starts the background refresh on the engine's lifecycle
// (Engine.Close stops and waits for it) when refresh.sweeper.enabled.
// Every instance runs one; the one holding the store's sweep lock sweeps.
func startSweeper(cfg *config.Config, st store.Store, eng *engine.Engine, log *slog.Logger) error {
	c := cfg.Refresh.Sweeper
	if !c.Enabled {
		return nil
	}
	sw := sweeper.New(sweeper.Options{
		Engine: eng, Locker: st, Interval: c.Interval, Window: c.Window, IdleAfter: c.IdleAfter,
		Concurrency: c.Concurrency, Logger: log.With("component", "sweeper"),
	})
	if !eng.Go(sw.Run) {
		return errors.New("start the refresh sweeper: the engine is closed")
	}
	log.Info("background refresh started", "interval", c.Interval, "window", c.Window, "idle_after", c.IdleAfter)
	return nil
}
