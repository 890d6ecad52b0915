package cdn

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
)

// distribution builds a distribution config document: origins, then
// behaviours in order, the default last.
func distribution(origins, behaviours, def string, n int) string {
	return `<?xml version="1.0" encoding="UTF-8"?><DistributionConfig xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/">` +
		`<CallerReference>ref-1</CallerReference><Comment>studio</Comment><Enabled>true</Enabled>` + origins +
		`<DefaultCacheBehavior>` + def + `<ViewerProtocolPolicy>redirect-to-https</ViewerProtocolPolicy></DefaultCacheBehavior>` +
		`<CacheBehaviors><Quantity>` + string(rune('0'+n)) + `</Quantity><Items>` + behaviours + `</Items></CacheBehaviors></DistributionConfig>`
}

func cb(pattern, origin, extra string) string {
	return `<CacheBehavior><PathPattern>` + pattern + `</PathPattern><TargetOriginId>` + origin +
		`</TargetOriginId><ViewerProtocolPolicy>redirect-to-https</ViewerProtocolPolicy>` + extra + `</CacheBehavior>`
}

const (
	otherFunction = `<FunctionAssociations><Quantity>2</Quantity><Items>` +
		`<FunctionAssociation><FunctionARN>arn:aws:cloudfront::123456789012:function/legacy-auth</FunctionARN><EventType>viewer-request</EventType></FunctionAssociation>` +
		`<FunctionAssociation><FunctionARN>arn:aws:cloudfront::123456789012:function/add-headers</FunctionARN><EventType>viewer-response</EventType></FunctionAssociation>` +
		`</Items></FunctionAssociations>`
	lambdaEdge = `<LambdaFunctionAssociations><Quantity>1</Quantity><Items><LambdaFunctionAssociation>` +
		`<LambdaFunctionARN>arn:aws:lambda:us-east-1:123456789012:function:auth:3</LambdaFunctionARN><EventType>viewer-request</EventType>` +
		`</LambdaFunctionAssociation></Items></LambdaFunctionAssociations>`
)

// The usual console setup: the default behaviour and agents/* both point
// at the bucket. The gate goes on both; a dry run says so first.
func TestCoverageUsualDistribution(t *testing.T) {
	f, c := newFake(t)
	o := opts(gateV1)
	o.DryRun = true
	var out bytes.Buffer
	if _, err := Run(context.Background(), c, o, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"distribution E123: origin s3 serves s3://studio/agents/; the gate runs on the cache behaviour agents/*, the default cache behaviour",
		"would attach the gate to the cache behaviour agents/*", "would attach the gate to the default cache behaviour"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry run does not say %q:\n%s", want, out.String())
		}
	}
	if f.Count("UpdateDistribution")+f.Count("CreateFunction") != 0 {
		t.Fatal("dry run wrote")
	}
	o.DryRun = false
	deploy(t, c, o)
	if got := gated(t, c); !slices.Equal(got, []string{"agents/*", ""}) {
		t.Errorf("gated %q", got)
	}
	if r := deploy(t, c, o); r.Associated || f.Count("UpdateDistribution") != 1 {
		t.Errorf("second run changed %q", r.DistributionChanges)
	}
}

// Behaviours whose origin is not the bucket, or whose pattern cannot reach
// the prefix, are left alone; every other one that reaches the bucket,
// through an origin path, a wildcard or an origin group, gets the gate.
func TestCoverageWhichBehaviours(t *testing.T) {
	f, c := newFake(t)
	origins := `<Origins><Quantity>4</Quantity><Items>` +
		`<Origin><Id>s3</Id><DomainName>studio.s3.eu-west-1.amazonaws.com</DomainName></Origin>` +
		`<Origin><Id>s3-under</Id><DomainName>studio.s3.eu-west-1.amazonaws.com</DomainName><OriginPath>/agents</OriginPath></Origin>` +
		`<Origin><Id>web</Id><DomainName>www.example.com</DomainName></Origin>` +
		`<Origin><Id>backup</Id><DomainName>studio-backup.s3.amazonaws.com</DomainName></Origin></Items></Origins>` +
		`<OriginGroups><Quantity>1</Quantity><Items><OriginGroup><Id>failover</Id><FailoverCriteria><StatusCodes><Quantity>1</Quantity><Items><StatusCode>503</StatusCode></Items></StatusCodes></FailoverCriteria>` +
		`<Members><Quantity>2</Quantity><Items><OriginGroupMember><OriginId>backup</OriginId></OriginGroupMember><OriginGroupMember><OriginId>s3</OriginId></OriginGroupMember></Items></Members></OriginGroup></Items></OriginGroups>`
	f.SetDistributionXML(distribution(origins,
		cb("agents/*", "s3", "")+cb("images/*", "s3", "")+cb("ag*", "s3", "")+cb("static/*", "web", "")+
			cb("files/*", "s3-under", "")+cb("*.js", "failover", "")+cb("%61gents-x/*", "s3", ""),
		`<TargetOriginId>web</TargetOriginId>`, 7))
	deploy(t, c, opts(gateV1))
	want := []string{"agents/*", "ag*", "files/*", "*.js"}
	if got := gated(t, c); !slices.Equal(got, want) {
		t.Errorf("gated %q, want %q", got, want)
	}
}

