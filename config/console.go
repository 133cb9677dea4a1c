package config

import "time"

// Console configures the operator console (engine/console), served by the
// engine at <public_url>/console/ to holders of an admin key.
type Console struct {
	// Enabled serves the console (default true). With no api.admin_keys
	// nobody can sign in to it.
	Enabled *bool `koanf:"enabled"`
	// IdleTimeout ends a session not used for this long. Default 30m.
	IdleTimeout time.Duration `koanf:"idle_timeout"`
	// MaxAge ends a session this long after sign-in, however busy.
	// Default 12h.
	MaxAge time.Duration `koanf:"max_age"`
	// SignInAttempts is how many failed sign-ins one client address may
	// make per minute before it is answered 429. Default 5.
	SignInAttempts int `koanf:"sign_in_attempts"`
}

// Console defaults.
const (
	DefaultConsoleIdleTimeout    = 30 * time.Minute
	DefaultConsoleMaxAge         = 12 * time.Hour
	DefaultConsoleSignInAttempts = 5
)

// IsEnabled reports whether the console is served (default true).
func (c Console) IsEnabled() bool { return c.Enabled == nil || *c.Enabled }

func consoleDefaults(c *Console) {
	if c.Enabled == nil {
		t := true
		c.Enabled = &t
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultConsoleIdleTimeout
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultConsoleMaxAge
	}
	if c.SignInAttempts == 0 {
		c.SignInAttempts = DefaultConsoleSignInAttempts
	}
}

// validateConsole checks the console block: positive durations, an idle
// timeout no longer than the maximum age, a positive attempt count.
func validateConsole(c *Config, r *report) {
	k := c.Console
	if k.IdleTimeout < 0 {
		r.errorf("console.idle_timeout", "must be positive, not %s", k.IdleTimeout)
	}
	if k.MaxAge < 0 {
		r.errorf("console.max_age", "must be positive, not %s", k.MaxAge)
	}
	if k.IdleTimeout > 0 && k.MaxAge > 0 && k.IdleTimeout > k.MaxAge {
		r.errorf("console.idle_timeout", "must not be longer than console.max_age (%s)", k.MaxAge)
	}
	if k.SignInAttempts < 0 {
		r.errorf("console.sign_in_attempts", "must be positive, not %d", k.SignInAttempts)
	}
}
