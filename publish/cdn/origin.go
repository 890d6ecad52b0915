package cdn

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"

	"github.com/studiobake/studiobake/build"
)

// The one-origin setup: a custom origin for the Mastra server and a cache
// behaviour that forwards the API prefix to it.
const (
	// APIOriginID is the id of the origin studiobake manages; an origin
	// with another id is never touched.
	APIOriginID = "studiobake-api"
	// Managed policies (the same ids in every account).
	cachingDisabled           = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
	allViewerExceptHostHeader = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
	// apiReadTimeout is how long CloudFront waits for the first byte and
	// between bytes: agent answers stream as server-sent events with pauses
	// while a model or tool works, longer than the default 30 s. 60 s is
	// within what every account may set without a quota increase.
	apiReadTimeout = 60
)

// apiMethods are all seven methods: the API takes POST, PUT, PATCH, DELETE.
var apiMethods = []types.Method{types.MethodGet, types.MethodHead, types.MethodOptions, types.MethodPut,
	types.MethodPatch, types.MethodPost, types.MethodDelete}

// apiPattern is the path pattern of the API behaviour: "/api" -> "api/*".
// Studio only calls paths under PREFIX/ (the endpoint plus the prefix plus
// a path that starts with /), and nginx's location and the gate's pass-
// through match the same PREFIX/ form, so the bare prefix gets no
// behaviour of its own: it is served like any other path outside Studio.
func apiPattern(prefix string) string {
	return strings.TrimPrefix(prefix, "/") + "/*"
}

// upstream is the manifest's API upstream as CloudFront's origin needs it.
type upstream struct {
	host   string
	port   int32
	policy types.OriginProtocolPolicy
}

// parseUpstream checks the manifest's upstream against what CloudFront
// accepts as a custom origin.
func parseUpstream(raw string) (upstream, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || (u.Path != "" && u.Path != "/") {
		return upstream{}, fmt.Errorf("invalid API upstream %q in the manifest: want http(s)://host[:port]", raw)
	}
	up := upstream{host: u.Hostname(), port: 443, policy: types.OriginProtocolPolicyHttpsOnly}
	if u.Scheme == "http" {
		up.port, up.policy = 80, types.OriginProtocolPolicyHttpOnly
	}
	if net.ParseIP(up.host) != nil {
		return upstream{}, fmt.Errorf("API upstream %q: CloudFront takes a domain name as origin, not an IP address: give the Mastra server a DNS name", raw)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		// CloudFront connects to origins on 80, 443 and 1024-65535 only.
		if err != nil || (n != 80 && n != 443 && (n < 1024 || n > 65535)) {
			return upstream{}, fmt.Errorf("API upstream %q: CloudFront connects to origins on ports 80, 443 and 1024-65535 only", raw)
		}
		up.port = int32(n)
	}
	return up, nil
}

func (up upstream) String() string {
	return fmt.Sprintf("%s to %s:%d", up.policy, up.host, up.port)
}

// ensureAPI adds or updates the API origin and its cache behaviour so that
// CloudFront forwards the API prefix to the upstream.
func ensureAPI(cfg *types.DistributionConfig, api build.API) ([]string, error) {
	up, err := parseUpstream(api.Upstream)
	if err != nil {
		return nil, err
	}
	var changes []string
	if c := ensureAPIOrigin(cfg, up); c != "" {
		changes = append(changes, c)
	}
	changes = append(changes, ensureAPIBehavior(cfg, apiPattern(api.Prefix))...)
	return changes, nil
}

// ensureAPIOrigin sets what studiobake manages of its origin (host,
// protocol, port) and leaves the rest (timeouts, custom headers) as the
// user may have tuned it.
func ensureAPIOrigin(cfg *types.DistributionConfig, up upstream) string {
	if cfg.Origins == nil {
		cfg.Origins = &types.Origins{Quantity: aws.Int32(0)}
	}
	for i := range cfg.Origins.Items {
		o := &cfg.Origins.Items[i]
		if aws.ToString(o.Id) != APIOriginID {
			continue
		}
		c := o.CustomOriginConfig
		if c != nil && o.S3OriginConfig == nil && aws.ToString(o.DomainName) == up.host && aws.ToString(o.OriginPath) == "" &&
			c.OriginProtocolPolicy == up.policy && up.portIn(c) == up.port {
			return ""
		}
		was := describeOrigin(o)
		o.DomainName, o.OriginPath, o.S3OriginConfig, o.OriginAccessControlId = aws.String(up.host), aws.String(""), nil, aws.String("")
		if c == nil {
			c = newCustomOrigin()
			o.CustomOriginConfig = c
		}
		up.set(c)
		return fmt.Sprintf("update origin %s: %s (was %s)", APIOriginID, up, was)
	}
	c := newCustomOrigin()
	up.set(c)
	cfg.Origins.Items = append(cfg.Origins.Items, types.Origin{Id: aws.String(APIOriginID), DomainName: aws.String(up.host),
		OriginPath: aws.String(""), CustomOriginConfig: c, CustomHeaders: &types.CustomHeaders{Quantity: aws.Int32(0)},
		ConnectionAttempts: aws.Int32(3), ConnectionTimeout: aws.Int32(10), OriginAccessControlId: aws.String("")})
	cfg.Origins.Quantity = aws.Int32(int32(len(cfg.Origins.Items)))
	return fmt.Sprintf("add origin %s: %s", APIOriginID, up)
}

