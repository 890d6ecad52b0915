package cdn

import (
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
)

// Gate coverage. S3 decodes the request path into a key, so a request that
// no Studio behaviour matches (/agents%2Findex.html matches the default
// behaviour, not agents/*) still reaches Studio's objects through any
// other behaviour whose origin is the bucket. The gate therefore goes on
// every cache behaviour that can reach the bucket under the publish prefix,
// or the deploy is refused before any change.

// s3Host is the part of an S3 origin's domain name after "BUCKET.": the
// global and regional REST endpoints (s3.amazonaws.com,
// s3.eu-west-1.amazonaws.com, s3-eu-west-1..., s3.dualstack.REGION...) and
// the website endpoints (s3-website-REGION..., s3-website.REGION...), in
// the China partition too.
var s3Host = regexp.MustCompile(`^s3([.-][a-z0-9-]+)*\.amazonaws\.com(\.cn)?$`)

// servesBucket says whether an origin domain name is one of bucket's
// endpoints.
func servesBucket(domain, bucket string) bool {
	d := strings.TrimSuffix(strings.ToLower(domain), ".")
	rest, ok := strings.CutPrefix(d, strings.ToLower(bucket)+".")
	return ok && s3Host.MatchString(rest)
}

// bucketOrigins maps the ids of the origins (and origin groups) that serve
// the bucket to their origin paths. named is --bucket-origin: an origin the
// domain name does not give away (a custom domain, an S3-compatible store).
func bucketOrigins(cfg *types.DistributionConfig, bucket, named string) (map[string][]string, error) {
	out := map[string][]string{}
	var ids []string
	if cfg.Origins != nil {
		for _, o := range cfg.Origins.Items {
			id := aws.ToString(o.Id)
			ids = append(ids, id+" ("+aws.ToString(o.DomainName)+")")
			if id == named || servesBucket(aws.ToString(o.DomainName), bucket) {
				out[id] = append(out[id], aws.ToString(o.OriginPath))
			}
		}
	}
	if cfg.OriginGroups != nil {
		// A failover group reaches the bucket when one of its members does.
		for _, g := range cfg.OriginGroups.Items {
			id := aws.ToString(g.Id)
			ids = append(ids, id+" (origin group)")
			if id == named {
				out[id] = append(out[id], "")
			}
			if g.Members != nil {
				for _, m := range g.Members.Items {
					out[id] = append(out[id], out[aws.ToString(m.OriginId)]...)
				}
			}
			if len(out[id]) == 0 {
				delete(out, id)
			}
		}
	}
	if named != "" && !slices.ContainsFunc(ids, func(s string) bool { return strings.HasPrefix(s, named+" (") }) {
		return nil, fmt.Errorf("--bucket-origin %q: the distribution has no such origin (it has %s)", named, strings.Join(ids, ", "))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("none of its origins (%s) is recognisably bucket %s, so studiobake cannot tell which cache behaviours "+
			"reach it: give --bucket-origin ID, the origin that serves the bucket", strings.Join(ids, ", "), bucket)
	}
	return out, nil
}

// reaches says whether a behaviour with pattern, served from an origin
// with originPath, can get a key under prefix: whether the literal start of
// the pattern (before its first wildcard) and the prefix agree as far as
// both go. The literal is percent-decoded as S3 decodes the request; one
// that cannot be decoded counts as reaching.
func reaches(pattern, originPath, prefix string) bool {
	if prefix == "" {
		return true
	}
	lit := "/" + strings.TrimPrefix(pattern, "/")
	if i := strings.IndexAny(lit, "*?"); i >= 0 {
		lit = lit[:i]
	}
	key, err := url.PathUnescape(strings.TrimPrefix(originPath+lit, "/"))
	if err != nil {
		return true
	}
	return strings.HasPrefix(key, prefix) || strings.HasPrefix(prefix, key)
}

// gateTargets are the behaviours the gate must run on: main, the API
// behaviour of a one-origin bake, and every behaviour that reaches the
// bucket under the prefix. It also describes the coverage for the report.
func gateTargets(cfg *types.DistributionConfig, all []behavior, main behavior, o Options) ([]behavior, string, error) {
	targets := []behavior{main}
	add := func(b behavior) {
		if !slices.ContainsFunc(targets, func(t behavior) bool { return t.name == b.name }) {
			targets = append(targets, b)
		}
	}
	if o.API.OneOrigin() {
		add(findPattern(all, apiPattern(o.API.Prefix)))
	}
	if o.Bucket == "" && o.BucketOrigin == "" {
		return targets, "", nil // no bucket to cover: only the named behaviours
	}
	origins, err := bucketOrigins(cfg, o.Bucket, o.BucketOrigin)
	if err != nil {
		return nil, "", err
	}
	for _, b := range all {
		for _, p := range origins[b.origin] {
			if reaches(or(b.pattern, "*"), p, o.Prefix) {
				add(b)
				break
			}
		}
	}
	names := make([]string, len(targets))
	for i, b := range targets {
		names[i] = b.name
	}
	ids := slices.Sorted(maps.Keys(origins))
	return targets, fmt.Sprintf("origin %s serves s3://%s/%s; the gate runs on the %s",
		strings.Join(ids, ", "), o.Bucket, o.Prefix, strings.Join(names, ", the ")), nil
}
