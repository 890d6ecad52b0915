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

// behavior points into a distribution config at one cache behaviour.
type behavior struct {
	name      string // "default cache behaviour" or "cache behaviour agents/*"
	pattern   string // "" for the default behaviour
	origin    string // TargetOriginId
	functions **types.FunctionAssociations
	lambdas   **types.LambdaFunctionAssociations
	policy    **string // ResponseHeadersPolicyId
}

// behaviors lists the cache behaviours in the order CloudFront matches
// them: the path patterns in order, then the default. The pointers stay
// valid until the list of cache behaviours is changed.
func behaviors(cfg *types.DistributionConfig) []behavior {
	var out []behavior
	if cfg.CacheBehaviors != nil {
		for i := range cfg.CacheBehaviors.Items {
			cb := &cfg.CacheBehaviors.Items[i]
			p := aws.ToString(cb.PathPattern)
			out = append(out, behavior{"cache behaviour " + p, p, aws.ToString(cb.TargetOriginId),
				&cb.FunctionAssociations, &cb.LambdaFunctionAssociations, &cb.ResponseHeadersPolicyId})
		}
	}
	if d := cfg.DefaultCacheBehavior; d != nil {
		out = append(out, behavior{"default cache behaviour", "", aws.ToString(d.TargetOriginId),
			&d.FunctionAssociations, &d.LambdaFunctionAssociations, &d.ResponseHeadersPolicyId})
	}
	return out
}

// mainBehavior picks the cache behaviour that serves Studio: the one named
// by pattern ("default" for the default behaviour), else the one whose
// path pattern covers the base path, else the default behaviour.
func mainBehavior(all []behavior, pattern, base string) (behavior, error) {
	def := all[len(all)-1]
	if pattern == "default" || (pattern == "" && base == "") {
		return def, nil
	}
	want := map[string]bool{pattern: true}
	if pattern == "" {
		b := strings.TrimPrefix(base, "/")
		want = map[string]bool{b + "/*": true, "/" + b + "/*": true, b + "*": true, "/" + b + "*": true}
	}
	for _, b := range all[:len(all)-1] {
		if want[b.pattern] {
			return b, nil
		}
	}
	if pattern != "" {
		return behavior{}, fmt.Errorf("--cache-behavior %q: the distribution has no cache behaviour with that path pattern", pattern)
	}
	return def, nil
}

// associate brings the distribution in line with the bake (the API origin
// and cache behaviour of a one-origin bake, the gate on the behaviours that
// serve Studio, the headers policy), writing it only when that changes
// something.
func associate(ctx context.Context, api DistributionsAPI, o Options, r *Result, out io.Writer) error {
	got, err := api.GetDistributionConfig(ctx, &cloudfront.GetDistributionConfigInput{Id: &o.DistributionID})
	if err != nil {
		return fmt.Errorf("get distribution %s: %w", o.DistributionID, err)
	}
	cfg := got.DistributionConfig
	changes, err := planDistribution(cfg, o, r.FunctionARN, r.HeadersPolicyID)
	if err != nil {
		return err
	}
	if len(changes) == 0 {
		fmt.Fprintf(out, "distribution %s: current, nothing to change\n", o.DistributionID)
		return nil
	}
	r.Associated, r.DistributionChanges = true, changes
	verb := ""
	if o.DryRun {
		verb = "would "
	}
	for _, c := range changes {
		fmt.Fprintf(out, "distribution %s: %s%s\n", o.DistributionID, verb, c)
	}
	if o.DryRun {
		return nil
	}
	_, err = api.UpdateDistribution(ctx, &cloudfront.UpdateDistributionInput{Id: &o.DistributionID, IfMatch: got.ETag, DistributionConfig: cfg})
	if err != nil {
		return fmt.Errorf("update distribution %s: %w", o.DistributionID, err)
	}
	fmt.Fprintf(out, "distribution %s: updated (%d changes)\n", o.DistributionID, len(changes))
	return nil
}