func newCustomOrigin() *types.CustomOriginConfig {
	return &types.CustomOriginConfig{HTTPPort: aws.Int32(80), HTTPSPort: aws.Int32(443),
		OriginReadTimeout: aws.Int32(apiReadTimeout), OriginKeepaliveTimeout: aws.Int32(5),
		OriginSslProtocols: &types.OriginSslProtocols{Quantity: aws.Int32(1), Items: []types.SslProtocol{types.SslProtocolTLSv12}}}
}

// portIn is the port c uses for up's protocol.
func (up upstream) portIn(c *types.CustomOriginConfig) int32 {
	if up.policy == types.OriginProtocolPolicyHttpOnly {
		return aws.ToInt32(c.HTTPPort)
	}
	return aws.ToInt32(c.HTTPSPort)
}

// set makes c connect to up.
func (up upstream) set(c *types.CustomOriginConfig) {
	c.OriginProtocolPolicy = up.policy
	if up.policy == types.OriginProtocolPolicyHttpOnly {
		c.HTTPPort = aws.Int32(up.port)
	} else {
		c.HTTPSPort = aws.Int32(up.port)
	}
	if c.HTTPPort == nil { // both ports are required
		c.HTTPPort = aws.Int32(80)
	}
	if c.HTTPSPort == nil {
		c.HTTPSPort = aws.Int32(443)
	}
}

func describeOrigin(o *types.Origin) string {
	c := o.CustomOriginConfig
	if c == nil {
		return "an S3 origin for " + aws.ToString(o.DomainName)
	}
	port := c.HTTPSPort
	if c.OriginProtocolPolicy == types.OriginProtocolPolicyHttpOnly {
		port = c.HTTPPort
	}
	return fmt.Sprintf("%s to %s:%d%s", c.OriginProtocolPolicy, aws.ToString(o.DomainName), aws.ToInt32(port), aws.ToString(o.OriginPath))
}

// ensureAPIBehavior adds or updates the cache behaviour for pattern and
// makes sure no earlier behaviour takes API requests first (CloudFront
// uses the first pattern that matches).
func ensureAPIBehavior(cfg *types.DistributionConfig, pattern string) []string {
	if cfg.CacheBehaviors == nil {
		cfg.CacheBehaviors = &types.CacheBehaviors{Quantity: aws.Int32(0)}
	}
	items := cfg.CacheBehaviors.Items
	i := slices.IndexFunc(items, func(cb types.CacheBehavior) bool { return aws.ToString(cb.PathPattern) == pattern })
	var changes []string
	if i < 0 {
		items = slices.Insert(items, 0, types.CacheBehavior{PathPattern: aws.String(pattern), Compress: aws.Bool(false),
			SmoothStreaming: aws.Bool(false), FieldLevelEncryptionId: aws.String(""),
			FunctionAssociations:       &types.FunctionAssociations{Quantity: aws.Int32(0)},
			LambdaFunctionAssociations: &types.LambdaFunctionAssociations{Quantity: aws.Int32(0)}})
		setAPIBehavior(&items[0])
		changes = append(changes, "add cache behaviour "+pattern+": to origin "+APIOriginID+
			", caching disabled, all viewer headers but Host, cookies and query strings forwarded, all methods, redirect to HTTPS")
		i = 0
	} else if diff := setAPIBehavior(&items[i]); len(diff) > 0 {
		changes = append(changes, "update cache behaviour "+pattern+": "+strings.Join(diff, ", "))
	}
	if j := slices.IndexFunc(items[:i], func(cb types.CacheBehavior) bool { return matchesAPI(aws.ToString(cb.PathPattern), pattern) }); j >= 0 {
		cb := items[i]
		items = slices.Insert(slices.Delete(items, i, i+1), 0, cb)
		changes = append(changes, fmt.Sprintf("move cache behaviour %s first: %s before it takes API requests", pattern, aws.ToString(items[j+1].PathPattern)))
	}
	cfg.CacheBehaviors.Items, cfg.CacheBehaviors.Quantity = items, aws.Int32(int32(len(items)))
	return changes
}

