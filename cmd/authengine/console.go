package main

import (
	"log/slog"

	"github.com/labstack/echo/v4"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine"
	"github.com/authengine/authengine/engine/console"
	"github.com/authengine/authengine/engine/store"
)

// mountConsole serves the operator console (console.enabled) at /console/
// on e: the main listener, or the admin listener when api.admin_listen
// keeps the admin plane off the public network.
func mountConsole(e *echo.Echo, cfg *config.Config, eng *engine.Engine, st store.Store, sealer engine.Sealer, adminKeys []string, log *slog.Logger) error {
	if !cfg.Console.IsEnabled() {
		return nil
	}
	con, err := console.New(console.Options{
		Engine: eng, Sessions: st, Sealer: sealer, AdminKeys: adminKeys, PublicURL: cfg.API.PublicURL,
		IdleTimeout: cfg.Console.IdleTimeout, MaxAge: cfg.Console.MaxAge, SignInAttempts: cfg.Console.SignInAttempts,
		Logger: log,
	})
	if err != nil {
		return err
	}
	con.Mount(e)
	return nil
}
