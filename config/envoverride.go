package config

import (
	"sort"
	"strings"

	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/v2"
)

// EnvOverrides maps the environment variables that override a setting of
// the configuration file to the setting's path. They are the settings
// operators change most; the real environment (or .env) wins over the
// file, so moving the engine to another port is one variable.
var EnvOverrides = map[string]string{
	"AUTHENGINE_API_HOST":        "api.host",
	"AUTHENGINE_API_PORT":        "api.port",
	"AUTHENGINE_API_PUBLIC_URL":  "api.public_url",
	"AUTHENGINE_LOG_LEVEL":       "telemetry.log.level",
	"AUTHENGINE_LOG_FORMAT":      "telemetry.log.format",
	"AUTHENGINE_DATA_DIR":        "data_dir",
	"AUTHENGINE_STORE_TYPE":      "store.type",
	"AUTHENGINE_API_DEVELOPMENT": "api.development",
}

// loadEnvOverrides merges the variables of EnvOverrides that lookup finds
// into k, through koanf's env provider, over the file's values. k's key
// delimiter is "\x00".
func loadEnvOverrides(k *koanf.Koanf, lookup func(string) (string, bool)) error {
	if lookup == nil {
		return nil
	}
	names := make([]string, 0, len(EnvOverrides))
	for name := range EnvOverrides {
		names = append(names, name)
	}
	sort.Strings(names)
	var environ []string
	for _, name := range names {
		if v, ok := lookup(name); ok {
			environ = append(environ, name+"="+v)
		}
	}
	if len(environ) == 0 {
		return nil
	}
	return k.Load(env.Provider("\x00", env.Opt{
		Prefix:      "AUTHENGINE_",
		EnvironFunc: func() []string { return environ },
		TransformFunc: func(name, v string) (string, any) {
			return strings.ReplaceAll(EnvOverrides[name], ".", "\x00"), v
		},
	}), nil)
}
