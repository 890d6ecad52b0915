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
// and cache behaviour of a one-origin bake, the gate on every behaviour
// that serves Studio's files, the headers policy), writing it only when
// that changes something.
func associate(ctx context.Context, api DistributionsAPI, o Options, r *Result, out io.Writer) error {
	got, err := api.GetDistributionConfig(ctx, &cloudfront.GetDistributionConfigInput{Id: &o.DistributionID})
	if err != nil {
		return fmt.Errorf("get distribution %s: %w", o.DistributionID, err)
	}
	cfg := got.DistributionConfig
	plan, err := planDistribution(cfg, o, r.FunctionARN, r.HeadersPolicyID)
	if err != nil {
		return err
	}
	if plan.coverage != "" {
		fmt.Fprintf(out, "distribution %s: %s\n", o.DistributionID, plan.coverage)
	}
	if len(plan.changes) == 0 {
		fmt.Fprintf(out, "distribution %s: current, nothing to change\n", o.DistributionID)
		return nil
	}
	r.Associated, r.DistributionChanges = true, plan.changes
	verb := ""
	if o.DryRun {
		verb = "would "
	}
	for _, c := range plan.changes {
		fmt.Fprintf(out, "distribution %s: %s%s\n", o.DistributionID, verb, c)
	}
	if o.DryRun {
		return nil
	}
	_, err = api.UpdateDistribution(ctx, &cloudfront.UpdateDistributionInput{Id: &o.DistributionID, IfMatch: got.ETag, DistributionConfig: cfg})
	if err != nil {
		return fmt.Errorf("update distribution %s: %w", o.DistributionID, err)
	}
	fmt.Fprintf(out, "distribution %s: updated (%d changes)\n", o.DistributionID, len(plan.changes))
	return nil
}

// distPlan is what planDistribution changed, one line per change, and
// which behaviours the gate covers.
type distPlan struct {
	changes  []string
	coverage string
}

// planDistribution changes cfg in place into what the bake needs and says
// what it changed; it refuses what it cannot do safely (cfg is then not to
// be written). arn is the function's ARN ("" when a dry run has not created
// it yet) and policyID the headers policy's.
func planDistribution(cfg *types.DistributionConfig, o Options, arn, policyID string) (distPlan, error) {
	var plan distPlan
	if cfg.DefaultCacheBehavior == nil {
		return plan, fmt.Errorf("distribution %s has no default cache behaviour", o.DistributionID)
	}
	oneOrigin := o.API.OneOrigin()
	if oneOrigin {
		c, err := ensureAPI(cfg, o.API)
		if err != nil {
			return plan, fmt.Errorf("distribution %s: %w", o.DistributionID, err)
		}
		plan.changes = append(plan.changes, c...)
	}
	var stale []string
	for _, p := range o.StaleAPIPrefixes {
		if !oneOrigin || p != o.API.Prefix {
			stale = append(stale, apiPattern(p))
		}
	}
	if len(stale) > 0 {
		plan.changes = append(plan.changes, dropStaleAPI(cfg, stale, !oneOrigin)...)
	}
	all := behaviors(cfg) // after ensureAPI: it may add a behaviour
	main, err := mainBehavior(all, o.CacheBehavior, o.BasePath)
	if err != nil {
		return plan, err
	}
	targets, coverage, err := gateTargets(cfg, all, main, o)
	if err != nil {
		return plan, fmt.Errorf("distribution %s: %w", o.DistributionID, err)
	}
	plan.coverage = coverage
	g := gate{arn: arn, name: o.Name}
	var blocked []string
	for _, b := range targets {
		c, why := g.attach(b, o.ReplaceFunctions)
		if why != "" {
			blocked = append(blocked, b.name+" ("+why+")")
		} else if c != "" {
			plan.changes = append(plan.changes, c)
		}
	}
	if len(blocked) > 0 {
		return plan, fmt.Errorf("distribution %s: the gate must run on every cache behaviour that can serve Studio's files, "+
			"but another viewer-request function is attached to the %s: --replace-functions puts the gate in its place "+
			"(or point those behaviours at another origin)", o.DistributionID, strings.Join(blocked, ", the "))
	}
	if o.HeadersPolicy != nil && aws.ToString(*main.policy) != policyID {
		c := "attach headers policy " + aws.ToString(o.HeadersPolicy.Name) + " to the " + main.name
		if old := aws.ToString(*main.policy); old != "" {
			c += " (replacing policy " + old + ")"
		}
		plan.changes = append(plan.changes, c)
		*main.policy = aws.String(policyID)
	}
	return plan, nil
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
// associations (a viewer-response function), and says what it changed.
// CloudFront allows one viewer-request function per behaviour, a
// CloudFront Function or a Lambda@Edge one: another one is replaced only
// when replace is set; otherwise attach says what blocks it.
func (g gate) attach(b behavior, replace bool) (change, blocked string) {
	var others []string
	fa := *b.functions
	if fa == nil {
		fa = &types.FunctionAssociations{Quantity: aws.Int32(0)}
	}
	var items []types.FunctionAssociation
	for _, a := range fa.Items {
		if a.EventType != types.EventTypeViewerRequest {
			items = append(items, a)
		} else if g.is(aws.ToString(a.FunctionARN)) {
			return "", ""
		} else {
			others = append(others, "function "+aws.ToString(a.FunctionARN))
		}
	}
	var lambdas []types.LambdaFunctionAssociation
	if la := *b.lambdas; la != nil {
		for _, l := range la.Items {
			if l.EventType == types.EventTypeViewerRequest {
				others = append(others, "Lambda@Edge "+aws.ToString(l.LambdaFunctionARN))
			} else {
				lambdas = append(lambdas, l)
			}
		}
	}
	if len(others) > 0 && !replace {
		return "", strings.Join(others, ", ")
	}
	items = append(items, types.FunctionAssociation{EventType: types.EventTypeViewerRequest, FunctionARN: aws.String(g.arn)})
	*b.functions = &types.FunctionAssociations{Quantity: aws.Int32(int32(len(items))), Items: items}
	if *b.lambdas != nil {
		*b.lambdas = &types.LambdaFunctionAssociations{Quantity: aws.Int32(int32(len(lambdas))), Items: lambdas}
	}
	if len(others) > 0 {
		return "replace " + strings.Join(others, " and ") + " with the gate on the " + b.name, ""
	}
	return "attach the gate to the " + b.name, ""
}
