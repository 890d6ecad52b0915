package cdn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudfrontkeyvaluestore"
	smithy "github.com/aws/smithy-go"

	"github.com/studiobake/studiobake/build"
)

// A gate deploy puts the compiled CloudFront gate live: KeyValueStore
// entries first (the new code may read them), then DescribeFunction →
// CreateFunction or UpdateFunction (If-Match ETag) → TestFunction →
// PublishFunction, and optionally the distribution's associations. Code and
// configuration that are already live are not updated or republished, and
// a distribution already in place is not rewritten, so running it twice
// changes nothing.

// Options describe one deploy.
type Options struct {
	Name    string // function name
	Code    []byte // compiled function, as templates.LoadCloudFront returns it
	Comment string
	// KVSARN is associated with the function and receives KVS entries.
	KVSARN string
	KVS    map[string]string
	// ManagedKey says which existing keys belong to studiobake, so that a
	// removed user's key is deleted; keys it does not claim are left alone.
	ManagedKey func(key string) bool
	// BasePath is where Studio is served; it chooses the cache behaviour
	// and the test request.
	BasePath string
	// Associate attaches the function to DistributionID's cache behaviour:
	// CacheBehavior's path pattern, "default", or (empty) the behaviour
	// whose pattern covers BasePath, else the default one.
	Associate      bool
	DistributionID string
	CacheBehavior  string
	// HeadersPolicy, when set, is created or updated (by name) and, with
	// Associate, attached to the cache behaviour.
	HeadersPolicy *types.ResponseHeadersPolicyConfig
	// Bucket and Prefix are where publish writes the site (Prefix "agents/"
	// or "" for the bucket root). With Associate, the gate also goes on
	// every cache behaviour whose origin is the bucket (BucketOrigin names
	// it when its domain name does not) and that can reach the prefix; a
	// behaviour where another viewer-request function runs is refused
	// unless ReplaceFunctions. Without Bucket and BucketOrigin only the
	// main (and API) behaviour is covered.
	Bucket, Prefix   string
	BucketOrigin     string
	ReplaceFunctions bool
	// API is how the page reaches the Mastra API (the manifest's record).
	// With Associate, a one-origin bake also gets the distribution's API
	// origin and a cache behaviour that forwards API.Prefix to it.
	API build.API
	// StaleAPIPrefixes are the API prefixes the site's earlier releases had
	// the distribution forward (one-origin bakes). With Associate, the cache
	// behaviour of each one this bake does not forward is removed, and when
	// it forwards none, the API origin too once nothing routes to it.
	StaleAPIPrefixes []string
	// DryRun reads everything and reports what would change, writing
	// nothing (no key, function or distribution is touched).
	DryRun bool
	// KeysOnly writes the KeyValueStore entries only (GateOptions.KeysOnly).
	KeysOnly bool
}

// Result says what a deploy did.
type Result struct {
	DryRun      bool // the flags below say what would have been done
	FunctionARN string
	Created     bool
	Updated     bool
	Published   bool
	Tested      bool
	Associated  bool
	KeysPut     int
	KeysDeleted int
	// HeadersPolicyID is the policy attached with Associate.
	HeadersPolicyID      string
	HeadersPolicyChanged bool
	// DistributionChanges are the changes made to the distribution (or
	// that would be made, in a dry run), one line each.
	DistributionChanges []string
}

// Summary is the one line a deploy ends with.
func (r *Result) Summary(name string) string {
	var did []string
	for _, x := range []struct {
		ok   bool
		what string
	}{{r.Created, "created"}, {r.Updated, "updated"}, {r.Tested, "tested"}, {r.Published, "published"},
		{r.HeadersPolicyChanged, "headers policy written"}, {r.Associated, "associated"}} {
		if x.ok {
			did = append(did, x.what)
		}
	}
	if len(did) == 0 {
		did = append(did, "unchanged")
	}
	prefix := ""
	if r.DryRun {
		prefix = "dry run, would be: "
	}
	if name == "" { // KeysOnly: the stack owns the function
		return fmt.Sprintf("key value store: %s%d put, %d deleted", prefix, r.KeysPut, r.KeysDeleted)
	}
	return fmt.Sprintf("function %s: %s%s; keys: %d put, %d deleted", name, prefix, strings.Join(did, ", "), r.KeysPut, r.KeysDeleted)
}

// Check refuses a deploy that cannot succeed before anything is written:
// options that do not fit together, an API upstream CloudFront cannot use
// as an origin, and (with Associate) a distribution whose cache behaviours
// cannot be set up safely, which it reads without changing.
func Check(ctx context.Context, c Clients, o Options) error {
	if o.KeysOnly {
		// The stack's store gets its keys after go-live: a store these
		// credentials cannot read would leave a gate that denies everyone.
		return storeReachable(ctx, c, o, "the stack's KeyValueStore")
	}
	if o.Name == "" || len(o.Code) == 0 {
		return errors.New("deploy: need a function name and code")
	}
	if err := reachable(ctx, c, o); err != nil {
		return err
	}
	if !o.Associate {
		return nil
	}
	if o.DistributionID == "" {
		return errors.New("--associate needs --distribution-id")
	}
	got, err := c.CloudFront.GetDistributionConfig(ctx, &cloudfront.GetDistributionConfigInput{Id: &o.DistributionID})
	if err != nil {
		return fmt.Errorf("get distribution %s: %w", o.DistributionID, err)
	}
	_, err = planDistribution(got.DistributionConfig, o, "", "")
	return err
}

