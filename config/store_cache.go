package config

import "time"

// StoreCache configures the in-memory cache of opened connections
// (store.cache): each engine instance keeps the connections it hands
// tokens out of, unsealed, and drops one the moment any instance writes
// it, through the store's change feed.
type StoreCache struct {
	// Enabled keeps opened connections in memory (default true).
	Enabled *bool `koanf:"enabled"`
	// MaxEntries bounds the connections kept per instance. Default 10000.
	MaxEntries int `koanf:"max_entries"`
	// MaxAge is how long a connection is served from memory after it was
	// read from the store, whatever the feed says; 0 turns the bound off.
	// Default 10m.
	MaxAge *time.Duration `koanf:"max_age"`
}

// Store cache defaults.
const (
	DefaultStoreCacheMaxEntries = 10_000
	DefaultStoreCacheMaxAge     = 10 * time.Minute
)

// IsEnabled reports whether the cache is on (default true).
func (c StoreCache) IsEnabled() bool { return c.Enabled == nil || *c.Enabled }

func storeCacheDefaults(c *StoreCache) {
	if c.Enabled == nil {
		t := true
		c.Enabled = &t
	}
	if c.MaxEntries == 0 {
		c.MaxEntries = DefaultStoreCacheMaxEntries
	}
	if c.MaxAge == nil {
		d := DefaultStoreCacheMaxAge
		c.MaxAge = &d
	}
}

// validateStoreCache checks the store.cache block: a positive size and a
// maximum age that is not negative.
func validateStoreCache(c *Config, r *report) {
	k := c.Store.Cache
	if k.MaxEntries < 0 {
		r.errorf("store.cache.max_entries", "must be positive, not %d", k.MaxEntries)
	}
	if k.MaxAge != nil && *k.MaxAge < 0 {
		r.errorf("store.cache.max_age", "must not be negative (0 turns it off), not %s", *k.MaxAge)
	}
}
