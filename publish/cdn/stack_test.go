package cdn

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
	"gopkg.in/yaml.v3"

	"github.com/studiobake/studiobake/build"
)

func testPolicy() *types.ResponseHeadersPolicyConfig {
	return &types.ResponseHeadersPolicyConfig{Name: aws.String("studiobake-studio-agents"), Comment: aws.String("studio headers"),
		SecurityHeadersConfig: &types.ResponseHeadersPolicySecurityHeadersConfig{
			ContentSecurityPolicy: &types.ResponseHeadersPolicyContentSecurityPolicy{ContentSecurityPolicy: aws.String("default-src 'self'"), Override: aws.Bool(true)},
			ContentTypeOptions:    &types.ResponseHeadersPolicyContentTypeOptions{Override: aws.Bool(true)},
			FrameOptions:          &types.ResponseHeadersPolicyFrameOptions{FrameOption: types.FrameOptionsListDeny, Override: aws.Bool(true)},
			ReferrerPolicy:        &types.ResponseHeadersPolicyReferrerPolicy{ReferrerPolicy: types.ReferrerPolicyListStrictOriginWhenCrossOrigin, Override: aws.Bool(true)},
			StrictTransportSecurity: &types.ResponseHeadersPolicyStrictTransportSecurity{AccessControlMaxAgeSec: aws.Int32(31536000),
				IncludeSubdomains: aws.Bool(false), Preload: aws.Bool(false), Override: aws.Bool(true)},
		}}
}

// stackVariants are the shapes a bake gives the stack.
func stackVariants() map[string]StackOptions {
	oneOrigin := build.API{Mode: build.APIOneOrigin, Prefix: "/api", Upstream: "https://mastra.internal.example.com"}
	return map[string]StackOptions{
		"root":        {Code: gateV1, HeadersPolicy: testPolicy()},
		"base-path":   {Code: gateV1, HeadersPolicy: testPolicy(), BasePath: "/agents"},
		"one-origin":  {Code: gateV1, HeadersPolicy: testPolicy(), BasePath: "/agents", API: oneOrigin, KVS: true},
		"given-store": {Code: gateV1, HeadersPolicy: testPolicy(), BasePath: "/agents", KVS: true, KVSARN: testKVS},
		"domain": {Code: gateV1, HeadersPolicy: testPolicy(), BasePath: "/agents", Domain: "studio.example.com",
			CertificateARN: "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"},
	}
}

func parseStack(t *testing.T, o StackOptions) map[string]any {
	t.Helper()
	b, err := StackTemplate(o)
	if err != nil {
		t.Fatal(err)
	}
	var tpl map[string]any
	if err := yaml.Unmarshal(b, &tpl); err != nil {
		t.Fatalf("the stack is not YAML: %v", err)
	}
	return tpl
}

// TestStackAgainstSpec checks every variant of the stack against the
// CloudFormation resource specification.
func TestStackAgainstSpec(t *testing.T) {
	spec := loadSpec(t)
	t.Logf("specification %s", spec.Version)
	for name, o := range stackVariants() {
		t.Run(name, func(t *testing.T) {
			c := &specCheck{spec: spec, tpl: parseStack(t, o)}
			for _, p := range c.run() {
				t.Error(p)
			}
		})
	}
}

