package engine

import (
	"github.com/authengine/authengine/authflow"
)

// declaredProviders are the engine.yaml providers: enabled ones compiled
// by id, the ids of disabled ones, and those whose requests go through
// the guarded runtime client.
type declaredProviders struct {
	providers map[string]*authflow.Provider
	disabled  map[string]bool
	guarded   map[string]bool
}

// SetProviders replaces the engine.yaml providers, as New sets them from
// Options.Providers, DisabledProviders and GuardedProviders: a reloaded
// configuration takes effect for every request that starts after it. A
// flow started under a provider that is gone ends failed at its callback
// (provider_removed), as when a runtime provider is deleted. SetConfigProviders
// updates what the admin API shows.
func (e *Engine) SetProviders(providers map[string]*authflow.Provider, disabled, guarded []string) {
	d := &declaredProviders{
		providers: make(map[string]*authflow.Provider, len(providers)),
		disabled:  make(map[string]bool, len(disabled)),
		guarded:   make(map[string]bool, len(guarded)),
	}
	for id, p := range providers {
		if e.providerClock != nil {
			p = p.WithClock(e.providerClock)
		}
		d.providers[id] = p
	}
	for _, id := range disabled {
		d.disabled[id] = true
	}
	for _, id := range guarded {
		d.guarded[id] = true
	}
	e.declared.Store(d)
}
