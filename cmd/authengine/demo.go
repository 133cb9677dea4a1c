package main

import (
	"log/slog"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine/demo"
)

// mountDemo serves the built-in demo provider under /demo/oauth/ in
// development mode; with development off its routes do not exist, and a
// provider still pointing at them is named in a warning.
func mountDemo(e *echo.Echo, cfg *config.Config, log *slog.Logger) {
	if !cfg.API.Development {
		for _, id := range providersOnDemo(cfg) {
			log.Warn("this provider uses the built-in demo provider, which exists only with api.development: true; its authorizations will fail: remove it from the configuration", "provider", id)
		}
		return
	}
	h := echo.WrapHandler(demo.New(demo.Options{RedirectURI: cfg.API.RedirectURI(), Logger: log}).Handler())
	// The routes the demo's handler serves, each named, so the server's
	// route table (and docs/openapi.yaml) lists them.
	e.GET(demo.Prefix+"/authorize", h)
	e.POST(demo.Prefix+"/authorize", h)
	e.POST(demo.Prefix+"/token", h)
	e.GET(demo.Prefix+"/userinfo", h)
}

// providersOnDemo lists the enabled providers whose authorize endpoint is
// the engine's own demo provider.
func providersOnDemo(cfg *config.Config) []string {
	public, err := url.Parse(cfg.API.PublicURL)
	if err != nil {
		return nil
	}
	var ids []string
	for _, p := range cfg.Auth.Providers {
		if !p.IsEnabled() || p.OAuth2.AuthorizeRequest == nil {
			continue
		}
		u, err := url.Parse(p.OAuth2.AuthorizeRequest.Endpoint)
		if err == nil && u.Host == public.Host && strings.HasPrefix(u.Path, demo.Prefix+"/") {
			ids = append(ids, p.ID)
		}
	}
	return ids
}
