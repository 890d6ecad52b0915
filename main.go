// Command studiobake bakes Mastra Studio for CDN hosting.
//
// main.go is a shell: it builds the cli.App, runs it, and prints an error once
// as "studiobake: <err>". Every command lives in a cmd_*.go file and turns its
// *cli.Context into a typed options struct for a package that knows nothing
// of urfave/cli.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"context"

	"github.com/studiobake/studiobake/env"
	"github.com/urfave/cli/v2"
	"github.com/urfave/cli/v2/altsrc"
)

// version is set at link time (-ldflags "-X main.version=v1.2.3", as
// release/build.sh does); otherwise it is what the Go toolchain recorded: the
// module version of `go install ...@v1.2.3`, or the commit a checkout was
// built from. It must stay uninitialised here: -X cannot replace a value
// computed by a function call.
var version string

func init() {
	if version == "" {
		version = buildVersion()
	}
}

func buildVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return "dev-" + s.Value[:12]
		}
	}
	return "dev"
}

// repeatedSignalWindow is how long after the first Ctrl-C further ones are
// taken as copies of it rather than a second press.
const repeatedSignalWindow = time.Second

// Exit codes: 0 ok, 1 error, 2 usage.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first Ctrl-C cancels the work, which then stops cleanly and
		// says so; a second one ends the process at once, still with one of
		// studiobake's exit codes rather than the signal's. The terminal
		// signals the whole process group, and npm run, npx and studiobake's
		// npm launcher pass the same Ctrl-C on once more (npm/cli#5021):
		// copies within a second of the first are not a second Ctrl-C.
		<-sigs
		first := time.Now()
		cancel()
		for s := range sigs {
			if time.Since(first) < repeatedSignalWindow {
				continue
			}
			fmt.Fprintf(os.Stderr, "studiobake: %v again: stopped at once; run the command again to finish\n", s)
			os.Exit(exitError)
		}
	}()
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	os.Exit(code)
}

// usageError marks a mistake in how the command was called (exit 2).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// run is main without the process: tests call it with their own writers.
// It returns 0, 1 or 2 and nothing else, whatever failed: a child process's
// exit status (which satisfies cli.ExitCoder) never leaks out.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	app.Metadata = map[string]any{}
	err := checkCommandName(app, args)
	if err == nil {
		err = checkRepeats(app, args)
	}
	if err == nil {
		err = app.RunContext(ctx, args)
	}
	if err != nil && wantsJSON(app, args) {
		writeFailure(app, stdout, args, errorCode(err, ctx.Err() != nil), err)
	}
	return exitCode(ctx, err, stderr)
}

// exitCode reports err once and maps it to 0, 1 or 2.
func exitCode(ctx context.Context, err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	if ctx.Err() != nil && !errors.Is(err, context.Canceled) {
		err = fmt.Errorf("interrupted: %w", err)
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) && ec.Error() == "" && ec.ExitCode() == exitError {
		return exitError // already reported (e.g. check's failures)
	}
	if errors.Is(err, context.Canceled) {
		err = fmt.Errorf("interrupted (Ctrl-C): stopped before finishing; %w", err)
	}
	report(stderr, err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitError
}

// checkCommandName turns an unknown command or help topic into a usage
// error with the closest name; urfave/cli would exit 3 with a help text.
func checkCommandName(app *cli.App, args []string) error {
	if len(args) < 2 {
		return nil
	}
	name, topic := args[1], ""
	if name == "help" || name == "h" {
		if len(args) < 3 {
			return nil
		}
		topic, name = name, args[2]
	}
	if strings.HasPrefix(name, "-") || app.Command(name) != nil {
		return nil
	}
	var names []string
	for _, c := range app.Commands {
		names = append(names, c.Names()...)
	}
	hint := ""
	if near := env.Nearest(name, names); near != "" {
		hint = fmt.Sprintf("; did you mean %q?", near)
	}
	if topic != "" {
		return usagef("no help topic %q%s (studiobake --help lists the commands)", name, hint)
	}
	return usagef("unknown command %q%s (studiobake --help lists the commands)", name, hint)
}

// report prints an error as "studiobake: <err>"; several errors joined
// together (every invalid setting at once) get a line each.
func report(w io.Writer, err error) {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			report(w, e)
		}
		return
	}
	fmt.Fprintf(w, "studiobake: %v\n", err)
}

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:    "studiobake",
		Usage:   "bake Mastra Studio for CDN hosting",
		Version: version,
		Description: "studiobake turns the Studio single-page app shipped in the mastra npm package\n" +
			"into a CDN-ready directory (build), uploads it to S3 and invalidates CloudFront\n" +
			"(publish), generates edge functions that route and gate it, and previews (serve)\n" +
			"or verifies (check) the result.",
		Writer:               stdout,
		ErrWriter:            stderr,
		HideVersion:          false,
		EnableBashCompletion: true,
		OnUsageError: func(c *cli.Context, err error, isSubcommand bool) error {
			return usageError{err}
		},
		ExitErrHandler: func(*cli.Context, error) {}, // run reports errors, exactly once
		Commands: []*cli.Command{
			buildCommand(),
			publishCommand(),
			releasesCommand(),
			rollbackCommand(),
			authCommand(),
			serveCommand(),
			checkCommand(),
			versionCommand(),
		},
	}
	rejectArgs(app.Commands)
	withConfig(app)
	markUsageErrors(app.Commands)
	return app
}