// planDistribution changes cfg in place into what the bake needs and says
// what it changed, one line per change; it refuses, changing nothing that
// matters, what it cannot do safely. arn is the function's ARN ("" when a
// dry run has not created it yet) and policyID the headers policy's.
func planDistribution(cfg *types.DistributionConfig, o Options, arn, policyID string) ([]string, error) {
	if cfg.DefaultCacheBehavior == nil {
		return nil, fmt.Errorf("distribution %s has no default cache behaviour", o.DistributionID)
	}
	var changes []string
	if o.API.OneOrigin() {
		c, err := ensureAPI(cfg, o.API)
		if err != nil {
			return nil, fmt.Errorf("distribution %s: %w", o.DistributionID, err)
		}
		changes = append(changes, c...)
	}
	all := behaviors(cfg) // after ensureAPI: it may add a behaviour
	main, err := mainBehavior(all, o.CacheBehavior, o.BasePath)
	if err != nil {
		return nil, err
	}
	targets := []behavior{main}
	if o.API.OneOrigin() {
		targets = append(targets, findPattern(all, apiPattern(o.API.Prefix)))
	}
	g := gate{arn: arn, name: o.Name}
	for _, b := range targets {
		c, err := g.attach(b)
		if err != nil {
			return nil, fmt.Errorf("distribution %s, %s: %w", o.DistributionID, b.name, err)
		}
		changes = append(changes, c...)
	}
	if o.HeadersPolicy != nil && aws.ToString(*main.policy) != policyID {
		c := "attach headers policy " + aws.ToString(o.HeadersPolicy.Name) + " to the " + main.name
		if old := aws.ToString(*main.policy); old != "" {
			c += " (replacing policy " + old + ")"
		}
		changes = append(changes, c)
		*main.policy = aws.String(policyID)
	}
	return changes, nil
}

func findPattern(all []behavior, pattern string) behavior {
	for _, b := range all {
		if b.pattern == pattern {
			return b
		}
	}
	panic("cdn: cache behaviour " + pattern + " vanished") // ensureAPI added it
}

// gate is the deployed function, as a viewer-request association.
type gate struct{ arn, name string }

// is says whether a function ARN is the gate's: its own ARN, or, before the
// function exists (a dry run), any function of that name.
func (g gate) is(arn string) bool {
	return (g.arn != "" && arn == g.arn) || strings.HasSuffix(arn, ":function/"+g.name)
}

// attach makes the gate b's viewer-request function, keeping its other
// associations (a viewer-response function). CloudFront allows one
// viewer-request function per behaviour, a CloudFront Function or a
// Lambda@Edge one: another one is refused, never silently dropped.
func (g gate) attach(b behavior) ([]string, error) {
	if la := *b.lambdas; la != nil {
		for _, l := range la.Items {
			if l.EventType == types.EventTypeViewerRequest {
				return nil, fmt.Errorf("a Lambda@Edge viewer-request function (%s) is attached; CloudFront allows one of the two: remove it first",
					aws.ToString(l.LambdaFunctionARN))
			}
		}
	}
	fa := *b.functions
	if fa == nil {
		fa = &types.FunctionAssociations{Quantity: aws.Int32(0)}
	}
	var items []types.FunctionAssociation
	change := "attach the gate to the " + b.name
	for _, a := range fa.Items {
		if a.EventType == types.EventTypeViewerRequest {
			if g.is(aws.ToString(a.FunctionARN)) {
				return nil, nil
			}
			change = "replace function " + aws.ToString(a.FunctionARN) + " with the gate on the " + b.name
			continue
		}
		items = append(items, a)
	}
	items = append(items, types.FunctionAssociation{EventType: types.EventTypeViewerRequest, FunctionARN: aws.String(g.arn)})
	*b.functions = &types.FunctionAssociations{Quantity: aws.Int32(int32(len(items))), Items: items}
	return []string{change}, nil
}
