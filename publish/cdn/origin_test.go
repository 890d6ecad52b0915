package cdn

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"

	"github.com/studiobake/studiobake/build"
	"github.com/studiobake/studiobake/publish/cdn/cdntest"
)

// distConfig reads the fake's distribution back through the SDK.
func distConfig(t *testing.T, c Clients) *types.DistributionConfig {
	t.Helper()
	got, err := c.CloudFront.GetDistributionConfig(context.Background(), &cloudfront.GetDistributionConfigInput{Id: aws.String(cdntest.DistributionID)})
	if err != nil {
		t.Fatal(err)
	}
	return got.DistributionConfig
}

func oneOrigin(code, upstream string) Options {
	o := opts(code)
	o.API = build.API{Mode: build.APIOneOrigin, Prefix: "/api", Upstream: upstream}
	return o
}

// setConfig writes cfg to the fake through the SDK, as another tool would.
func setConfig(t *testing.T, c Clients, cfg *types.DistributionConfig) {
	t.Helper()
	id := aws.String(cdntest.DistributionID)
	got, err := c.CloudFront.GetDistributionConfig(context.Background(), &cloudfront.GetDistributionConfigInput{Id: id})
	if err == nil {
		_, err = c.CloudFront.UpdateDistribution(context.Background(), &cloudfront.UpdateDistributionInput{Id: id, IfMatch: got.ETag, DistributionConfig: cfg})
	}
	if err != nil {
		t.Fatal(err)
	}
}

func viewerRequest(fa *types.FunctionAssociations) string {
	if fa == nil {
		return ""
	}
	for _, a := range fa.Items {
		if a.EventType == types.EventTypeViewerRequest {
			return aws.ToString(a.FunctionARN)
		}
	}
	return ""
}

func TestOneOriginDistribution(t *testing.T) {
	f, c := newFake(t)
	o := oneOrigin(gateV1, "https://mastra.internal.acme.com")

	o.DryRun = true
	var out bytes.Buffer
	if _, err := Run(context.Background(), c, o, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"would add origin studiobake-api: https-only to mastra.internal.acme.com:443",
		"would add cache behaviour api/*", "would attach the gate to the cache behaviour agents/*"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry run does not say %q:\n%s", want, out.String())
		}
	}
	if f.Count("UpdateDistribution") != 0 {
		t.Fatal("dry run wrote the distribution")
	}

	o.DryRun = false
	r := deploy(t, c, o)
	if !r.Associated || len(r.DistributionChanges) != 5 {
		t.Fatalf("first deploy: %+v", r)
	}
	cfg := distConfig(t, c)
	origin := cfg.Origins.Items[len(cfg.Origins.Items)-1]
	if aws.ToString(origin.Id) != APIOriginID || aws.ToString(origin.DomainName) != "mastra.internal.acme.com" ||
		origin.CustomOriginConfig.OriginProtocolPolicy != types.OriginProtocolPolicyHttpsOnly ||
		aws.ToInt32(origin.CustomOriginConfig.HTTPSPort) != 443 || aws.ToInt32(origin.CustomOriginConfig.OriginReadTimeout) != apiReadTimeout {
		t.Errorf("origin: %+v %+v", origin, origin.CustomOriginConfig)
	}
	api := cfg.CacheBehaviors.Items[0]
	if aws.ToString(api.PathPattern) != "api/*" || aws.ToString(api.TargetOriginId) != APIOriginID ||
		aws.ToString(api.CachePolicyId) != cachingDisabled || aws.ToString(api.OriginRequestPolicyId) != allViewerExceptHostHeader ||
		api.ViewerProtocolPolicy != types.ViewerProtocolPolicyRedirectToHttps || !allMethods(api.AllowedMethods) ||
		len(api.AllowedMethods.CachedMethods.Items) != 2 || api.ForwardedValues != nil {
		t.Errorf("API behaviour: %+v", api)
	}
	arn := "arn:aws:cloudfront::123456789012:function/studio-gate"
	if viewerRequest(api.FunctionAssociations) != arn || viewerRequest(cfg.CacheBehaviors.Items[1].FunctionAssociations) != arn {
		t.Errorf("the gate is not the viewer-request function of api/* and agents/*")
	}

	// A second run changes nothing.
	r = deploy(t, c, o)
	if r.Associated || f.Count("UpdateDistribution") != 1 {
		t.Errorf("second deploy: %+v, %d distribution updates", r, f.Count("UpdateDistribution"))
	}

	// A new upstream updates the origin in place.
	r = deploy(t, c, oneOrigin(gateV1, "http://mastra.internal.acme.com:8080"))
	cfg = distConfig(t, c)
	origin = cfg.Origins.Items[len(cfg.Origins.Items)-1]
	if len(r.DistributionChanges) != 1 || len(cfg.Origins.Items) != 2 ||
		origin.CustomOriginConfig.OriginProtocolPolicy != types.OriginProtocolPolicyHttpOnly || aws.ToInt32(origin.CustomOriginConfig.HTTPPort) != 8080 {
		t.Errorf("upstream change: %q, origin %+v", r.DistributionChanges, origin.CustomOriginConfig)
	}

	// A new prefix moves the API: the old behaviour goes, the origin stays.
	moved := oneOrigin(gateV1, "http://mastra.internal.acme.com:8080")
	moved.API.Prefix, moved.StaleAPIPrefixes = "/v2/api", []string{"/api"}
	r = deploy(t, c, moved)
	if got := behaviourPatterns(distConfig(t, c)); !slices.Equal(got, []string{"v2/api/*", "agents/*"}) ||
		!slices.ContainsFunc(r.DistributionChanges, func(s string) bool { return strings.HasPrefix(s, "remove cache behaviour api/*") }) {
		t.Errorf("prefix change: behaviours %v, changes %q", got, r.DistributionChanges)
	}

	// A bake that no longer forwards its API takes back what the one-origin
	// bakes added: first in a dry run, which writes nothing.
	direct := opts(gateV1)
	direct.StaleAPIPrefixes, direct.DryRun = []string{"/api", "/v2/api"}, true
	out.Reset()
	if _, err := Run(context.Background(), c, direct, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"would remove cache behaviour v2/api/*: to origin studiobake-api",
		"would remove origin studiobake-api: http-only to mastra.internal.acme.com:8080"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry run does not say %q:\n%s", want, out.String())
		}
	}
	updates := f.Count("UpdateDistribution")
	direct.DryRun = false
	r = deploy(t, c, direct)
	cfg = distConfig(t, c)
	if got := behaviourPatterns(cfg); !slices.Equal(got, []string{"agents/*"}) || len(cfg.Origins.Items) != 1 ||
		aws.ToInt32(cfg.Origins.Quantity) != 1 || len(r.DistributionChanges) != 2 || f.Count("UpdateDistribution") != updates+1 {
		t.Errorf("back to direct: behaviours %v, %d origins, changes %q", got, len(cfg.Origins.Items), r.DistributionChanges)
	}
	if r := deploy(t, c, direct); r.Associated {
		t.Errorf("a second direct deploy changed %q", r.DistributionChanges)
	}
}

