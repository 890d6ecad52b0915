// Package publish uploads a studiobake bake to S3 (or an S3-compatible store)
// and invalidates CloudFront, keeping earlier releases so that open tabs keep
// loading their lazy chunks and a rollback is one command.
//
// The work is split so that each part can be tested where it lives: Plan is a
// pure function from the local files and the remote inventory to a value
// (Changes) that says what to upload, keep, delete and invalidate and why;
// Apply carries a plan out against the narrow objectStore interface, and
// through package cdn (studiobake's one home for CloudFront) invalidates and
// deploys the bake's gate; Run, Rollback and Releases load AWS configuration
// and wire the parts together. Nothing here knows about urfave/cli.
package publish

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/studiobake/studiobake/build"
	"github.com/studiobake/studiobake/publish/cdn"
)

// Defaults; the zero value of each option means the default.
const (
	DefaultKeepReleases   = 3
	DefaultMaxDeletes     = 256
	DefaultConcurrency    = 16
	DefaultRequestTimeout = 5 * time.Minute
	DefaultMaxAttempts    = 5
	DefaultLockTimeout    = 10 * time.Minute
)

// maxHeads caps the HEAD requests spent classifying objects that neither the
// release record nor the local bake knows: a bucket root full of other things
// must not cost one request per object on every publish. (A variable so that
// a test can raise it.)
var maxHeads = 1000

// AWSOptions say how to reach AWS or an S3-compatible store. Everything else
// (credentials, SSO, web identity, instance roles) comes from the SDK's
// default chain.
type AWSOptions struct {
	Profile     string // shared config profile; "" uses AWS_PROFILE or default
	Region      string // "" uses the SDK chain, then the bucket's own region
	EndpointURL string // S3-compatible store (MinIO, R2, versitygw)
	PathStyle   bool   // bucket in the path, not the host name
	// RequestTimeout bounds each HTTP attempt (the SDK retries failed ones).
	RequestTimeout time.Duration
	MaxAttempts    int
}

// Options configure Run, Rollback and Releases.
type Options struct {
	// Stack names a CloudFormation stack made from edge/cloudfront/
	// stack.yaml: ResolveStack reads Bucket, Prefix and DistributionID from
	// its outputs, so none of them may be given with it.
	Stack  string
	Bucket string
	// Prefix is the key prefix of the site: "" derives it from the bake's
	// base path ("/agents" gives "agents/"), "/" is the bucket root.
	Prefix string
	// Dir is the bake output directory (manifest.json and site/). Rollback
	// and Releases read it only to derive the prefix.
	Dir string
	AWS AWSOptions

	DistributionID string
	Wait           bool // wait until the invalidation completes
	DryRun         bool // plan only
	// Force allows overwriting objects studiobake did not upload and a first
	// publish into a bucket root that holds other objects (--allow-foreign).
	Force bool

	KeepReleases int // releases whose files stay; default 3
	// MaxDeletes caps deletions per run (the rest wait for the next run);
	// 0 means the default, a negative value means delete nothing.
	MaxDeletes  int
	Concurrency int

	// LockTimeout is how long a run waits while another run changes the
	// prefix; default 10 minutes, negative: stop at once.
	LockTimeout time.Duration

	// To is the release Rollback makes live; "" means the one before the
	// live release.
	To string

	Verbose  bool
	JSON     bool // write a JSON report to Stdout; human lines go to Stderr
	Progress bool // draw a progress bar (set by the command layer on a terminal)

	Version string // studiobake's version, recorded in each release
	Commit  string // source commit, recorded in each release ("" when unknown)

	Stdout, Stderr io.Writer

	// Gate deploys the bake's CloudFront gate once the new release is live
	// and before CloudFront is invalidated, so that the invalidated paths
	// are served through the new function (nil: no gate deploy).
	Gate *cdn.GateOptions

	// fromStack: Bucket, Prefix and DistributionID came from Stack.
	fromStack bool

	// Test knobs: the clock, the first TooManyInvalidations backoff and the
	// first invalidation poll interval.
	clients      *testClients
	lease        time.Duration // of a claim; default defaultLease
	machine      string        // overrides the claim's machine: a run "elsewhere"
	now          func() time.Time
	retryBackoff time.Duration
	pollInterval time.Duration
}

