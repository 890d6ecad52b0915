package main

import (
	"errors"
	"fmt"

	"github.com/studiobake/studiobake/check"
	"github.com/urfave/cli/v2"
)

func serveCommand() *cli.Command {
	return &cli.Command{Name: "serve", Usage: "preview a bake locally with the CDN's routing",
		Action: func(*cli.Context) error { return errors.New("serve: not built yet") }}
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
			&cli.DurationFlag{Name: "timeout", Value: check.DefaultTimeout, EnvVars: []string{"STUDIOBAKE_CHECK_TIMEOUT"},
				Usage: "time limit for each request"},
		},
		Action: runCheck,
	}
}

func runCheck(c *cli.Context) error {
	if c.NArg() != 1 {
		return usagef("check: want one URL, got %d arguments (studiobake check https://cdn.example.com/agents/)", c.NArg())
	}
	rep, err := check.Run(c.Context, check.Options{URL: c.Args().First(), API: c.String("api"), Timeout: c.Duration("timeout")})
	if err != nil {
		return usageError{fmt.Errorf("check: %w", err)}
	}
	if c.Bool("json") {
		err = rep.WriteJSON(c.App.Writer)
	} else {
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