// TestSpecCheckFails: the checker finds each kind of mistake (so that a
// clean run means something).
func TestSpecCheckFails(t *testing.T) {
	spec := loadSpec(t)
	for _, c := range []struct {
		name string
		edit func(tpl map[string]any)
		want string
	}{
		{"unknown type", func(tpl map[string]any) { res(tpl, "SiteBucket")["Type"] = "AWS::S3::Bukket" }, "unknown resource type"},
		{"unknown property", func(tpl map[string]any) { props(tpl, "SiteBucket")["PublicAccess"] = true }, `unknown property "PublicAccess"`},
		{"nested unknown property", func(tpl map[string]any) {
			dc(tpl)["DefaultCacheBehavior"].(map[string]any)["ViewerProtocol"] = "https-only"
		}, `DefaultCacheBehavior: unknown property "ViewerProtocol"`},
		{"required missing", func(tpl map[string]any) { delete(props(tpl, "GateFunction"), "FunctionCode") }, `required property "FunctionCode" missing`},
		{"nested required missing", func(tpl map[string]any) {
			delete(dc(tpl)["DefaultCacheBehavior"].(map[string]any), "TargetOriginId")
		}, `required property "TargetOriginId" missing`},
		{"wrong kind", func(tpl map[string]any) { props(tpl, "GateFunction")["AutoPublish"] = "yes" }, "is not a Boolean"},
		{"bad attribute", func(tpl map[string]any) {
			tpl["Outputs"].(map[string]any)["X"] = map[string]any{"Value": map[string]any{"Fn::GetAtt": []any{"Distribution", "Arnn"}}}
		}, `has no attribute "Arnn"`},
		{"store without a name", func(tpl map[string]any) { delete(props(tpl, stackKVS), "Name") }, `GateKeyValueStore: required property "Name" missing`},
		{"store attribute", func(tpl map[string]any) {
			tpl["Outputs"].(map[string]any)[OutputKVSARN] = map[string]any{"Value": map[string]any{"Fn::GetAtt": []any{stackKVS, "ARN"}}}
		}, `(AWS::CloudFront::KeyValueStore) has no attribute "ARN"`},
		{"dangling Ref", func(tpl map[string]any) { props(tpl, "SiteBucketPolicy")["Bucket"] = map[string]any{"Ref": "Nope"} }, `Ref to "Nope"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			tpl := parseStack(t, stackVariants()["one-origin"])
			c.edit(tpl)
			got := strings.Join((&specCheck{spec: spec, tpl: tpl}).run(), "\n")
			if !strings.Contains(got, c.want) {
				t.Errorf("problems %q, want one with %q", got, c.want)
			}
		})
	}
}

func res(tpl map[string]any, id string) map[string]any {
	return tpl["Resources"].(map[string]any)[id].(map[string]any)
}

func props(tpl map[string]any, id string) map[string]any {
	return res(tpl, id)["Properties"].(map[string]any)
}

func dc(tpl map[string]any) map[string]any {
	return props(tpl, "Distribution")["DistributionConfig"].(map[string]any)
}

func getAtt(id, attr string) string { return fmt.Sprint(map[string]any{"Fn::GetAtt": []any{id, attr}}) }

// TestStackSecurityShape asserts the security shape of every variant from
// the parsed template: the gate on every behaviour, HTTPS only, the managed
// policies, a bucket that is not public, no custom error responses, and a
// bucket policy that admits this distribution only.
func TestStackSecurityShape(t *testing.T) {
	for name, o := range stackVariants() {
		t.Run(name, func(t *testing.T) {
			tpl := parseStack(t, o)
			d := dc(tpl)
			if _, ok := d["CustomErrorResponses"]; ok {
				t.Error("the distribution has custom error responses")
			}
			behaviours := []map[string]any{d["DefaultCacheBehavior"].(map[string]any)}
			cbs, _ := d["CacheBehaviors"].([]any)
			for _, cb := range cbs {
				behaviours = append(behaviours, cb.(map[string]any))
			}
			for i, b := range behaviours {
				checkBehaviour(t, i, b, o)
			}
			checkAPI(t, d, cbs, o)
			checkBucket(t, tpl)
			checkPolicy(t, tpl)
			checkStore(t, tpl, o)
		})
	}
}

func checkBehaviour(t *testing.T, i int, b map[string]any, o StackOptions) {
	t.Helper()
	where := fmt.Sprintf("behaviour %d (%v)", i, b["PathPattern"])
	fas, _ := b["FunctionAssociations"].([]any)
	gated := false
	for _, fa := range fas {
		m := fa.(map[string]any)
		gated = gated || (m["EventType"] == "viewer-request" && fmt.Sprint(m["FunctionARN"]) == getAtt("GateFunction", "FunctionARN"))
	}
	if !gated {
		t.Errorf("%s: no gate: %v", where, fas)
	}
	if b["ViewerProtocolPolicy"] != "redirect-to-https" {
		t.Errorf("%s: viewer protocol %v", where, b["ViewerProtocolPolicy"])
	}
	if b["TargetOriginId"] == bucketOriginID {
		if b["CachePolicyId"] != cachingOptimized || b["Compress"] != true {
			t.Errorf("%s: cache policy %v, compress %v", where, b["CachePolicyId"], b["Compress"])
		}
		if fmt.Sprint(b["AllowedMethods"]) != "[GET HEAD]" {
			t.Errorf("%s: methods %v reach the bucket", where, b["AllowedMethods"])
		}
	}
	if i == 0 && fmt.Sprint(b["ResponseHeadersPolicyId"]) != fmt.Sprint(map[string]any{"Ref": "HeadersPolicy"}) {
		t.Errorf("default behaviour: headers policy %v", b["ResponseHeadersPolicyId"])
	}
}

// checkAPI: a one-origin stack forwards the prefix to the upstream with
// the managed policies and every method; others have no other behaviour.
func checkAPI(t *testing.T, d map[string]any, cbs []any, o StackOptions) {
	t.Helper()
	if !o.API.OneOrigin() {
		if len(cbs) != 0 || len(d["Origins"].([]any)) != 1 {
			t.Errorf("behaviours %v, origins %v: want the bucket's only", cbs, d["Origins"])
		}
		return
	}
	if len(cbs) != 1 {
		t.Fatalf("cache behaviours %v, want the API's", cbs)
	}
	b := cbs[0].(map[string]any)
	if b["PathPattern"] != "api/*" || b["TargetOriginId"] != APIOriginID || b["CachePolicyId"] != cachingDisabled ||
		b["OriginRequestPolicyId"] != allViewerExceptHostHeader || len(b["AllowedMethods"].([]any)) != 7 {
		t.Errorf("API behaviour %v", b)
	}
	found := false
	for _, or := range d["Origins"].([]any) {
		m := or.(map[string]any)
		if m["Id"] == APIOriginID {
			found = m["DomainName"] == "mastra.internal.example.com" && m["CustomOriginConfig"].(map[string]any)["OriginProtocolPolicy"] == "https-only"
		}
	}
	if !found {
		t.Errorf("no https origin for the upstream: %v", d["Origins"])
	}
}

// checkStore: a gate that reads a KeyValueStore is associated with
// exactly one, the stack's own (created empty: no ImportSource, so no
// entry and no secret in the template) or the one the build named, and an
// output names it for publish --stack; a gate that reads none has neither.
func checkStore(t *testing.T, tpl map[string]any, o StackOptions) {
	t.Helper()
	res := tpl["Resources"].(map[string]any)
	assoc := props(tpl, "GateFunction")["FunctionConfig"].(map[string]any)["KeyValueStoreAssociations"]
	out, hasOut := tpl["Outputs"].(map[string]any)[OutputKVSARN].(map[string]any)
	_, created := res[stackKVS]
	if !o.KVS {
		if assoc != nil || hasOut || created {
			t.Errorf("a gate that reads no store: association %v, output %v, store created %v", assoc, out, created)
		}
		return
	}
	want := any(o.KVSARN)
	if o.KVSARN == "" {
		want = map[string]any{"Fn::GetAtt": []any{stackKVS, "Arn"}}
		store := props(tpl, stackKVS)
		if res[stackKVS].(map[string]any)["Type"] != "AWS::CloudFront::KeyValueStore" || len(store) != 2 || store["Name"] == nil || store["Comment"] == nil {
			t.Errorf("the stack's store: %v", res[stackKVS])
		}
	} else if created {
		t.Errorf("a store was created beside the one the build named")
	}
	if fmt.Sprint(assoc) != fmt.Sprint([]any{map[string]any{"KeyValueStoreARN": want}}) {
		t.Errorf("function's stores %v, want %v", assoc, want)
	}
	if !hasOut || fmt.Sprint(out["Value"]) != fmt.Sprint(want) {
		t.Errorf("output %s = %v, want %v", OutputKVSARN, out, want)
	}
}

func checkBucket(t *testing.T, tpl map[string]any) {
	t.Helper()
	p := props(tpl, "SiteBucket")
	pab, _ := p["PublicAccessBlockConfiguration"].(map[string]any)
	for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
		if pab[k] != true {
			t.Errorf("bucket: %s is %v", k, pab[k])
		}
	}
	if !strings.Contains(fmt.Sprint(p["OwnershipControls"]), "BucketOwnerEnforced") {
		t.Errorf("bucket ownership: %v", p["OwnershipControls"])
	}
	if !strings.Contains(fmt.Sprint(p["BucketEncryption"]), "SSEAlgorithm") {
		t.Errorf("bucket encryption: %v", p["BucketEncryption"])
	}
	for _, k := range []string{"AccessControl", "WebsiteConfiguration", "CorsConfiguration"} {
		if _, ok := p[k]; ok {
			t.Errorf("bucket has %s", k)
		}
	}
}

// checkPolicy: every Allow statement admits the CloudFront service for
// this distribution only; nothing else is allowed.
func checkPolicy(t *testing.T, tpl map[string]any) {
	t.Helper()
	p := props(tpl, "SiteBucketPolicy")
	if fmt.Sprint(p["Bucket"]) != fmt.Sprint(map[string]any{"Ref": "SiteBucket"}) {
		t.Errorf("policy on %v", p["Bucket"])
	}
	allows := 0
	for _, s := range p["PolicyDocument"].(map[string]any)["Statement"].([]any) {
		st := s.(map[string]any)
		if st["Effect"] != "Allow" {
			continue
		}
		allows++
		cond := fmt.Sprint(st["Condition"])
		if fmt.Sprint(st["Principal"]) != "map[Service:cloudfront.amazonaws.com]" ||
			!strings.Contains(cond, "StringEquals") || !strings.Contains(cond, "AWS:SourceArn") || !strings.Contains(cond, ":distribution/${Distribution}") {
			t.Errorf("statement %v admits more than the distribution", st)
		}
		if a := fmt.Sprint(st["Action"]); a != "s3:GetObject" && a != "s3:ListBucket" {
			t.Errorf("statement %v allows %s", st["Sid"], a)
		}
	}
	if allows != 2 {
		t.Errorf("%d Allow statements, want GetObject and ListBucket", allows)
	}
}

// TestStackParameters: the domain and certificate are parameters whose
// defaults the build gives, used only together (a condition in the
// template and a rule that refuses one without the other at deploy).
func TestStackParameters(t *testing.T) {
	tpl := parseStack(t, stackVariants()["domain"])
	params := tpl["Parameters"].(map[string]any)
	if params["DomainName"].(map[string]any)["Default"] != "studio.example.com" || !strings.HasPrefix(fmt.Sprint(params["CertificateArn"].(map[string]any)["Default"]), "arn:aws:acm:us-east-1:") {
		t.Errorf("parameters %v", params)
	}
	vc := fmt.Sprint(dc(tpl)["ViewerCertificate"])
	if !strings.Contains(vc, "HasDomainName") || !strings.Contains(vc, "sni-only") || !strings.Contains(vc, "CloudFrontDefaultCertificate") {
		t.Errorf("viewer certificate %s", vc)
	}
	rules := fmt.Sprint(tpl["Rules"])
	if !strings.Contains(rules, "CertificateArn") || !strings.Contains(rules, "DomainName") {
		t.Errorf("no rule ties DomainName to CertificateArn: %s", rules)
	}
	out := fmt.Sprint(tpl["Outputs"])
	for _, k := range []string{OutputBucket, OutputPrefix, OutputDistributionID, OutputDomainName, OutputStudioURL} {
		if !strings.Contains(out, k+":") {
			t.Errorf("outputs lack %s: %s", k, out)
		}
	}
}

// TestStackRefuses: what CloudFormation or CloudFront cannot express is
// refused with the setting named.
func TestStackRefuses(t *testing.T) {
	base := stackVariants()["base-path"]
	cert := "arn:aws:acm:us-east-1:123456789012:certificate/abc"
	for _, c := range []struct {
		name string
		edit func(o *StackOptions)
		want string
	}{
		{"domain without certificate", func(o *StackOptions) { o.Domain = "studio.example.com" }, "--stack-domain \"studio.example.com\" needs --stack-certificate-arn"},
		{"certificate without domain", func(o *StackOptions) { o.CertificateARN = cert }, "needs --stack-domain"},
		{"certificate outside us-east-1", func(o *StackOptions) {
			o.Domain, o.CertificateARN = "studio.example.com", strings.Replace(cert, "us-east-1", "eu-west-1", 1)
		}, "us-east-1"},
		{"bad domain", func(o *StackOptions) { o.Domain, o.CertificateARN = "https://studio.example.com", cert }, "invalid --stack-domain"},
		{"IP upstream", func(o *StackOptions) {
			o.API = build.API{Mode: build.APIOneOrigin, Prefix: "/api", Upstream: "http://10.0.0.5:4111"}
		}, "not an IP address"},
		{"template too large", func(o *StackOptions) { o.Code = strings.Repeat("x", maxTemplateBody) }, "51200"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := base
			c.edit(&o)
			if _, err := StackTemplate(o); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %q", err, c.want)
			}
		})
	}
}

// TestStackGolden keeps the one-origin stack readable in review.
// UPDATE_SNAPSHOTS=1 regenerates testdata/stack-one-origin.yaml.
func TestStackGolden(t *testing.T) {
	got, err := StackTemplate(stackVariants()["one-origin"])
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join("testdata", "stack-one-origin.yaml")
	if os.Getenv("UPDATE_SNAPSHOTS") != "" {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (UPDATE_SNAPSHOTS=1 creates it)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs from the stack (UPDATE_SNAPSHOTS=1 regenerates it)", p)
	}
}
