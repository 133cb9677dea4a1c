// Command authengine runs the auth engine.
//
//	authengine serve   [-c engine.yaml] [-e .env]   start the engine
//	authengine check   [-c engine.yaml] [-e .env]   validate the configuration and exit
//	authengine store check [-c engine.yaml]          check the store: every record opens
//	authengine store compact [-c engine.yaml]        shrink the embedded store's file
//	authengine keys rotate [-c engine.yaml]          rewrap data keys under the first root key
//	authengine version                              print the version
//
// main only parses flags, loads the configuration, builds the registries
// and wires the packages together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: authengine <command> [flags]

commands:
  serve         start the engine
  check         validate the configuration (every error at once) and exit
  store check   check the store: bbolt's consistency check (embedded; stop the engine
                first) and that every record opens with the configured keys
  store compact rewrite the embedded store's file without its free pages (a bbolt
                file never shrinks on its own) and print the sizes; stop the
                engine first
  keys rotate   rewrap every data key under the first root key and reseal records of
                the old format, so older root keys can be removed (resumable, online
                on Redis)
  version       print the version

flags (serve, check, store check, store compact, keys rotate):
  -c, --config FILE   configuration file (default engine.yaml)
  -e, --env FILE      .env file read before the environment (default .env when present)

flags (serve):
  --allow-missing-keys   start even when stored records are sealed with root keys
                         that are not configured (their users authorize again)
`

// run executes one command and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "authengine", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case "serve", "check":
	case "store", "keys":
		want := map[string][]string{"store": {"check", "compact"}, "keys": {"rotate"}}[cmd]
		if len(rest) == 0 || !slices.Contains(want, rest[0]) {
			fmt.Fprintf(stderr, "authengine %s: want %q\n\n%s", cmd, cmd+" "+strings.Join(want, "|"), usage)
			return 2
		}
		cmd, rest = cmd+" "+rest[0], rest[1:]
	default:
		fmt.Fprintf(stderr, "authengine: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var configPath, envPath string
	fs.StringVar(&configPath, "c", "engine.yaml", "configuration file")
	fs.StringVar(&configPath, "config", "engine.yaml", "configuration file")
	fs.StringVar(&envPath, "e", "", ".env file")
	fs.StringVar(&envPath, "env", "", ".env file")
	var allowMissingKeys bool
	if cmd == "serve" {
		fs.BoolVar(&allowMissingKeys, "allow-missing-keys", false, "start even when records are sealed with root keys that are not configured")
	}
	if err := fs.Parse(rest); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "authengine %s: unexpected argument %q\n", cmd, fs.Arg(0))
		return 2
	}
	var err error
	switch cmd {
	case "check":
		err = check(configPath, envPath, stdout, stderr)
	case "store check":
		err = storeCheck(ctx, configPath, envPath, stdout, stderr)
	case "store compact":
		err = storeCompact(ctx, configPath, envPath, stdout, stderr)
	case "keys rotate":
		err = keysRotate(ctx, configPath, envPath, stdout, stderr)
	default:
		err = serve(ctx, configPath, envPath, allowMissingKeys, stdout, stderr)
	}
	if err != nil {
		if !errors.Is(err, errReported) {
			fmt.Fprintln(stderr, "authengine:", err)
		}
		return 1
	}
	return 0
}

// errReported means the details were already printed.
var errReported = errors.New("reported")