// A behaviour that reaches the bucket but runs another viewer-request
// function is refused before any change, with the flag that covers it;
// with the flag, the gate replaces it and other associations stay.
func TestCoverageRefusesOtherFunctions(t *testing.T) {
	f, c := newFake(t)
	f.SetDistributionXML(distribution(`<Origins><Quantity>1</Quantity><Items><Origin><Id>s3</Id><DomainName>studio.s3.amazonaws.com</DomainName></Origin></Items></Origins>`,
		cb("agents/*", "s3", lambdaEdge), `<TargetOriginId>s3</TargetOriginId>`+otherFunction, 1))
	o := opts(gateV1)
	o.KVSARN, o.KVS = testKVS, map[string]string{"user:a": "s:h"}
	_, err := Run(context.Background(), c, o, &bytes.Buffer{})
	for _, want := range []string{"cache behaviour agents/* (Lambda@Edge arn:aws:lambda:us-east-1:123456789012:function:auth:3)",
		"default cache behaviour (function arn:aws:cloudfront::123456789012:function/legacy-auth)", "--replace-functions"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
	if n := f.Count("UpdateKeys") + f.Count("CreateFunction") + f.Count("UpdateDistribution"); n != 0 {
		t.Fatalf("%d writes before the refusal", n)
	}
	o.ReplaceFunctions = true
	r := deploy(t, c, o)
	if got := gated(t, c); !slices.Equal(got, []string{"agents/*", ""}) {
		t.Fatalf("gated %q after --replace-functions (%q)", got, r.DistributionChanges)
	}
	cfg := distConfig(t, c)
	if la := cfg.CacheBehaviors.Items[0].LambdaFunctionAssociations; la != nil && len(la.Items) != 0 {
		t.Errorf("Lambda@Edge viewer-request kept: %+v", la.Items)
	}
	kept := slices.ContainsFunc(cfg.DefaultCacheBehavior.FunctionAssociations.Items, func(a types.FunctionAssociation) bool {
		return a.EventType == types.EventTypeViewerResponse && strings.HasSuffix(aws.ToString(a.FunctionARN), "/add-headers")
	})
	if !kept {
		t.Error("the viewer-response function was dropped")
	}
}

// Without an origin recognisably the bucket the deploy is refused, naming
// --bucket-origin; with it the named origin's behaviours are covered.
func TestCoverageBucketOrigin(t *testing.T) {
	f, c := newFake(t)
	f.SetDistributionXML(distribution(`<Origins><Quantity>1</Quantity><Items><Origin><Id>r2</Id><DomainName>cdn-files.example.com</DomainName></Origin></Items></Origins>`,
		cb("agents/*", "r2", ""), `<TargetOriginId>r2</TargetOriginId>`, 1))
	o := opts(gateV1)
	if _, err := Run(context.Background(), c, o, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "give --bucket-origin ID") ||
		!strings.Contains(err.Error(), "r2 (cdn-files.example.com)") {
		t.Errorf("unrecognised origin: %v", err)
	}
	o.BucketOrigin = "nope"
	if _, err := Run(context.Background(), c, o, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), `--bucket-origin "nope"`) {
		t.Errorf("unknown --bucket-origin: %v", err)
	}
	if f.Count("CreateFunction") != 0 {
		t.Fatal("wrote before refusing")
	}
	o.BucketOrigin = "r2"
	deploy(t, c, o)
	if got := gated(t, c); !slices.Equal(got, []string{"agents/*", ""}) {
		t.Errorf("gated %q", got)
	}
}

func TestServesBucket(t *testing.T) {
	cases := []struct {
		domain, bucket string
		want           bool
	}{
		{"studio.s3.amazonaws.com", "studio", true},
		{"studio.s3.eu-west-1.amazonaws.com", "studio", true},
		{"studio.s3-eu-west-1.amazonaws.com", "studio", true},
		{"studio.s3.dualstack.eu-west-1.amazonaws.com", "studio", true},
		{"studio.s3-website-us-east-1.amazonaws.com", "studio", true},
		{"studio.s3-website.eu-central-1.amazonaws.com", "studio", true},
		{"studio.s3.cn-north-1.amazonaws.com.cn", "studio", true},
		{"Studio.S3.amazonaws.com.", "studio", true},
		{"studio.example.com.s3.amazonaws.com", "studio.example.com", true},
		{"studio-old.s3.amazonaws.com", "studio", false},
		{"other.studio.s3.amazonaws.com", "studio", false},
		{"studio.s3.amazonaws.com.example.net", "studio", false},
		{"studio.example.com", "studio", false},
		{"studio.mediastore.amazonaws.com", "studio", false},
	}
	for _, c := range cases {
		if got := servesBucket(c.domain, c.bucket); got != c.want {
			t.Errorf("%s serves %s: %v, want %v", c.domain, c.bucket, got, c.want)
		}
	}
}

func TestReaches(t *testing.T) {
	cases := []struct {
		desc, pattern, originPath, prefix string
		want                              bool
	}{
		{"default behaviour", "*", "", "agents/", true},
		{"the base path", "agents/*", "", "agents/", true},
		{"a shorter wildcard", "ag*", "", "agents/", true},
		{"another folder", "images/*", "", "agents/", false},
		{"the bucket root prefix", "images/*", "", "", true},
		{"origin path leads there", "files/*", "/agents", "agents/", true},
		{"origin path leads elsewhere", "*", "/site", "agents/", false},
		{"an encoded literal", "%61gents/*", "", "agents/", true},
		{"an undecodable literal", "%6*", "", "agents/", true},
		{"a deeper pattern", "agents/assets/*", "", "agents/", true},
		{"single-character wildcard", "a?ents/*", "", "agents/", true},
	}
	for _, c := range cases {
		if got := reaches(c.pattern, c.originPath, c.prefix); got != c.want {
			t.Errorf("%s: reaches(%q, %q, %q) = %v, want %v", c.desc, c.pattern, c.originPath, c.prefix, got, c.want)
		}
	}
}
