package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// Placeholder until the publish package lands; replaced by its owner.
func publishCommand() *cli.Command {
	return &cli.Command{Name: "publish", Usage: "upload a bake to S3 and invalidate CloudFront",
		Action: func(*cli.Context) error { return errors.New("publish: not built yet") }}
}

func releasesCommand() *cli.Command {
	return &cli.Command{Name: "releases", Usage: "list published releases",
		Action: func(*cli.Context) error { return errors.New("releases: not built yet") }}
}

func rollbackCommand() *cli.Command {
	return &cli.Command{Name: "rollback", Usage: "make an earlier release live again",
		Action: func(*cli.Context) error { return errors.New("rollback: not built yet") }}
}