// Run deploys o, reporting each step to out. It runs Check first.
func Run(ctx context.Context, c Clients, o Options, out io.Writer) (*Result, error) {
	if err := Check(ctx, c, o); err != nil {
		return nil, err
	}
	r := &Result{DryRun: o.DryRun}
	if o.KVSARN != "" {
		if err := syncKeys(ctx, c.KVS, o, r, out); err != nil {
			return r, err
		}
	}
	if o.KeysOnly {
		return r, nil
	}
	etag, live, err := ensureFunction(ctx, c.CloudFront, o, r, out)
	if err != nil {
		return r, err
	}
	switch {
	case !live && o.DryRun:
		r.Tested, r.Published = true, true
		fmt.Fprintf(out, "function %s: would be tested and published\n", o.Name)
	case !live:
		if err := testFunction(ctx, c.CloudFront, o, etag, r, out); err != nil {
			return r, err
		}
		pub, err := c.CloudFront.PublishFunction(ctx, &cloudfront.PublishFunctionInput{Name: &o.Name, IfMatch: &etag})
		if err != nil {
			return r, fmt.Errorf("publish function %s: %w", o.Name, err)
		}
		r.Published = true
		r.FunctionARN = functionARN(pub.FunctionSummary, r.FunctionARN)
		fmt.Fprintf(out, "function %s: published\n", o.Name)
	default:
		fmt.Fprintf(out, "function %s: live code is current, not republished\n", o.Name)
	}
	if o.HeadersPolicy != nil {
		if r.HeadersPolicyID, err = ensureHeadersPolicy(ctx, c.CloudFront, o, r, out); err != nil {
			return r, err
		}
	}
	if o.Associate {
		if err := associate(ctx, c.CloudFront, o, r, out); err != nil {
			return r, err
		}
	} else if o.API.OneOrigin() {
		fmt.Fprintf(out, "note: this bake's page calls %s on its own origin: --associate adds the distribution's origin and cache behaviour that forward it to %s\n",
			o.API.Prefix, o.API.Upstream)
	}
	return r, nil
}

func functionARN(s *types.FunctionSummary, def string) string {
	if s != nil && s.FunctionMetadata != nil && s.FunctionMetadata.FunctionARN != nil {
		return *s.FunctionMetadata.FunctionARN
	}
	return def
}

func (o Options) config() *types.FunctionConfig {
	cfg := &types.FunctionConfig{Comment: aws.String(o.Comment), Runtime: types.FunctionRuntimeCloudfrontJs20}
	if o.KVSARN != "" {
		cfg.KeyValueStoreAssociations = &types.KeyValueStoreAssociations{Quantity: aws.Int32(1),
			Items: []types.KeyValueStoreAssociation{{KeyValueStoreARN: aws.String(o.KVSARN)}}}
	}
	return cfg
}

// sameConfig compares what deploy sets: runtime and the store association.
func sameConfig(a, b *types.FunctionConfig) bool {
	if a == nil || b == nil || a.Runtime != b.Runtime {
		return false
	}
	return kvsARNs(a) == kvsARNs(b)
}

func kvsARNs(c *types.FunctionConfig) string {
	var arns []string
	if c.KeyValueStoreAssociations != nil {
		for _, a := range c.KeyValueStoreAssociations.Items {
			arns = append(arns, aws.ToString(a.KeyValueStoreARN))
		}
	}
	return strings.Join(arns, ",")
}

// reachable reads the function (absent is fine: the deploy creates it) and
// the KeyValueStore, so that credentials that cannot manage them fail before
// publish uploads anything.
func reachable(ctx context.Context, c Clients, o Options) error {
	_, err := c.CloudFront.DescribeFunction(ctx, &cloudfront.DescribeFunctionInput{Name: &o.Name, Stage: types.FunctionStageDevelopment})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("--function-name %s: cannot read the function, so nothing was changed: %w", o.Name, err)
	}
	return storeReachable(ctx, c, o, "--kvs-arn")
}

func storeReachable(ctx context.Context, c Clients, o Options, what string) error {
	if o.KVSARN == "" || c.KVS == nil {
		return nil
	}
	if _, err := c.KVS.DescribeKeyValueStore(ctx, &cloudfrontkeyvaluestore.DescribeKeyValueStoreInput{KvsARN: &o.KVSARN}); err != nil {
		return fmt.Errorf("%s %s: cannot read the KeyValueStore, so nothing was changed: %w", what, o.KVSARN, err)
	}
	return nil
}

func isNotFound(err error) bool {
	var nf *types.NoSuchFunctionExists
	return errors.As(err, &nf)
}

func isAccessDenied(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "AccessDenied" || ae.ErrorCode() == "AccessDeniedException")
}

