package main

import (
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/studiobake/studiobake/publish"
	"github.com/studiobake/studiobake/publish/cdn/cdntest"
)

// parsePublish runs publish's flag parsing and publishOptions on args, and
// returns the options the command would hand to publish.Run.
func parsePublish(t *testing.T, args ...string) publish.Options {
	t.Helper()
	var got publish.Options
	app := &cli.App{Name: "studiobake", Writer: io.Discard, ErrWriter: io.Discard,
		Commands: []*cli.Command{{Name: "publish", Flags: publishFlags(), Action: func(c *cli.Context) error {
			o, err := publishOptions(c)
			got = o
			return err
		}}}}
	if err := app.Run(append([]string{"studiobake", "publish"}, args...)); err != nil {
		t.Fatalf("publish %q: %v", args, err)
	}
	return got
}

// TestPublishPrecedence: a flag beats the process environment, which beats
// the default; of two variables for one setting, the first listed wins.
func TestPublishPrecedence(t *testing.T) {
	env := map[string]string{
		"STUDIOBAKE_BUCKET": "env-bucket", "STUDIOBAKE_PREFIX": "env-prefix", "AWS_REGION": "eu-west-1",
		"AWS_DEFAULT_REGION": "us-west-2", "STUDIOBAKE_ENDPOINT_URL": "http://127.0.0.1:1",
		"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:2", "STUDIOBAKE_KEEP_RELEASES": "5",
		"STUDIOBAKE_DISTRIBUTION_ID": "EENV", "AWS_PROFILE": "envprofile", "GITHUB_SHA": "abc123",
	}
	cases := []struct {
		desc string
		args []string
		env  bool
		get  func(publish.Options) any
		want any
	}{
		{"--bucket beats STUDIOBAKE_BUCKET", []string{"--bucket", "flag-bucket"}, true, func(o publish.Options) any { return o.Bucket }, "flag-bucket"},
		{"STUDIOBAKE_BUCKET", nil, true, func(o publish.Options) any { return o.Bucket }, "env-bucket"},
		{"--prefix beats STUDIOBAKE_PREFIX", []string{"--prefix", "p"}, true, func(o publish.Options) any { return o.Prefix }, "p"},
		{"STUDIOBAKE_PREFIX", nil, true, func(o publish.Options) any { return o.Prefix }, "env-prefix"},
		{"--region beats AWS_REGION", []string{"--region", "ap-south-1"}, true, func(o publish.Options) any { return o.AWS.Region }, "ap-south-1"},
		{"AWS_REGION beats AWS_DEFAULT_REGION", nil, true, func(o publish.Options) any { return o.AWS.Region }, "eu-west-1"},
		{"--endpoint-url beats the variables", []string{"--endpoint-url", "http://127.0.0.1:3"}, true,
			func(o publish.Options) any { return o.AWS.EndpointURL }, "http://127.0.0.1:3"},
		{"STUDIOBAKE_ENDPOINT_URL beats AWS_ENDPOINT_URL_S3", nil, true, func(o publish.Options) any { return o.AWS.EndpointURL }, "http://127.0.0.1:1"},
		{"--keep-releases beats STUDIOBAKE_KEEP_RELEASES", []string{"--keep-releases", "2"}, true, func(o publish.Options) any { return o.KeepReleases }, 2},
		{"STUDIOBAKE_KEEP_RELEASES", nil, true, func(o publish.Options) any { return o.KeepReleases }, 5},
		{"default --keep-releases", nil, false, func(o publish.Options) any { return o.KeepReleases }, publish.DefaultKeepReleases},
		{"--distribution-id beats STUDIOBAKE_DISTRIBUTION_ID", []string{"--distribution-id", "EFLAG"}, true,
			func(o publish.Options) any { return o.DistributionID }, "EFLAG"},
		{"--profile beats AWS_PROFILE", []string{"--profile", "p1"}, true, func(o publish.Options) any { return o.AWS.Profile }, "p1"},
		{"--commit beats GITHUB_SHA", []string{"--commit", "def456"}, true, func(o publish.Options) any { return o.Commit }, "def456"},
		{"GITHUB_SHA", nil, true, func(o publish.Options) any { return o.Commit }, "abc123"},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			for k, v := range env {
				if !c.env {
					v = ""
				}
				t.Setenv(k, v)
			}
			args := c.args
			if !c.env {
				args = append([]string{"--bucket", "site"}, args...)
			}
			if got := c.get(parsePublish(t, args...)); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

// TestPublishInvalidValues: an invalid value exits 1 with one line naming
// the flag and the value, before any credentials or requests.
func TestPublishInvalidValues(t *testing.T) {
	cases := []struct{ desc, flag, value, want string }{
		{"bucket name too short", "--bucket", "ab", `invalid --bucket "ab"`},
		{"no release kept", "--keep-releases", "0", `invalid --keep-releases 0`},
		{"negative delete cap", "--max-deletes", "-2", `invalid --max-deletes -2: want a count, 0 for none or -1 for no limit`},
	}
	for _, c := range cases {
		args := []string{"publish", "--dir", t.TempDir(), c.flag, c.value}
		if c.flag != "--bucket" {
			args = append(args, "--bucket", "my-studio")
		}
		code, _, stderr := runCLI(t, args...)
		if code != 1 || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%s: exit %d, stderr %q; want exit 1 and %q", c.desc, code, stderr, c.want)
		}
	}
}

// fakeStacksEnv starts the fake CloudFormation and points the SDK's
// default configuration at it, with test credentials and no profile.
func fakeStacksEnv(t *testing.T) *cdntest.Stacks {
	stacks := cdntest.NewStacks(t)
	t.Setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", stacks.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	return stacks
}

// TestPublishStackCLI: publish --stack reads the stack through the SDK's
// CloudFormation client (its endpoint from AWS_ENDPOINT_URL_CLOUDFORMATION)
// before baking; a stack publish cannot use, or --stack beside what it
// says, fails with exit 1 and nothing baked or uploaded.
func TestPublishStackCLI(t *testing.T) {
	stacks := fakeStacksEnv(t)
	stacks.Put("other", cdntest.Stack{Outputs: map[string]string{"WebsiteURL": "https://example.com"}})
	for _, c := range []struct {
		desc string
		args []string
		want string
	}{
		{"outputs lack what publish needs", []string{"--stack", "other"}, `--stack "other" has no output BucketName, Prefix, DistributionId`},
		{"no such stack", []string{"--stack", "gone"}, `--stack "gone": no such stack`},
		{"with --bucket", []string{"--stack", "other", "--bucket", "b"}, `--stack "other" and --bucket "b" both say where the site is`},
	} {
		t.Run(c.desc, func(t *testing.T) {
			work := t.TempDir()
			t.Chdir(work)
			before := stacks.Calls()
			code, _, stderr := runCLI(t, append([]string{"publish", "--studio", testTree(t)}, c.args...)...)
			if code != 1 || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want exit 1 and %q", code, stderr, c.want)
			}
			if _, err := os.Stat(filepath.Join(work, "dist")); !os.IsNotExist(err) {
				t.Errorf("a refused publish baked dist/")
			}
			if strings.Contains(c.desc, "--bucket") && stacks.Calls() != before {
				t.Errorf("the conflict was found after asking CloudFormation")
			}
			// releases and rollback read the same stack the same way.
			for _, cmd := range []string{"releases", "rollback"} {
				code, _, stderr := runCLI(t, append([]string{cmd}, c.args...)...)
				if code != 1 || !strings.Contains(stderr, c.want) {
					t.Errorf("%s: exit %d, stderr %q; want exit 1 and %q", cmd, code, stderr, c.want)
				}
			}
		})
	}
}

// TestMaxDeletes: -1 is no limit (as hugo deploy), 0 deletes nothing, a
// count caps, and the default applies when unset.
func TestMaxDeletes(t *testing.T) {
	for flag, want := range map[string]int{"-1": math.MaxInt, "0": -1, "5": 5} {
		if got := parsePublish(t, "--bucket", "my-studio", "--max-deletes", flag).MaxDeletes; got != want {
			t.Errorf("--max-deletes %s: MaxDeletes %d, want %d", flag, got, want)
		}
	}
	if got := parsePublish(t, "--bucket", "my-studio").MaxDeletes; got != publish.DefaultMaxDeletes {
		t.Errorf("default MaxDeletes %d", got)
	}
}
