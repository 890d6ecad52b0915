package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// buildFlags are build's flags; publish reuses them to bake before uploading.
func buildFlags() []cli.Flag { return append([]cli.Flag{}, edgeFlags()...) }

// bakeFromContext runs a bake from build's flags and returns the output directory.
func bakeFromContext(c *cli.Context) (string, error) { return "", errors.New("build: not built yet") }

func buildCommand() *cli.Command {
	return &cli.Command{Name: "build", Usage: "bake Studio into a CDN-ready directory", Flags: buildFlags(),
		Action: func(c *cli.Context) error { _, err := bakeFromContext(c); return err }}
}