// Only the site's own stale API behaviour goes: another site's behaviour to
// the same origin (a second base path on the distribution) keeps it and the
// origin, and an origin group naming the origin keeps the origin.
func TestStaleAPIKeepsWhatOthersUse(t *testing.T) {
	_, c := newFake(t)
	deploy(t, c, oneOrigin(gateV1, "https://mastra.internal.acme.com"))
	other := oneOrigin(gateV1, "https://mastra.internal.acme.com")
	other.API.Prefix, other.BasePath, other.Prefix = "/staging/api", "/staging", "staging/"
	cfg := distConfig(t, c)
	if c := ensureAPIBehavior(cfg, apiPattern(other.API.Prefix)); len(c) != 1 {
		t.Fatalf("adding the other site's behaviour: %q", c)
	}
	setConfig(t, c, cfg)

	direct := opts(gateV1)
	direct.StaleAPIPrefixes = []string{"/api"}
	r := deploy(t, c, direct)
	cfg = distConfig(t, c)
	if got := behaviourPatterns(cfg); !slices.Equal(got, []string{"staging/api/*", "agents/*"}) || len(cfg.Origins.Items) != 2 ||
		slices.ContainsFunc(r.DistributionChanges, func(s string) bool { return strings.HasPrefix(s, "remove origin") }) {
		t.Errorf("behaviours %v, %d origins, changes %q: want the other site's behaviour and the origin kept", got, len(cfg.Origins.Items), r.DistributionChanges)
	}

	// Without the other behaviour, an origin group still holds the origin.
	cfg.CacheBehaviors.Items = slices.DeleteFunc(cfg.CacheBehaviors.Items, func(cb types.CacheBehavior) bool {
		return aws.ToString(cb.PathPattern) == "staging/api/*"
	})
	cfg.CacheBehaviors.Quantity = aws.Int32(int32(len(cfg.CacheBehaviors.Items)))
	cfg.OriginGroups = &types.OriginGroups{Quantity: aws.Int32(1), Items: []types.OriginGroup{{Id: aws.String("failover"),
		FailoverCriteria: &types.OriginGroupFailoverCriteria{StatusCodes: &types.StatusCodes{Quantity: aws.Int32(1), Items: []int32{503}}},
		Members: &types.OriginGroupMembers{Quantity: aws.Int32(2), Items: []types.OriginGroupMember{
			{OriginId: aws.String("s3")}, {OriginId: aws.String(APIOriginID)}}}}}}
	if changes := dropStaleAPI(cfg, []string{"api/*"}, true); len(changes) != 0 || len(cfg.Origins.Items) != 2 {
		t.Errorf("changes %q, %d origins: an origin group names the API origin", changes, len(cfg.Origins.Items))
	}
	cfg.OriginGroups = nil
	if changes := dropStaleAPI(cfg, []string{"api/*"}, true); len(changes) != 1 || len(cfg.Origins.Items) != 1 {
		t.Errorf("changes %q, %d origins: nothing routes to the API origin any more", changes, len(cfg.Origins.Items))
	}
}

