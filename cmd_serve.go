package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

func serveCommand() *cli.Command {
	return &cli.Command{Name: "serve", Usage: "preview a bake locally with the CDN's routing",
		Action: func(*cli.Context) error { return errors.New("serve: not built yet") }}
}

func checkCommand() *cli.Command {
	return &cli.Command{Name: "check", Usage: "verify a deployed Studio and its API",
		Action: func(*cli.Context) error { return errors.New("check: not built yet") }}
}
