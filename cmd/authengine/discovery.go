package main

import (
	"context"
	"log/slog"

	"github.com/authengine/authengine/authflow"
	"github.com/authengine/authengine/authflow/discovery"
	"github.com/authengine/authengine/config"
)

// resolveProviders completes the enabled providers that need discovery
// (oauth2.issuer) from their metadata, compiles them into
// providers and returns the ids of those whose requests must go through
// the private-address guard. cache keeps what was fetched (nil: nothing
// is kept, as for check). The first failure is returned; it names the
// provider's field.
func resolveProviders(ctx context.Context, cfg *config.Config, providers map[string]*authflow.Provider, cache discovery.Cache, log *slog.Logger) ([]string, error) {
	r := &discovery.Resolver{
		Client:       providerClient(),
		AllowPrivate: cfg.Security.AllowPrivateEndpoints,
		Cache:        cache,
		RedirectURI:  cfg.API.RedirectURI(),
		Logger:       log,
	}
	var guarded []string
	for _, p := range cfg.Auth.Providers {
		if !p.IsEnabled() || !p.NeedsDiscovery() {
			continue
		}
		res, err := r.Resolve(ctx, p)
		if err != nil {
			return nil, err
		}
		providers[p.ID] = res.Provider
		if res.Guarded {
			guarded = append(guarded, p.ID)
		}
	}
	return guarded, nil
}
