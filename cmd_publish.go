package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/studiobake/studiobake/publish"
	"github.com/studiobake/studiobake/publish/cdn"
)

// Flags of publish, releases and rollback, declared once; each call makes a
// fresh flag because urfave/cli keeps per-parse state in flag values.
func flagBucket() cli.Flag {
	return &cli.StringFlag{Name: "bucket", EnvVars: []string{"STUDIOBAKE_BUCKET"},
		Usage: "S3 `BUCKET` (or s3://bucket/prefix)"}
}

func flagPrefix() cli.Flag {
	return &cli.StringFlag{Name: "prefix", EnvVars: []string{"STUDIOBAKE_PREFIX"},
		Usage: "key `PREFIX` of the site (default: the base path without its leading slash; / is the bucket root)"}
}

func flagDir() cli.Flag {
	return &cli.StringFlag{Name: "dir", EnvVars: []string{"STUDIOBAKE_DIR"},
		Usage: "publish the existing bake in `DIR` instead of baking first"}
}

func flagProfile() cli.Flag {
	return &cli.StringFlag{Name: "profile", EnvVars: []string{"AWS_PROFILE"},
		Usage: "AWS shared config `PROFILE`"}
}

func flagRegion() cli.Flag {
	return &cli.StringFlag{Name: "region", EnvVars: []string{"AWS_REGION", "AWS_DEFAULT_REGION"},
		Usage: "AWS `REGION` (default: the SDK's configuration, else the bucket's own region)"}
}

func flagEndpoint() cli.Flag {
	return &cli.StringFlag{Name: "endpoint-url", EnvVars: []string{"STUDIOBAKE_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"},
		Usage: "S3-compatible store at `URL` (MinIO, R2, versitygw); sends checksums only where required"}
}

func flagPathStyle() cli.Flag {
	return &cli.BoolFlag{Name: "path-style", EnvVars: []string{"STUDIOBAKE_PATH_STYLE"},
		Usage: "put the bucket in the URL path (most S3-compatible stores need it)"}
}

func flagTimeout() cli.Flag {
	return &cli.DurationFlag{Name: "request-timeout", Value: publish.DefaultRequestTimeout,
		Usage: "give up one HTTP attempt after `DURATION` (the SDK retries)"}
}

func flagStack() cli.Flag {
	return &cli.StringFlag{Name: "stack", EnvVars: []string{"STUDIOBAKE_STACK"},
		Usage: "the CloudFormation stack `NAME` made from edge/cloudfront/stack.yaml: bucket, prefix and distribution come from its outputs"}
}

func flagDistribution() cli.Flag {
	return &cli.StringFlag{Name: "distribution-id", EnvVars: []string{"STUDIOBAKE_DISTRIBUTION_ID"},
		Usage: "CloudFront distribution `ID` to invalidate"}
}

func flagWait() cli.Flag {
	return &cli.BoolFlag{Name: "wait", Usage: "wait until the CloudFront invalidation has completed"}
}

func flagDry() cli.Flag {
	return &cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "print the plan and change nothing"}
}

func flagKeep() cli.Flag {
	return &cli.IntFlag{Name: "keep-releases", Value: publish.DefaultKeepReleases, EnvVars: []string{"STUDIOBAKE_KEEP_RELEASES"},
		Usage: "keep the files of the last `N` releases (open tabs load old chunks; rollback needs them)"}
}

func flagMaxDeletes() cli.Flag {
	return &cli.IntFlag{Name: "max-deletes", Value: publish.DefaultMaxDeletes,
		Usage: "delete at most `N` objects per run; the rest wait for the next run (0: delete nothing, -1: no limit)"}
}

func flagConcurrency() cli.Flag {
	return &cli.IntFlag{Name: "concurrency", Value: publish.DefaultConcurrency,
		Usage: "run up to `N` requests at once"}
}

func flagAllowForeign() cli.Flag {
	return &cli.BoolFlag{Name: "allow-foreign",
		Usage: "publish even where objects studiobake did not upload are in the way (a used bucket root; paths the release overwrites)"}
}

func flagVerbose() cli.Flag {
	return &cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "list every action with its reason"}
}

func flagJSON() cli.Flag {
	return &cli.BoolFlag{Name: "json", Usage: "print the result as JSON"}
}

func flagLockTimeout() cli.Flag {
	return &cli.DurationFlag{Name: "lock-timeout", Value: publish.DefaultLockTimeout, EnvVars: []string{"STUDIOBAKE_LOCK_TIMEOUT"},
		Usage: "wait up to `DURATION` while another publish or rollback changes the same prefix (0: stop at once)"}
}

func flagTo() cli.Flag {
	return &cli.StringFlag{Name: "to", Usage: "roll back to release `ID` (default: the one before the live release)"}
}

func flagCommit() cli.Flag {
	return &cli.StringFlag{Name: "commit", Usage: "record source commit `SHA` (default: from CI variables such as GITHUB_SHA)"}
}

func awsFlags() []cli.Flag {
	return []cli.Flag{flagBucket(), flagPrefix(), flagProfile(), flagRegion(), flagEndpoint(), flagPathStyle(), flagTimeout()}
}