// setAPIBehavior sets what the API behaviour must be and says what was
// different. Legacy cache settings (ForwardedValues, TTLs) cannot be
// combined with a cache policy, so they go.
func setAPIBehavior(cb *types.CacheBehavior) []string {
	var diff []string
	set := func(what string, differs bool, apply func()) {
		if differs {
			diff = append(diff, what)
			apply()
		}
	}
	set("origin "+APIOriginID, aws.ToString(cb.TargetOriginId) != APIOriginID, func() { cb.TargetOriginId = aws.String(APIOriginID) })
	set("redirect to HTTPS", cb.ViewerProtocolPolicy != types.ViewerProtocolPolicyRedirectToHttps,
		func() { cb.ViewerProtocolPolicy = types.ViewerProtocolPolicyRedirectToHttps })
	set("all methods", !allMethods(cb.AllowedMethods), func() {
		cb.AllowedMethods = &types.AllowedMethods{Quantity: aws.Int32(int32(len(apiMethods))), Items: apiMethods,
			CachedMethods: &types.CachedMethods{Quantity: aws.Int32(2), Items: []types.Method{types.MethodGet, types.MethodHead}}}
	})
	set("caching disabled", aws.ToString(cb.CachePolicyId) != cachingDisabled, func() { cb.CachePolicyId = aws.String(cachingDisabled) })
	set("all viewer headers but Host forwarded", aws.ToString(cb.OriginRequestPolicyId) != allViewerExceptHostHeader,
		func() { cb.OriginRequestPolicyId = aws.String(allViewerExceptHostHeader) })
	set("legacy cache settings removed", cb.ForwardedValues != nil || cb.MinTTL != nil || cb.DefaultTTL != nil || cb.MaxTTL != nil,
		func() { cb.ForwardedValues, cb.MinTTL, cb.DefaultTTL, cb.MaxTTL = nil, nil, nil, nil })
	return diff
}

func allMethods(m *types.AllowedMethods) bool {
	if m == nil || len(m.Items) != len(apiMethods) {
		return false
	}
	for _, x := range apiMethods {
		if !slices.Contains(m.Items, x) {
			return false
		}
	}
	return true
}

// matchesAPI says whether a path pattern takes requests under the API
// prefix: it matches a sample API path.
func matchesAPI(p, apiPattern string) bool {
	base := "/" + strings.TrimSuffix(apiPattern, "/*")
	return pathPattern(p).MatchString(base+"/agents") || pathPattern(p).MatchString(base+"/")
}

// pathPattern compiles a CloudFront path pattern: * is any run of
// characters (slashes included), ? one character, case-sensitive; the
// leading slash is optional.
func pathPattern(p string) *regexp.Regexp {
	q := regexp.QuoteMeta("/" + strings.TrimPrefix(p, "/"))
	q = strings.ReplaceAll(strings.ReplaceAll(q, `\*`, ".*"), `\?`, ".")
	return regexp.MustCompile("^" + q + "$")
}

// dropStaleAPI removes what the site's earlier, one-origin releases had
// studiobake add and this bake no longer needs: the cache behaviours that
// forwarded patterns to the API origin and, when dropOrigin (the bake
// forwards no API), the origin itself, unless something else still routes
// to it (another behaviour, such as another site's on the same
// distribution, or an origin group). The distribution would otherwise go
// on forwarding an API the page no longer calls.
func dropStaleAPI(cfg *types.DistributionConfig, patterns []string, dropOrigin bool) []string {
	var changes []string
	if cfg.CacheBehaviors != nil {
		var items []types.CacheBehavior
		for _, cb := range cfg.CacheBehaviors.Items {
			if p := aws.ToString(cb.PathPattern); slices.Contains(patterns, p) && aws.ToString(cb.TargetOriginId) == APIOriginID {
				changes = append(changes, "remove cache behaviour "+p+": to origin "+APIOriginID+", which this bake does not forward "+p+" to")
				continue
			}
			items = append(items, cb)
		}
		cfg.CacheBehaviors.Items, cfg.CacheBehaviors.Quantity = items, aws.Int32(int32(len(items)))
	}
	if !dropOrigin || cfg.Origins == nil || routesToAPIOrigin(cfg) {
		return changes
	}
	i := slices.IndexFunc(cfg.Origins.Items, func(o types.Origin) bool { return aws.ToString(o.Id) == APIOriginID })
	if i >= 0 {
		changes = append(changes, "remove origin "+APIOriginID+": "+describeOrigin(&cfg.Origins.Items[i])+" (this bake calls no API through the distribution)")
		cfg.Origins.Items = slices.Delete(cfg.Origins.Items, i, i+1)
		cfg.Origins.Quantity = aws.Int32(int32(len(cfg.Origins.Items)))
	}
	return changes
}

// routesToAPIOrigin says whether a cache behaviour or an origin group still
// uses the API origin.
func routesToAPIOrigin(cfg *types.DistributionConfig) bool {
	if d := cfg.DefaultCacheBehavior; d != nil && aws.ToString(d.TargetOriginId) == APIOriginID {
		return true
	}
	if cfg.CacheBehaviors != nil {
		for _, cb := range cfg.CacheBehaviors.Items {
			if aws.ToString(cb.TargetOriginId) == APIOriginID {
				return true
			}
		}
	}
	if cfg.OriginGroups != nil {
		for _, g := range cfg.OriginGroups.Items {
			if g.Members == nil {
				continue
			}
			for _, m := range g.Members.Items {
				if aws.ToString(m.OriginId) == APIOriginID {
					return true
				}
			}
		}
	}
	return false
}
