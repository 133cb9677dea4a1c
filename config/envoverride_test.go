package config

import (
	"strings"
	"testing"
)

// TestEnvOverrides checks that each AUTHENGINE_* setting variable wins
// over the file (and the default), and that a bad value is refused naming
// the setting.
func TestEnvOverrides(t *testing.T) {
	cases := []struct {
		name  string
		env   map[string]string
		check func(c *Config) bool
	}{
		{"port", map[string]string{"AUTHENGINE_API_PORT": "18080"}, func(c *Config) bool { return c.API.Port == 18080 }},
		{"host", map[string]string{"AUTHENGINE_API_HOST": "0.0.0.0"}, func(c *Config) bool { return c.API.Host == "0.0.0.0" }},
		{"public url", map[string]string{"AUTHENGINE_API_PUBLIC_URL": "https://login.example.org"}, func(c *Config) bool {
			return c.API.PublicURL == "https://login.example.org"
		}},
		{"log level and format", map[string]string{"AUTHENGINE_LOG_LEVEL": "debug", "AUTHENGINE_LOG_FORMAT": "text"}, func(c *Config) bool {
			return c.Telemetry.Log.Level == "debug" && c.Telemetry.Log.Format == "text"
		}},
		{"none set keeps the file", nil, func(c *Config) bool { return c.API.PublicURL == "https://auth.example.com" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range testEnv {
				env[k] = v
			}
			for k, v := range tc.env {
				env[k] = v
			}
			c, _, err := loadWithOverrides(t, env)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			if !tc.check(c) {
				t.Errorf("%v not applied: api=%+v log=%+v", tc.env, c.API, c.Telemetry.Log)
			}
		})
	}
	t.Run("bad value names the setting", func(t *testing.T) {
		env := map[string]string{"AUTHENGINE_API_PORT": "eighty"}
		for k, v := range testEnv {
			env[k] = v
		}
		_, _, err := loadWithOverrides(t, env)
		if err == nil || !strings.Contains(err.Error(), "api.port") {
			t.Fatalf("AUTHENGINE_API_PORT=eighty: got %v, want an error naming api.port", err)
		}
	})
}

func loadWithOverrides(t *testing.T, env map[string]string) (*Config, []string, error) {
	t.Helper()
	path := writeFile(t, "engine.yaml", baseYAML)
	empty := writeFile(t, "empty.env", "")
	return Load(path, WithEnvFile(empty), WithLookupEnv(lookupIn(env)), WithEnvOverrides())
}

// TestEnvOverridesNeedTheOption checks that Load without WithEnvOverrides
// ignores the variables.
func TestEnvOverridesNeedTheOption(t *testing.T) {
	env := map[string]string{"AUTHENGINE_API_PORT": "18080"}
	for k, v := range testEnv {
		env[k] = v
	}
	c, _, err := loadString(t, baseYAML, env)
	if err != nil || c.API.Port == 18080 {
		t.Fatalf("without WithEnvOverrides the variable was applied (err %v)", err)
	}
}