func flagQuiet() cli.Flag {
	return &cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print nothing but warnings and errors"}
}

func applyFlags() []cli.Flag {
	return []cli.Flag{flagQuiet(), flagDistribution(), flagWait(), flagDry(), flagKeep(), flagMaxDeletes(), flagConcurrency(),
		flagLockTimeout(), flagVerbose(), flagJSON()}
}

// publishFlags are publish's own flags and build's (publish bakes first);
// a name both declare (--json) is declared once.
func publishFlags() []cli.Flag {
	own := append(append(awsFlags(), applyFlags()...), flagDir(), flagAllowForeign(), flagCommit(), flagStack())
	own = append(own, functionFlags()...)
	return mergeFlags(own, buildFlags())
}

func mergeFlags(own, more []cli.Flag) []cli.Flag {
	seen := map[string]bool{}
	for _, f := range own {
		for _, n := range f.Names() {
			seen[n] = true
		}
	}
	out := own
	for _, f := range more {
		dup := false
		for _, n := range f.Names() {
			dup = dup || seen[n]
		}
		if !dup {
			out = append(out, f)
		}
	}
	return out
}

func publishCommand() *cli.Command {
	return &cli.Command{
		Name:      "publish",
		Usage:     "upload a bake to S3 and invalidate CloudFront",
		UsageText: "studiobake publish --bucket BUCKET [--dir dist] [--distribution-id ID [--wait]] [--dry-run] [--json]",
		Description: "Bakes (with build's flags) unless --dir names an existing bake, then compares the bake with\n" +
			"the objects under the prefix and uploads what is new or changed: hashed assets first, index.html\n" +
			"last, so readers never get a page whose files are missing. Each publish is a release recorded\n" +
			"under <prefix>_studiobake/; files of the last --keep-releases releases stay for open tabs and\n" +
			"rollback, older ones studiobake uploaded are deleted. Objects it did not upload are never\n" +
			"deleted. Credentials come from the AWS SDK's default chain (environment, profiles, SSO, web\n" +
			"identity, instance roles). Running the same publish again completes an interrupted one.\n" +
			"Publishes and rollbacks of one prefix take turns: a run that would change something claims the\n" +
			"prefix first and waits (--lock-timeout) while another run holds it.",
		Flags:  publishFlags(),
		Action: runPublish,
	}
}

func runPublish(c *cli.Context) error {
	if c.NArg() > 0 {
		return usagef("publish: unexpected argument %q", c.Args().First())
	}
	if err := checkDirFlags(c); err != nil {
		return err
	}
	o, err := publishOptions(c)
	if err != nil {
		return err
	}
	// The stack is read before anything is baked or uploaded.
	if err := publish.ResolveStack(c.Context, &o); err != nil {
		return err
	}
	if o.Dir == "" {
		if o.Dir, err = bakeFromContext(c); err != nil {
			return err
		}
	}
	rep, err := publish.Run(c.Context, o)
	if errors.Is(err, cdn.ErrNoGate) {
		err = usageError{err} // --function-name on a bake built without --edge cloudfront
	}
	return reportJSON(c, o, rep, err)
}

// checkDirFlags refuses build settings next to --dir: publish --dir
// publishes that bake as it is, so they would silently do nothing. Values
// from the config file and STUDIOBAKE_* variables are left alone: they hold
// every command's settings (a CI job sets them for all its steps).
func checkDirFlags(c *cli.Context) error {
	if !c.IsSet("dir") {
		return nil
	}
	if _, fromFile := configOrigin(c, "dir"); fromFile {
		return nil
	}
	own := map[string]bool{}
	for _, f := range append(append(awsFlags(), applyFlags()...), flagDir(), flagAllowForeign(), flagCommit(), flagStack()) {
		own[f.Names()[0]] = true
	}
	for _, f := range functionFlags() {
		own[f.Names()[0]] = true
	}
	for _, name := range deployFlags {
		own[name] = true
	}
	var ignored []string
	for _, f := range buildFlags() {
		name := f.Names()[0]
		if _, fromFile := configOrigin(c, name); !own[name] && name != "quiet" && c.IsSet(name) && !fromFile && !envSet(f) {
			ignored = append(ignored, "--"+name)
		}
	}
	if len(ignored) > 0 {
		return usagef("publish --dir %s publishes that bake as it is, so %s would do nothing: drop them, or drop --dir to bake with them",
			c.String("dir"), strings.Join(ignored, ", "))
	}
	return nil
}

// reportJSON prints the report with --json, also when the run failed
// partway: one document, with the error beside what was done.
func reportJSON(c *cli.Context, o publish.Options, rep *publish.Report, err error) error {
	if !o.JSON || rep == nil {
		return err
	}
	keepWarnings(c, rep.Warnings)
	rep.Warnings = nil
	doc := struct {
		*publish.Report
		Error *jsonError `json:"error,omitempty"`
	}{Report: rep}
	if err != nil {
		doc.Error = errorObject(c, err)
	}
	if werr := writeResult(c, err == nil, doc); werr != nil && err == nil {
		err = werr
	}
	return err
}