func behaviourPatterns(cfg *types.DistributionConfig) []string {
	var patterns []string
	for _, cb := range cfg.CacheBehaviors.Items {
		patterns = append(patterns, aws.ToString(cb.PathPattern))
	}
	return patterns
}

// An API behaviour made by hand is brought in line, and moved before a
// behaviour that would take API requests first.
func TestOneOriginFixesExistingBehaviour(t *testing.T) {
	f, c := newFake(t)
	f.SetDistributionXML(strings.Replace(cdntest.UsualDistribution,
		`<CacheBehaviors><Quantity>1</Quantity><Items>`,
		`<CacheBehaviors><Quantity>3</Quantity><Items>`+
			`<CacheBehavior><PathPattern>a*</PathPattern><TargetOriginId>s3</TargetOriginId><ViewerProtocolPolicy>allow-all</ViewerProtocolPolicy></CacheBehavior>`+
			`<CacheBehavior><PathPattern>api/*</PathPattern><TargetOriginId>s3</TargetOriginId><ViewerProtocolPolicy>allow-all</ViewerProtocolPolicy>`+
			`<ForwardedValues><QueryString>false</QueryString><Cookies><Forward>none</Forward></Cookies></ForwardedValues><MinTTL>0</MinTTL></CacheBehavior>`, 1))
	o := oneOrigin(gateV1, "https://mastra.internal.acme.com")
	r := deploy(t, c, o)
	joined := strings.Join(r.DistributionChanges, "\n")
	for _, want := range []string{"update cache behaviour api/*: origin studiobake-api, redirect to HTTPS, all methods, caching disabled",
		"legacy cache settings removed", "move cache behaviour api/* first: a* before it"} {
		if !strings.Contains(joined, want) {
			t.Errorf("changes do not say %q:\n%s", want, joined)
		}
	}
	cfg := distConfig(t, c)
	patterns := behaviourPatterns(cfg)
	if !slices.Equal(patterns, []string{"api/*", "a*", "agents/*"}) || aws.ToInt32(cfg.CacheBehaviors.Quantity) != 3 {
		t.Errorf("behaviours %v (quantity %d)", patterns, aws.ToInt32(cfg.CacheBehaviors.Quantity))
	}
	if r := deploy(t, c, o); r.Associated {
		t.Errorf("second deploy changed %q", r.DistributionChanges)
	}
}

// An upstream CloudFront cannot use is refused before anything is written.
func TestOneOriginRefusesUpstream(t *testing.T) {
	cases := []struct{ upstream, want string }{
		{"https://10.0.0.7", "not an IP address"},
		{"https://mastra.internal.acme.com:81", "ports 80, 443 and 1024-65535"},
		{"ftp://mastra.internal.acme.com", "want http(s)://host[:port]"},
	}
	for _, tc := range cases {
		f, c := newFake(t)
		_, err := Run(context.Background(), c, oneOrigin(gateV1, tc.upstream), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.upstream, err, tc.want)
		}
		if n := f.Count("CreateFunction") + f.Count("UpdateDistribution"); n != 0 {
			t.Errorf("%s: %d writes before the refusal", tc.upstream, n)
		}
	}
}

func TestPathPattern(t *testing.T) {
	cases := []struct {
		pattern, path string
		want          bool
	}{
		{"api/*", "/api/agents", true},
		{"/api/*", "/api/agents", true},
		{"api/*", "/api", false},
		{"a*", "/api/agents", true},
		{"*", "/anything/at/all", true},
		{"agents/*", "/api/agents", false},
		{"ap?/*", "/api/x", true},
		{"API/*", "/api/x", false},
		{"a.b/*", "/axb/c", false},
	}
	for _, c := range cases {
		if got := pathPattern(c.pattern).MatchString(c.path); got != c.want {
			t.Errorf("%q matches %q: %v, want %v", c.pattern, c.path, got, c.want)
		}
	}
}
