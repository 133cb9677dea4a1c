package main

import (
	"context"
	"log/slog"

	"github.com/authengine/authengine/authflow"
	"github.com/authengine/authengine/authflow/discovery"
	"github.com/authengine/authengine/config"
)

// discovered is what resolveProviders learnt for the engine's options.
type discovered struct {
	// guarded are the providers whose requests must go through the
	// private-address guard.
	guarded []string
	// mcp are the MCP providers, whose client ID metadata documents the
	// engine serves.
	mcp []string
	// reregister registers an MCP provider again (engine.Options.Reregister).
	reregister func(ctx context.Context, id string) (*authflow.Provider, error)
}

// resolveProviders completes the enabled providers that need discovery
// (oauth2.issuer, type mcp) from their metadata and compiles them into
// providers. cache keeps what was fetched and registered; without one
// (check) nothing is kept and no client is registered. The first failure
// is returned; it names the provider's field.
func resolveProviders(ctx context.Context, cfg *config.Config, providers map[string]*authflow.Provider, cache discovery.Cache, log *slog.Logger) (discovered, error) {
	r := &discovery.Resolver{
		Client:       providerClient(),
		AllowPrivate: cfg.Security.AllowPrivateEndpoints,
		Cache:        cache,
		CheckOnly:    cache == nil,
		RedirectURI:  cfg.API.RedirectURI(),
		PublicURL:    cfg.API.PublicURL,
		Logger:       log,
	}
	var out discovered
	byID := map[string]config.Provider{}
	for _, p := range cfg.Auth.Providers {
		if !p.IsEnabled() || !p.NeedsDiscovery() {
			continue
		}
		res, err := r.Resolve(ctx, p)
		if err != nil {
			return discovered{}, err
		}
		providers[p.ID] = res.Provider
		if res.Guarded {
			out.guarded = append(out.guarded, p.ID)
		}
		if p.Type == config.ProviderTypeMCP {
			out.mcp = append(out.mcp, p.ID)
			byID[p.ID] = p
		}
	}
	out.reregister = func(ctx context.Context, id string) (*authflow.Provider, error) {
		p, ok := byID[id]
		if !ok {
			return nil, nil
		}
		res, err := r.Reregister(ctx, p)
		if err != nil {
			return nil, err
		}
		return res.Provider, nil
	}
	return out, nil
}