// publishOptions turns the context into options; a bad setting is a usage error.
func publishOptions(c *cli.Context) (publish.Options, error) {
	var err error
	o := publish.Options{
		Stack: c.String("stack"), Bucket: c.String("bucket"), Prefix: c.String("prefix"), Dir: c.String("dir"),
		AWS: publish.AWSOptions{Profile: c.String("profile"), Region: c.String("region"),
			EndpointURL: c.String("endpoint-url"), PathStyle: c.Bool("path-style"),
			RequestTimeout: c.Duration("request-timeout")},
		DistributionID: c.String("distribution-id"), Wait: c.Bool("wait"), DryRun: c.Bool("dry-run"),
		Force: c.Bool("allow-foreign"), KeepReleases: c.Int("keep-releases"), MaxDeletes: c.Int("max-deletes"),
		Concurrency: c.Int("concurrency"), LockTimeout: c.Duration("lock-timeout"), To: c.String("to"),
		Verbose: c.Bool("verbose"), JSON: c.Bool("json"),
		Version: version, Commit: c.String("commit"),
		Stdout: c.App.Writer, Stderr: c.App.ErrWriter,
	}
	if o.Commit == "" {
		o.Commit = publish.CommitFromEnv(os.Getenv)
	}
	if c.IsSet("keep-releases") && o.KeepReleases < 1 {
		return o, fmt.Errorf("invalid --keep-releases %d: keep at least 1", o.KeepReleases)
	}
	switch {
	case o.MaxDeletes == 0:
		o.MaxDeletes = -1 // the flag's 0 means none; the options' 0 means the default
	case o.MaxDeletes == -1:
		o.MaxDeletes = math.MaxInt // no limit, as hugo deploy's -1
	case o.MaxDeletes < -1:
		return o, fmt.Errorf("invalid --max-deletes %d: want a count, 0 for none or -1 for no limit", o.MaxDeletes)
	}
	if c.IsSet("lock-timeout") && o.LockTimeout <= 0 {
		o.LockTimeout = -1 // the flag's 0 stops at once; the options' 0 means the default
	}
	o.Progress = onTerminal(o.Stdout) && !o.JSON
	if c.Bool("quiet") && !o.JSON { // build's --quiet, when publish bakes
		o.Stdout = io.Discard
	}
	if o.Gate, err = gateOptions(c); err != nil {
		return o, err
	}
	if o.Stack != "" && o.Gate == nil && c.Command.Name == "publish" {
		// The stack owns the function; publish writes its secrets.
		o.Gate = &cdn.GateOptions{KeysOnly: true, Secrets: secretInput(c), KVSARN: c.String("kvs-arn")}
	}
	if err := o.Validate(); err != nil {
		return o, err
	}
	return o, nil
}

func onTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func releasesCommand() *cli.Command {
	return &cli.Command{
		Name:  "releases",
		Usage: "list published releases (newest, the live one, first)",
		Flags: append(awsFlags(), flagJSON(), flagStack(),
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only the live release's id (nothing when none is live)"},
			&cli.StringFlag{Name: "dir", EnvVars: []string{"STUDIOBAKE_DIR"}, Value: "dist",
				Usage: "derive the prefix from the bake in `DIR` when --prefix is not given"}),
		Action: func(c *cli.Context) error {
			o, err := publishOptions(c)
			if err != nil {
				return err
			}
			quiet := c.Bool("quiet") && !o.JSON
			o.JSON = o.JSON || quiet // no table: the document or the id
			rep, err := publish.Releases(c.Context, o)
			switch {
			case err != nil:
				return err
			case quiet:
				if rep.Live != "" {
					_, err = fmt.Fprintln(c.App.Writer, rep.Live)
				}
				return err
			case o.JSON:
				return writeResult(c, true, rep)
			}
			return nil
		},
	}
}

func rollbackCommand() *cli.Command {
	return &cli.Command{
		Name:      "rollback",
		Usage:     "make an earlier release live again and invalidate",
		UsageText: "studiobake rollback --bucket BUCKET [--to ID] [--distribution-id ID [--wait]]",
		Description: "Writes an earlier release's index.html and other unhashed files back (its hashed assets are\n" +
			"still there while it is among the kept releases) and records the rollback as a new release.\n" +
			"Without --to it goes to the release that was live before the live one; a rollback that stopped\n" +
			"is finished by running the same command again.",
		Flags: append(append(awsFlags(), applyFlags()...), flagTo(), flagStack(),
			&cli.StringFlag{Name: "dir", EnvVars: []string{"STUDIOBAKE_DIR"}, Value: "dist",
				Usage: "derive the prefix from the bake in `DIR` when --prefix is not given"}),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("rollback: unexpected argument %q (use --to ID)", c.Args().First())
			}
			o, err := publishOptions(c)
			if err != nil {
				return err
			}
			rep, err := publish.Rollback(c.Context, o)
			return reportJSON(c, o, rep, err)
		},
	}
}
