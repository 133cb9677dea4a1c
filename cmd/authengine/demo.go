package main

import (
	"log/slog"

	"github.com/labstack/echo/v4"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine/demo"
)

// mountDemo serves the built-in demo provider under /demo/oauth/ in
// development mode; with development off its routes do not exist.
func mountDemo(e *echo.Echo, cfg *config.Config, log *slog.Logger) {
	if !cfg.API.Development {
		return
	}
	p := demo.New(demo.Options{RedirectURI: cfg.API.RedirectURI(), Logger: log})
	e.Any(demo.Prefix+"/*", echo.WrapHandler(p.Handler()))
}
