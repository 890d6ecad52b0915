package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/studiobake/studiobake/check"
	"github.com/studiobake/studiobake/serve"
	"github.com/urfave/cli/v2"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:      "serve",
		Usage:     "preview a bake locally with the CDN's routing",
		ArgsUsage: "[DIR]",
		Description: "serve runs every request through the bake's CloudFront viewer-request function (the same\n" +
			"code build --edge cloudfront writes, basic auth included), then serves the file from site/ with\n" +
			"the manifest's Content-Type and Cache-Control and the bake's security headers. It listens on\n" +
			"127.0.0.1 unless --host says otherwise; Ctrl-C stops it. A bake whose page calls its own origin\n" +
			"for the API (build --api-origin, or MASTRA_AUTO_DETECT_URL=true) needs --api: the preview then\n" +
			"forwards the API prefix to that Mastra server after the gate, as the CDN does.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Value: "dist", EnvVars: []string{"STUDIOBAKE_OUT"},
				Usage: "bake output directory (what studiobake build --out wrote)"},
			&cli.IntFlag{Name: "port", Aliases: []string{"p"}, Value: 3000, EnvVars: []string{"STUDIOBAKE_PORT"},
				Usage: "port to listen on (0 picks a free one)"},
			&cli.StringFlag{Name: "host", Value: "127.0.0.1", EnvVars: []string{"STUDIOBAKE_HOST"},
				Usage: "address to listen on; 0.0.0.0 exposes the preview to your network"},
			&cli.StringFlag{Name: "api", EnvVars: []string{"STUDIOBAKE_SERVE_API"},
				Usage: "Mastra server to forward the API prefix to, e.g. http://localhost:4111 (bakes that call their own origin)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "do not print a line per request"},
			// The gate's secrets are never in the bake: read where publish reads them.
			flagCookieSecretFile(""), flagAuthUsers(""), flagAllowWeakUsers(""),
		},
		Action: runServe,
	}
}

func runServe(c *cli.Context) error {
	dir := c.String("dir")
	switch {
	case c.NArg() == 1:
		// studiobake serve dist: the argument beats --dir and STUDIOBAKE_OUT,
		// which a build step may have set for its own --out.
		dir = c.Args().First()
	case c.NArg() > 1:
		return usagef("serve: unexpected argument %q (give one bake directory, with flags before it)", c.Args().Get(1))
	}
	port := c.Int("port")
	if port < 0 || port > 65535 {
		return fmt.Errorf("invalid --port %d: want 0 to 65535", port)
	}
	o := serve.Options{
		Dir:  dir,
		Addr: net.JoinHostPort(c.String("host"), strconv.Itoa(port)),
		Out:  c.App.Writer,
		Log:  c.App.ErrWriter,
		API:  c.String("api"),
		// The gate's secrets are never in the bake: read them where
		// publish does.
		Secrets: secretInput(c),
	}
	if !c.Bool("quiet") {
		o.AccessLog = c.App.Writer
	}
	return serve.Run(c.Context, o)
}

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "verify a deployed Studio and its API from the outside",
		ArgsUsage: "URL",
		Description: "check loads the Studio page at URL (e.g. https://cdn.example.com/agents/) and reports, each with\n" +
			"the fix: index.html revalidates; a hashed asset is immutable and matches its SRI hash; a deep\n" +
			"link returns index.html; a missing asset answers 404; refresh-events answers 204; security\n" +
			"headers; and that the Mastra API answers the site's origin with credentials (CORS, preflight\n" +
			"included). The API endpoint is read from the page unless --api is given. A site behind basic\n" +
			"auth: put the user in the URL (https://user:password@host/agents/). Exits 1 on any failure.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "api", EnvVars: []string{"STUDIOBAKE_CHECK_API"},
				Usage: "Mastra API endpoint, e.g. https://api.example.com/api (default: the one baked into the page)"},
			&cli.BoolFlag{Name: "json", Usage: "print the report as JSON"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only the items that fail, and the summary"},
			&cli.DurationFlag{Name: "timeout", Value: check.DefaultTimeout, EnvVars: []string{"STUDIOBAKE_CHECK_TIMEOUT"},
				Usage: "time limit for each request"},
		},
		Action: runCheck,
	}
}

// checkArgs are check's options after parsing.
type checkArgs struct {
	url, api string
	json     bool
	quiet    bool
	timeout  time.Duration
}

// parseCheckArgs also reads flags given after the URL: urfave/cli stops at
// the first argument, but "studiobake check URL --api X" is how people type
// it. A flag after the URL beats the same flag before it.
func parseCheckArgs(c *cli.Context) (checkArgs, error) {
	a := checkArgs{api: c.String("api"), json: c.Bool("json"), quiet: c.Bool("quiet"), timeout: c.Duration("timeout")}
	args := c.Args().Slice()
	if len(args) == 0 {
		return a, usagef("check: want the Studio URL (studiobake check https://cdn.example.com/agents/)")
	}
	a.url = args[0]
	set := flag.NewFlagSet("check", flag.ContinueOnError)
	set.SetOutput(io.Discard)
	api := set.String("api", a.api, "")
	js := set.Bool("json", a.json, "")
	quiet := set.Bool("quiet", a.quiet, "")
	set.BoolVar(quiet, "q", a.quiet, "")
	timeout := set.Duration("timeout", a.timeout, "")
	if err := set.Parse(args[1:]); err != nil {
		return a, usagef("check: %v", err)
	}
	if set.NArg() > 0 {
		return a, usagef("check: want one URL, got %d arguments (studiobake check https://cdn.example.com/agents/)", set.NArg()+1)
	}
	a.api, a.json, a.quiet, a.timeout = *api, *js, *quiet, *timeout
	return a, nil
}

func runCheck(c *cli.Context) error {
	a, err := parseCheckArgs(c)
	if err != nil {
		return err
	}
	rep, err := check.Run(c.Context, check.Options{URL: a.url, API: a.api, Timeout: a.timeout})
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	switch {
	case a.json:
		err = writeResult(c, rep.OK(), rep)
	case a.quiet:
		err = rep.WriteFailures(c.App.Writer)
	default:
		err = rep.WriteText(c.App.Writer)
	}
	if err != nil {
		return err
	}
	if !rep.OK() {
		return cli.Exit("", exitError) // the report said why
	}
	return nil
}