// ensureFunction makes the DEVELOPMENT stage hold o's code and config and
// returns its ETag, and whether LIVE already matches (nothing to publish).
func ensureFunction(ctx context.Context, api FunctionsAPI, o Options, r *Result, out io.Writer) (string, bool, error) {
	desc, err := api.DescribeFunction(ctx, &cloudfront.DescribeFunctionInput{Name: &o.Name, Stage: types.FunctionStageDevelopment})
	if isNotFound(err) && o.DryRun {
		r.Created = true
		fmt.Fprintf(out, "function %s: would be created (%d bytes)\n", o.Name, len(o.Code))
		return "", false, nil
	}
	if isNotFound(err) {
		created, err := api.CreateFunction(ctx, &cloudfront.CreateFunctionInput{Name: &o.Name, FunctionCode: o.Code, FunctionConfig: o.config()})
		if err != nil {
			return "", false, fmt.Errorf("create function %s: %w", o.Name, err)
		}
		r.Created = true
		r.FunctionARN = functionARN(created.FunctionSummary, "")
		fmt.Fprintf(out, "function %s: created (%d bytes)\n", o.Name, len(o.Code))
		return aws.ToString(created.ETag), false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("describe function %s: %w", o.Name, err)
	}
	r.FunctionARN = functionARN(desc.FunctionSummary, "")
	etag := aws.ToString(desc.ETag)
	dev, err := api.GetFunction(ctx, &cloudfront.GetFunctionInput{Name: &o.Name, Stage: types.FunctionStageDevelopment})
	if err != nil {
		return "", false, fmt.Errorf("get function %s: %w", o.Name, err)
	}
	changed := !bytes.Equal(dev.FunctionCode, o.Code) || !sameConfig(desc.FunctionSummary.FunctionConfig, o.config())
	if changed && o.DryRun {
		r.Updated = true
		fmt.Fprintf(out, "function %s: would be updated (%d bytes)\n", o.Name, len(o.Code))
		return etag, false, nil
	}
	if changed {
		up, err := api.UpdateFunction(ctx, &cloudfront.UpdateFunctionInput{Name: &o.Name, IfMatch: aws.String(aws.ToString(dev.ETag)),
			FunctionCode: o.Code, FunctionConfig: o.config()})
		if err != nil {
			return "", false, fmt.Errorf("update function %s: %w", o.Name, err)
		}
		r.Updated = true
		fmt.Fprintf(out, "function %s: updated (%d bytes)\n", o.Name, len(o.Code))
		return aws.ToString(up.ETag), false, nil
	}
	live, err := liveMatches(ctx, api, o)
	return etag, live, err
}

// liveMatches says whether the LIVE stage already runs o's code and config
// (an earlier deploy may have stopped between update and publish).
func liveMatches(ctx context.Context, api FunctionsAPI, o Options) (bool, error) {
	desc, err := api.DescribeFunction(ctx, &cloudfront.DescribeFunctionInput{Name: &o.Name, Stage: types.FunctionStageLive})
	if isNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("describe live function %s: %w", o.Name, err)
	}
	got, err := api.GetFunction(ctx, &cloudfront.GetFunctionInput{Name: &o.Name, Stage: types.FunctionStageLive})
	if err != nil {
		return false, fmt.Errorf("get live function %s: %w", o.Name, err)
	}
	return bytes.Equal(got.FunctionCode, o.Code) && sameConfig(desc.FunctionSummary.FunctionConfig, o.config()), nil
}

// testFunction runs the DEVELOPMENT stage against a request for the entry
// page; an error thrown there stops the deploy before publishing. A caller
// without cloudfront:TestFunction permission gets a note, not a failure.
func testFunction(ctx context.Context, api FunctionsAPI, o Options, etag string, r *Result, out io.Writer) error {
	event := fmt.Sprintf(`{"version":"1.0","context":{"eventType":"viewer-request"},"viewer":{"ip":"198.51.100.7"},`+
		`"request":{"method":"GET","uri":%q,"querystring":{},"headers":{"host":{"value":"studio.example.com"}},"cookies":{}}}`, o.BasePath+"/")
	res, err := api.TestFunction(ctx, &cloudfront.TestFunctionInput{Name: &o.Name, IfMatch: &etag,
		Stage: types.FunctionStageDevelopment, EventObject: []byte(event)})
	if isAccessDenied(err) {
		fmt.Fprintf(out, "function %s: test skipped (no permission for cloudfront:TestFunction)\n", o.Name)
		return nil
	}
	if err != nil {
		return fmt.Errorf("test function %s: %w", o.Name, err)
	}
	if res.TestResult != nil && aws.ToString(res.TestResult.FunctionErrorMessage) != "" {
		return fmt.Errorf("test function %s: it failed in CloudFront, not published: %s", o.Name, aws.ToString(res.TestResult.FunctionErrorMessage))
	}
	r.Tested = true
	util := ""
	if res.TestResult != nil {
		util = aws.ToString(res.TestResult.ComputeUtilization)
	}
	fmt.Fprintf(out, "function %s: tested (compute utilization %s)\n", o.Name, or(util, "?"))
	return nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
