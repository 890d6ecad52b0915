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
	"syscall"
	"time"

	"context"

	"github.com/urfave/cli/v2"
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first Ctrl-C cancels the work, which then stops cleanly; then
		// the signals go back so that a second one ends the process at once.
		// The terminal signals the whole process group, and npm run, npx and
		// studiobake's npm launcher pass the same Ctrl-C on once more
		// (npm/cli#5021): copies within a second of the first are absorbed.
		<-ctx.Done()
		time.Sleep(repeatedSignalWindow)
		stop()
	}()
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
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
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	err := app.RunContext(ctx, args)
	if err == nil {
		return exitOK
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) && ec.Error() == "" {
		return ec.ExitCode() // already reported (e.g. check's failures)
	}
	report(stderr, err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return exitError
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
	markUsageErrors(app.Commands)
	return app
}

// markUsageErrors makes a bad flag on any command exit 2, like the app's own.
func markUsageErrors(cmds []*cli.Command) {
	for _, c := range cmds {
		if c.OnUsageError == nil {
			c.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return usageError{err} }
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
