package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConsoleDefaultsOn(t *testing.T) {
	c, _, err := loadString(t, baseYAML, testEnv)
	if err != nil {
		t.Fatal(err)
	}
	k := c.Console
	if !k.IsEnabled() || k.IdleTimeout != DefaultConsoleIdleTimeout || k.MaxAge != DefaultConsoleMaxAge || k.SignInAttempts != DefaultConsoleSignInAttempts {
		t.Errorf("console defaults = %+v", k)
	}
	c, _, err = loadString(t, baseYAML+"console: {enabled: false, idle_timeout: 5m, max_age: 1h, sign_in_attempts: 3}\n", testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if k := c.Console; k.IsEnabled() || k.IdleTimeout != 5*time.Minute || k.MaxAge != time.Hour || k.SignInAttempts != 3 {
		t.Errorf("console = %+v", k)
	}
}

func TestBadConsoleSettingsAreRefusedWithTheirFieldPath(t *testing.T) {
	for _, tc := range []struct{ name, yaml, path, want string }{
		{"idle longer than max age", "{idle_timeout: 2h, max_age: 1h}", "console.idle_timeout", "max_age"},
		{"negative max age", "{max_age: -1h}", "console.max_age", "positive"},
		{"negative attempts", "{sign_in_attempts: -1}", "console.sign_in_attempts", "positive"},
		{"unknown key", "{enable: false}", "console.enable", "enabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := loadString(t, baseYAML+"console: "+tc.yaml+"\n", testEnv)
			var errs *Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Load: %v, want *Errors", err)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.path) || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not name %s with %q", msg, tc.path, tc.want)
			}
		})
	}
}
