package main

import (
	"errors"

	"github.com/studiobake/studiobake/build"
	"github.com/urfave/cli/v2"
)

// edgeFlags are the build flags that choose and configure edge output.
func edgeFlags() []cli.Flag { return nil }

// edgeFinisher returns the step that writes edge output into a bake's
// temporary directory before it is renamed into place, or nil for none.
func edgeFinisher(c *cli.Context) (func(dir string, m *build.Manifest) error, error) {
	return nil, nil
}

func authCommand() *cli.Command {
	return &cli.Command{Name: "auth", Usage: "manage basic-auth users for the edge gate",
		Action: func(*cli.Context) error { return errors.New("auth: not built yet") }}
}
