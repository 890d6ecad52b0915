package deploy

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
)

// behavior points into a distribution config at one cache behaviour's
// associations.
type behavior struct {
	name      string
	functions **types.FunctionAssociations
	lambdas   *types.LambdaFunctionAssociations
}

// findBehavior picks the cache behaviour that serves Studio: the one named
// by pattern ("default" for the default behaviour), else the one whose
// path pattern covers the base path, else the default behaviour.
func findBehavior(cfg *types.DistributionConfig, pattern, base string) (behavior, error) {
	def := behavior{"default cache behaviour", &cfg.DefaultCacheBehavior.FunctionAssociations, cfg.DefaultCacheBehavior.LambdaFunctionAssociations}
	if pattern == "default" || (pattern == "" && base == "") {
		return def, nil
	}
	want := map[string]bool{pattern: true}
	if pattern == "" {
		b := strings.TrimPrefix(base, "/")
		want = map[string]bool{b + "/*": true, "/" + b + "/*": true, b + "*": true, "/" + b + "*": true}
	}
	if cfg.CacheBehaviors != nil {
		for i := range cfg.CacheBehaviors.Items {
			cb := &cfg.CacheBehaviors.Items[i]
			if want[aws.ToString(cb.PathPattern)] {
				return behavior{"cache behaviour " + aws.ToString(cb.PathPattern), &cb.FunctionAssociations, cb.LambdaFunctionAssociations}, nil
			}
		}
	}
	if pattern != "" {
		return behavior{}, fmt.Errorf("--cache-behavior %q: the distribution has no cache behaviour with that path pattern", pattern)
	}
	return def, nil
}

// associate sets the function as the behaviour's viewer-request function,
// writing the distribution only when that changes something.
func associate(ctx context.Context, api DistributionsAPI, o Options, r *Result, out io.Writer) error {
	got, err := api.GetDistributionConfig(ctx, &cloudfront.GetDistributionConfigInput{Id: &o.DistributionID})
	if err != nil {
		return fmt.Errorf("get distribution %s: %w", o.DistributionID, err)
	}
	cfg := got.DistributionConfig
	b, err := findBehavior(cfg, o.CacheBehavior, o.BasePath)
	if err != nil {
		return err
	}
	if b.lambdas != nil {
		for _, l := range b.lambdas.Items {
			if l.EventType == types.EventTypeViewerRequest {
				return fmt.Errorf("distribution %s, %s: a Lambda@Edge viewer-request function (%s) is attached; CloudFront allows one of the two: remove it first",
					o.DistributionID, b.name, aws.ToString(l.LambdaFunctionARN))
			}
		}
	}
	fa := *b.functions
	if fa == nil {
		fa = &types.FunctionAssociations{Quantity: aws.Int32(0)}
	}
	var items []types.FunctionAssociation
	for _, a := range fa.Items {
		if a.EventType == types.EventTypeViewerRequest {
			if aws.ToString(a.FunctionARN) == r.FunctionARN {
				fmt.Fprintf(out, "distribution %s: %s already runs the function\n", o.DistributionID, b.name)
				return nil
			}
			continue // replaced below: one function per event type
		}
		items = append(items, a)
	}
	items = append(items, types.FunctionAssociation{EventType: types.EventTypeViewerRequest, FunctionARN: aws.String(r.FunctionARN)})
	if o.DryRun {
		r.Associated = true
		fmt.Fprintf(out, "distribution %s: %s would run the function on viewer requests\n", o.DistributionID, b.name)
		return nil
	}
	*b.functions = &types.FunctionAssociations{Quantity: aws.Int32(int32(len(items))), Items: items}
	_, err = api.UpdateDistribution(ctx, &cloudfront.UpdateDistributionInput{Id: &o.DistributionID, IfMatch: got.ETag, DistributionConfig: cfg})
	if err != nil {
		return fmt.Errorf("update distribution %s: %w", o.DistributionID, err)
	}
	r.Associated = true
	fmt.Fprintf(out, "distribution %s: %s now runs the function on viewer requests\n", o.DistributionID, b.name)
	return nil
}
