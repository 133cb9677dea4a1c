package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strings"

	"github.com/authengine/authengine/config"
	"github.com/authengine/authengine/engine"
)

// reload re-reads the configuration (SIGHUP) and applies what can change
// while the engine serves: the engine.yaml providers, the API and admin
// keys, and the log level. It checks the new configuration exactly as
// check does first (load, compile, start-up checks, discovery); on any
// error it logs the error, naming the field, and keeps the running
// configuration whole. Settings that need a new listener, store or
// process (listen addresses, store, root keys, ...) are named in a
// warning and take effect at the next restart.
func (i *instance) reload(ctx context.Context, configPath, envPath string, level *slog.LevelVar) {
	log := i.log
	log.Info("reloading the configuration (SIGHUP)", "config", configPath)
	// An error is redacted by the running configuration's references and,
	// once the new file is loaded, by the new one's too: a value the new
	// file reads from $<env:> or $<file:> is as secret as the old ones.
	redact := i.cfg.Redact
	refuse := func(err error) {
		if !errors.Is(err, errReported) {
			log.Error("invalid configuration", "config", configPath, "errors", strings.Split(strings.TrimSpace(redact(err.Error())), "\n"))
		}
		log.Error("configuration reload refused; the running configuration is kept", "config", configPath)
	}
	l, err := loadReporting(configPath, envPath, func(*config.Config) reporter { return logReport{log} })
	if err != nil {
		refuse(err)
		return
	}
	cfg := l.cfg
	redact = func(s string) string { return i.cfg.Redact(cfg.Redact(s)) }
	if _, err := startupChecks(cfg); err != nil {
		refuse(err)
		return
	}
	found, err := resolveProviders(ctx, cfg, l.providers, engine.DiscoveryCache{Store: i.store, Sealer: i.sealer}, log)
	if err != nil {
		refuse(err)
		return
	}
	_, apiKeys, adminKeys, err := resolveKeys(cfg, log, io.Discard, false)
	if err != nil {
		refuse(err)
		return
	}

	i.engine.SetProviders(l.providers, disabledProviders(cfg), found.guarded)
	i.engine.SetReregister(found.reregister)
	i.engine.SetConfigProviders(cfg.DisplayProviders())
	i.keys.Set(apiKeys, adminKeys)
	if !slices.Equal(sorted(found.mcp), sorted(i.mcp)) {
		log.Warn("the MCP providers changed: the client ID metadata documents the engine serves change at the next restart", "setting", "auth.providers")
	}
	for _, setting := range restartOnly(i.cfg, cfg) {
		log.Warn("a changed setting takes effect at the next restart, not on reload", "setting", setting)
	}
	// Logged before the level changes, so a higher level does not hide it.
	log.Info("configuration reloaded", "config", configPath, "providers", len(l.providers),
		"disabled_providers", len(disabledProviders(cfg)), "log_level", logLevel(cfg.Telemetry.Log.Level).String())
	level.Set(logLevel(cfg.Telemetry.Log.Level))
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }

// restartOnly names the settings that differ between the running
// configuration and next, other than those a reload applies
// (auth.providers, api.api_keys, api.admin_keys, telemetry.log.level).
func restartOnly(running, next *config.Config) []string {
	a, b := *running, *next
	a.Auth.Providers, b.Auth.Providers = nil, nil
	a.API.APIKeys, b.API.APIKeys = nil, nil
	a.API.AdminKeys, b.API.AdminKeys = nil, nil
	a.Telemetry.Log.Level, b.Telemetry.Log.Level = "", ""
	return changedKeys(reflect.ValueOf(a), reflect.ValueOf(b), "")
}

// changedKeys lists the koanf paths of the leaves or lists that differ
// between two values of one config struct type, a whole section when
// only part of it can be told (a list).
func changedKeys(a, b reflect.Value, prefix string) []string {
	if a.Kind() != reflect.Struct {
		if reflect.DeepEqual(a.Interface(), b.Interface()) {
			return nil
		}
		return []string{prefix}
	}
	var out []string
	for j := range a.NumField() {
		f := a.Type().Field(j)
		key, _, _ := strings.Cut(f.Tag.Get("koanf"), ",")
		if key == "" || key == "-" || !f.IsExported() {
			continue
		}
		path := key
		if prefix != "" {
			path = prefix + "." + key
		}
		out = append(out, changedKeys(a.Field(j), b.Field(j), path)...)
	}
	return out
}