// Validate normalises o and rejects bad settings, naming the setting.
func (o *Options) Validate() error {
	if o.Stack != "" && !o.fromStack {
		if err := o.checkStack(); err != nil {
			return err
		}
		return o.defaults() // the rest is checked once the stack is read
	}
	b := strings.TrimSpace(o.Bucket)
	if rest, ok := strings.CutPrefix(b, "s3://"); ok {
		// s3://bucket/prefix is how people write S3 locations: accept it.
		name, pfx, hasPfx := strings.Cut(rest, "/")
		b = name
		if hasPfx && pfx != "" {
			if o.Prefix != "" {
				return fmt.Errorf("invalid --bucket %q: it names a prefix and --prefix %q is set too", o.Bucket, o.Prefix)
			}
			o.Prefix = pfx
		}
	}
	if b == "" {
		return fmt.Errorf("no bucket: set --bucket (or STUDIOBAKE_BUCKET)")
	}
	if strings.ContainsAny(b, "/ \t") {
		return fmt.Errorf("invalid --bucket %q: give the bucket name only", o.Bucket)
	}
	if !bucketName.MatchString(b) {
		return fmt.Errorf("invalid --bucket %q: a bucket name is 3 to 63 lower-case letters, digits, dots and hyphens", o.Bucket)
	}
	o.Bucket = b
	if o.Prefix != "" {
		// Kept as given: "/" (the root) must stay distinct from "" (derive).
		if _, err := normalizePrefix(o.Prefix); err != nil {
			return err
		}
	}
	return o.defaults()
}

// bucketName accepts S3's names, and the upper case, underscores and length
// of buckets made in us-east-1 before 2018, so that no real bucket is refused.
var bucketName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]$`)

func (o *Options) defaults() error {
	if o.KeepReleases < 0 {
		return fmt.Errorf("invalid --keep-releases %d: keep at least 1", o.KeepReleases)
	}
	if o.KeepReleases == 0 {
		o.KeepReleases = DefaultKeepReleases
	}
	if o.MaxDeletes == 0 {
		o.MaxDeletes = DefaultMaxDeletes
	}
	if o.Concurrency < 0 || o.Concurrency > 256 {
		return fmt.Errorf("invalid --concurrency %d: use 1 to 256", o.Concurrency)
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.AWS.RequestTimeout < 0 {
		return fmt.Errorf("invalid --request-timeout %s", o.AWS.RequestTimeout)
	}
	if o.AWS.RequestTimeout == 0 {
		o.AWS.RequestTimeout = DefaultRequestTimeout
	}
	if o.AWS.MaxAttempts <= 0 {
		o.AWS.MaxAttempts = DefaultMaxAttempts
	}
	if e := o.AWS.EndpointURL; e != "" && !strings.HasPrefix(e, "http://") && !strings.HasPrefix(e, "https://") {
		return fmt.Errorf("invalid --endpoint-url %q: want http:// or https://", e)
	}
	if o.Wait && o.DistributionID == "" && o.Stack == "" {
		return fmt.Errorf("--wait needs --distribution-id")
	}
	if o.LockTimeout == 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if o.lease == 0 {
		o.lease = defaultLease
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.retryBackoff == 0 {
		o.retryBackoff = 5 * time.Second
	}
	if o.pollInterval == 0 {
		o.pollInterval = 2 * time.Second // doubled after each check, up to cdn.DefaultPollMax
	}
	return nil
}

// normalizePrefix turns "/agents", "agents/" or "agents" into "agents/" and
// "/" into "" (the bucket root).
func normalizePrefix(p string) (string, error) {
	p = strings.Trim(strings.TrimSpace(p), "/")
	if p == "" {
		return "", nil
	}
	for _, seg := range strings.Split(p, "/") {
		switch {
		case seg == "" || seg == "." || seg == "..":
			return "", fmt.Errorf("invalid --prefix %q: empty, . or .. segment", p)
		case seg == build.StateDir:
			return "", fmt.Errorf("invalid --prefix %q: %s is studiobake's state directory", p, build.StateDir)
		}
	}
	return p + "/", nil
}

// prefixFor is the key prefix for a bake served at basePath.
func (o *Options) prefixFor(basePath string) string {
	if o.Prefix == "" {
		return PrefixFor(basePath)
	}
	p, _ := normalizePrefix(o.Prefix) // checked by Validate
	return p
}

// PrefixFor is the default prefix of a bake: its base path without the
// leading slash.
func PrefixFor(basePath string) string {
	p, err := normalizePrefix(basePath)
	if err != nil {
		return ""
	}
	return p
}

// CommitFromEnv names the source commit from the variables CI systems set,
// so that a release record says what was built.
func CommitFromEnv(getenv func(string) string) string {
	for _, k := range []string{"STUDIOBAKE_COMMIT", "GITHUB_SHA", "CI_COMMIT_SHA", "BITBUCKET_COMMIT",
		"CIRCLE_SHA1", "BUILDKITE_COMMIT", "CODEBUILD_RESOLVED_SOURCE_VERSION", "VERCEL_GIT_COMMIT_SHA",
		"TRAVIS_COMMIT", "DRONE_COMMIT_SHA", "GIT_COMMIT"} {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
	}
	return ""
}
