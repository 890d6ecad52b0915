package cdn

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
	policy    **string // ResponseHeadersPolicyId
}

// findBehavior picks the cache behaviour that serves Studio: the one named
// by pattern ("default" for the default behaviour), else the one whose
// path pattern covers the base path, else the default behaviour.
func findBehavior(cfg *types.DistributionConfig, pattern, base string) (behavior, error) {
	d := cfg.DefaultCacheBehavior
	def := behavior{"default cache behaviour", &d.FunctionAssociations, d.LambdaFunctionAssociations, &d.ResponseHeadersPolicyId}
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
				return behavior{"cache behaviour " + aws.ToString(cb.PathPattern), &cb.FunctionAssociations, cb.LambdaFunctionAssociations, &cb.ResponseHeadersPolicyId}, nil
			}
		}
	}
	if pattern != "" {
		return behavior{}, fmt.Errorf("--cache-behavior %q: the distribution has no cache behaviour with that path pattern", pattern)
	}
	return def, nil
}

// associate sets the function as the behaviour's viewer-request function
// (and the headers policy, when one was deployed), writing the
// distribution only when that changes something.
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
	if err := b.checkLambda(o.DistributionID); err != nil {
		return err
	}
	changes := b.setFunction(r.FunctionARN)
	if o.HeadersPolicy != nil && aws.ToString(*b.policy) != r.HeadersPolicyID {
		if old := aws.ToString(*b.policy); old != "" {
			changes = append(changes, "replaces headers policy "+old)
		}
		changes = append(changes, "headers policy")
		*b.policy = aws.String(r.HeadersPolicyID)
	}
	if len(changes) == 0 {
		fmt.Fprintf(out, "distribution %s: %s already runs the function\n", o.DistributionID, b.name)
		return nil
	}
	r.Associated = true
	if o.DryRun {
		fmt.Fprintf(out, "distribution %s: %s would get: %s\n", o.DistributionID, b.name, strings.Join(changes, ", "))
		return nil
	}
	_, err = api.UpdateDistribution(ctx, &cloudfront.UpdateDistributionInput{Id: &o.DistributionID, IfMatch: got.ETag, DistributionConfig: cfg})
	if err != nil {
		return fmt.Errorf("update distribution %s: %w", o.DistributionID, err)
	}
	fmt.Fprintf(out, "distribution %s: %s now has: %s\n", o.DistributionID, b.name, strings.Join(changes, ", "))
	return nil
}

// checkLambda refuses a behaviour with a Lambda@Edge viewer-request
// function: CloudFront allows one of the two per event type.
func (b behavior) checkLambda(dist string) error {
	if b.lambdas == nil {
		return nil
	}
	for _, l := range b.lambdas.Items {
		if l.EventType == types.EventTypeViewerRequest {
			return fmt.Errorf("distribution %s, %s: a Lambda@Edge viewer-request function (%s) is attached; CloudFront allows one of the two: remove it first",
				dist, b.name, aws.ToString(l.LambdaFunctionARN))
		}
	}
	return nil
}

// setFunction makes arn the viewer-request function, keeping the other
// associations (viewer-response), and says what changed.
func (b behavior) setFunction(arn string) []string {
	fa := *b.functions
	if fa == nil {
		fa = &types.FunctionAssociations{Quantity: aws.Int32(0)}
	}
	var items []types.FunctionAssociation
	for _, a := range fa.Items {
		if a.EventType == types.EventTypeViewerRequest {
			if aws.ToString(a.FunctionARN) == arn {
				return nil
			}
			continue // one function per event type: replaced below
		}
		items = append(items, a)
	}
	items = append(items, types.FunctionAssociation{EventType: types.EventTypeViewerRequest, FunctionARN: aws.String(arn)})
	*b.functions = &types.FunctionAssociations{Quantity: aws.Int32(int32(len(items))), Items: items}
	return []string{"viewer-request function"}
}
