package config

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestConfigNeverPrintsOrLogsSecrets(t *testing.T) {
	env := without(testEnv, "HOOLI_CLIENT_ID")
	env["HOOLI_CLIENT_ID"] = "hooli-public-client-id" // client ids are not secret
	c, _, err := loadString(t, strings.Replace(baseYAML, "store:\n  type: embedded", "store:\n  type: redis\n  redis: {url: \"redis://u:$<env:HOOLI_CLIENT_SECRET>@127.0.0.1:6379/0\", password: $<env:AUTHENGINE_API_KEY>}", 1), env)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	logger.Info("config", "api", c.API, "redis", c.Store.Redis, "provider", c.Auth.Providers[0],
		"root_key", c.Security.RootKeys[0], "worker", c.Tools.Workers[0].HTTP)
	outputs := map[string]string{
		"%v of the config":  fmt.Sprintf("%v", *c),
		"%+v of the config": fmt.Sprintf("%+v", *c),
		"%+v of a pointer":  fmt.Sprintf("%+v", c),
		"slog JSON":         logs.String(),
	}
	for name, out := range outputs {
		t.Run(name+" holds no secret", func(t *testing.T) {
			if strings.Contains(out, secretValue) || strings.Contains(out, rootKeyValue) {
				t.Fatalf("secret in output: %s", out)
			}
			if !strings.Contains(out, "hooli") {
				t.Fatalf("output lost non-secret fields: %s", out)
			}
		})
	}
}