// checkRepeats refuses a flag that takes one value given twice: urfave/cli
// keeps the last one silently (--distribution-id E1 --distribution-id E2).
func checkRepeats(app *cli.App, args []string) error {
	if len(args) < 2 || app.Command(args[1]) == nil {
		return nil
	}
	cmd := app.Command(args[1])
	seen := map[string]string{}
	rest := args[2:]
	for i, a := range rest {
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := flagOf(cmd, name)
		if f == nil || repeatable(f) {
			continue
		}
		if !hasValue && i+1 < len(rest) {
			value = rest[i+1]
		}
		main := f.Names()[0]
		if prev, ok := seen[main]; ok {
			return usagef("--%s is given twice (%q and %q): it takes one value", main, prev, value)
		}
		seen[main] = value
	}
	return nil
}

// repeatable: slice flags collect every value, and a bool flag given twice
// means the same.
func repeatable(f cli.Flag) bool {
	switch f.(type) {
	case *cli.StringSliceFlag, *altsrc.StringSliceFlag, *cli.BoolFlag, *altsrc.BoolFlag:
		return true
	}
	return false
}

// rejectArgs makes an argument to a command that takes none a usage error:
// urfave/cli stops reading flags at the first argument, so in
// `build extra --out site` the --out would be silently ignored.
func rejectArgs(cmds []*cli.Command) {
	for _, c := range cmds {
		if len(c.Subcommands) > 0 {
			rejectArgs(c.Subcommands)
			continue
		}
		if c.ArgsUsage != "" || c.Before != nil {
			continue
		}
		name := c.Name
		c.Before = func(ctx *cli.Context) error {
			if ctx.NArg() > 0 {
				return usagef("%s takes no arguments, got %q (flags go before arguments; studiobake %s --help)", name, ctx.Args().First(), name)
			}
			return nil
		}
	}
}

// markUsageErrors makes a bad flag on any command exit 2, like the app's own.
// An unknown flag gets the closest flag of that command.
func markUsageErrors(cmds []*cli.Command) {
	for _, c := range cmds {
		if c.OnUsageError == nil {
			var names []string
			for _, f := range c.Flags {
				names = append(names, f.Names()...)
			}
			c.OnUsageError = func(_ *cli.Context, err error, _ bool) error {
				const undefined = "flag provided but not defined: -"
				if bad, ok := strings.CutPrefix(err.Error(), undefined); ok {
					bad = strings.TrimLeft(bad, "-")
					if near := env.Nearest(bad, names); near != "" {
						return usagef("unknown flag --%s; did you mean --%s?", bad, near)
					}
					return usagef("unknown flag --%s (studiobake %s --help lists the flags)", bad, c.Name)
				}
				return usageError{err}
			}
		}
		markUsageErrors(c.Subcommands)
	}
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print studiobake's version",
		Action: func(c *cli.Context) error {
			_, err := fmt.Fprintf(c.App.Writer, "studiobake %s\n", version)
			return err
		},
	}
}
