package main

import (
	"context"
	"io"

	"github.com/spf13/pflag"

	"github.com/authengine/authengine/config"
)

// commands lists every subcommand, in the order the help shows them. To
// add one, append an entry: its name, a one-line summary, the flags it
// reads (configFlags for --config/--env) and the function that runs it.
var commands = []command{
	{
		name:    "serve",
		summary: "start the engine (SIGHUP reloads the configuration, SIGTERM drains and stops)",
		flags: func(fs *pflag.FlagSet, o *options) {
			configFlags(fs, o)
			fs.BoolVar(&o.allowMissingKeys, "allow-missing-keys", false, "start even when stored records are sealed with root keys that are not configured (their users authorize again)")
		},
		run: func(ctx context.Context, o *options, stdout, stderr io.Writer) error {
			return serve(ctx, o.configPath, o.envPath, o.allowMissingKeys, stdout, stderr)
		},
	},
	{
		name:    "check",
		summary: "validate the configuration (every error at once) and exit",
		flags:   configFlags,
		run: func(_ context.Context, o *options, stdout, stderr io.Writer) error {
			return check(o.configPath, o.envPath, stdout, stderr)
		},
	},
	{
		name:    "store check",
		summary: "check the store: bbolt's consistency check (embedded; stop the engine first) and that every record opens with the configured keys",
		flags:   configFlags,
		run: func(ctx context.Context, o *options, stdout, stderr io.Writer) error {
			return storeCheck(ctx, o.configPath, o.envPath, stdout, stderr)
		},
	},
	{
		name:    "store compact",
		summary: "rewrite the embedded store's file without its free pages (a bbolt file never shrinks on its own) and print the sizes; stop the engine first",
		flags:   configFlags,
		run: func(ctx context.Context, o *options, stdout, stderr io.Writer) error {
			return storeCompact(ctx, o.configPath, o.envPath, stdout, stderr)
		},
	},
	{
		name:    "keys rotate",
		summary: "rewrap every data key under the first root key and reseal records of the old format, so older root keys can be removed (resumable, online on Redis)",
		flags:   configFlags,
		run: func(ctx context.Context, o *options, stdout, stderr io.Writer) error {
			return keysRotate(ctx, o.configPath, o.envPath, stdout, stderr)
		},
	},
	{
		name:    "try",
		args:    "<provider-id>",
		summary: "prove a provider's configuration: one real authorization through an engine (in-process, or --engine), the token fields it mapped (masked), one refresh and one user-info call, each step ✓ or ✗ with the provider's error and a hint; exit 0 only when every step passed",
		flags:   tryFlags,
		run:     tryProvider,
	},
	{
		name:    "healthcheck",
		summary: "exit 0 when the engine at --url answers its readiness probe with 200 (a container HEALTHCHECK without a shell)",
		flags: func(fs *pflag.FlagSet, o *options) {
			fs.StringVar(&o.url, "url", "http://127.0.0.1:9099/v1/health/ready", "the probe to ask")
		},
		run: func(ctx context.Context, o *options, stdout, _ io.Writer) error {
			return healthcheck(ctx, o.url, stdout)
		},
	},
	{
		name:    "catalog",
		summary: "list the built-in provider templates (provider_id); --format markdown prints docs/providers.md",
		flags: func(fs *pflag.FlagSet, o *options) {
			fs.StringVar(&o.format, "format", "text", "text (a table) or markdown (docs/providers.md)")
		},
		run: func(_ context.Context, o *options, stdout, _ io.Writer) error {
			return listCatalog(o.format, stdout)
		},
	},
	{
		name:    "schema",
		summary: "print the JSON Schema of engine.yaml (schema/engine.schema.json), for editors and validators",
		run: func(_ context.Context, _ *options, stdout, _ io.Writer) error {
			_, err := stdout.Write(config.JSONSchema())
			return err
		},
	},
	{
		name:    "version",
		summary: "print the module version, the commit and the Go version",
		run: func(_ context.Context, _ *options, stdout, _ io.Writer) error {
			_, err := io.WriteString(stdout, versionString()+"\n")
			return err
		},
	},
}
