// Command authengine runs the auth engine.
//
//	authengine serve          start the engine
//	authengine check          validate the configuration and exit
//	authengine store check    check the store: every record opens
//	authengine store compact  shrink the embedded store's file
//	authengine keys rotate    rewrap data keys under the first root key
//	authengine try <id>       prove a provider's configuration end to end
//	authengine version        print the version and commit
//
// Every command takes --help. main only parses flags, loads the
// configuration, builds the registries and wires the packages together;
// the commands are listed once, in commands (commands.go).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// envPrefix prefixes the environment variable that stands for a flag:
// --config is AUTHENGINE_CONFIG, --allow-missing-keys is
// AUTHENGINE_ALLOW_MISSING_KEYS. A flag given on the command line wins.
const envPrefix = "AUTHENGINE_"

// flagEnv is the environment variable that stands for a flag.
func flagEnv(name string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// options holds every flag's value; each command registers the flags it
// reads (see command.flags).
type options struct {
	configPath       string
	envPath          string
	allowMissingKeys bool
	url              string
	format           string
	// args are the positional arguments of a command that takes them
	// (command.args).
	args []string
	try  tryOptions
}

// configFlags registers --config/-c and --env/-e, which every command
// that reads the configuration takes.
func configFlags(fs *pflag.FlagSet, o *options) {
	fs.StringVarP(&o.configPath, "config", "c", "engine.yaml", "configuration file")
	fs.StringVarP(&o.envPath, "env", "e", "", ".env file read before the environment (default .env when present)")
}

// command is one subcommand. name may hold two words ("store check").
type command struct {
	name    string
	summary string
	// args names the positional arguments in the usage line
	// ("<provider-id>"); "" means the command takes none.
	args string
	// flags registers the command's flags; nil means none.
	flags func(fs *pflag.FlagSet, o *options)
	run   func(ctx context.Context, o *options, stdout, stderr io.Writer) error
}

// find returns the command named by the leading words of args and the
// arguments after them.
func find(args []string) (*command, []string) {
	var best *command
	var rest []string
	for i := range commands {
		c := &commands[i]
		words := strings.Fields(c.name)
		if len(args) < len(words) || strings.Join(args[:len(words)], " ") != c.name {
			continue
		}
		if best == nil || len(words) > len(strings.Fields(best.name)) {
			best, rest = c, args[len(words):]
		}
	}
	return best, rest
}

// subcommands lists the second words of the commands that start with
// group ("store" gives check, compact).
func subcommands(group string) []string {
	var subs []string
	for _, c := range commands {
		if first, second, ok := strings.Cut(c.name, " "); ok && first == group {
			subs = append(subs, second)
		}
	}
	return subs
}

// usage is the overview printed by `authengine --help`.
func usage() string {
	var b strings.Builder
	b.WriteString("usage: authengine <command> [flags]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-15s %s\n", c.name, c.summary)
	}
	b.WriteString("\nRun 'authengine <command> --help' for the flags of a command. Every flag\n" +
		"can also be set by an environment variable: --config is " + flagEnv("config") + ".\n")
	return b.String()
}

// flagSet builds the flag set of c over o.
func flagSet(c *command, o *options) *pflag.FlagSet {
	fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
	fs.SortFlags = false
	if c.flags != nil {
		c.flags(fs, o)
	}
	fs.VisitAll(func(f *pflag.Flag) {
		f.Usage += " [$" + flagEnv(f.Name) + "]"
	})
	return fs
}

// commandUsage is the help of one command: its line and each flag once.
func commandUsage(c *command, fs *pflag.FlagSet) string {
	name := c.name
	if c.args != "" {
		name += " " + c.args
	}
	s := fmt.Sprintf("usage: authengine %s [flags]\n\n%s\n", name, c.summary)
	if fs.HasFlags() {
		s += "\nflags:\n" + fs.FlagUsages()
	}
	return s
}

// run executes one command and returns the process exit code: 0 on
// success and for --help, 1 when the command failed, 2 for a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return 2
	}
	switch args[0] {
	case "help", "-h", "--help":
		if c, _ := find(args[1:]); c != nil {
			fmt.Fprint(stdout, commandUsage(c, flagSet(c, &options{})))
		} else {
			fmt.Fprint(stdout, usage())
		}
		return 0
	case "--version", "-v":
		args = []string{"version"}
	}
	c, rest := find(args)
	if c == nil {
		if subs := subcommands(args[0]); len(subs) > 0 {
			fmt.Fprintf(stderr, "authengine %s: want %q\n\n%s", args[0], args[0]+" "+strings.Join(subs, "|"), usage())
			return 2
		}
		fmt.Fprintf(stderr, "authengine: unknown command %q\n\n%s", strings.Join(args[:min(len(args), 2)], " "), usage())
		return 2
	}
	var o options
	fs := flagSet(c, &o)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Fprint(stdout, commandUsage(c, fs))
			return 0
		}
		fmt.Fprintf(stderr, "authengine %s: %v\n\n%s", c.name, err, commandUsage(c, fs))
		return 2
	}
	if c.args != "" {
		o.args = fs.Args()
	} else if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "authengine %s: unexpected argument %q\n\n%s", c.name, fs.Arg(0), commandUsage(c, fs))
		return 2
	}
	var envErr error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || envErr != nil {
			return
		}
		if v, ok := os.LookupEnv(flagEnv(f.Name)); ok {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("%s: %w", flagEnv(f.Name), err)
			}
		}
	})
	if envErr != nil {
		fmt.Fprintf(stderr, "authengine %s: %v\n", c.name, envErr)
		return 2
	}
	if err := c.run(ctx, &o, stdout, stderr); err != nil {
		if u, ok := errors.AsType[usageError](err); ok {
			fmt.Fprintf(stderr, "authengine %s: %s\n\n%s", c.name, u.msg, commandUsage(c, fs))
			return 2
		}
		if !errors.Is(err, errReported) {
			fmt.Fprintln(stderr, "authengine:", err)
		}
		return 1
	}
	return 0
}

// usageError is a bad command line a command finds itself (a missing
// argument, flags that do not go together): exit 2 with the message and
// the command's usage.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// errReported means the details were already printed.
var errReported = errors.New("reported")
