package cdn

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
	gf "github.com/awslabs/goformation/v7/cloudformation"
	cfcf "github.com/awslabs/goformation/v7/cloudformation/cloudfront"
	cfs3 "github.com/awslabs/goformation/v7/cloudformation/s3"
	"github.com/awslabs/goformation/v7/intrinsics"
	"gopkg.in/yaml.v3"

	"github.com/studiobake/studiobake/build"
	"github.com/studiobake/studiobake/templates"
)

// The stack: everything publish needs, as one CloudFormation template that
// build --edge cloudfront writes beside the gate (edge/cloudfront/
// stack.yaml). Its resources are goformation's types, generated from the
// CloudFormation specification, so a misspelt property does not compile;
// its distribution is made by the same planDistribution that
// publish --associate applies to an existing one, so the behaviours, the
// API origin and the gate's coverage are defined once.

// StackFile is the template's name in edge/cloudfront/.
const StackFile = "stack.yaml"

// Logical ids of the stack's resources and parameters.
const (
	stackBucket       = "SiteBucket"
	stackBucketPolicy = "SiteBucketPolicy"
	stackOAC          = "OriginAccessControl"
	stackFunction     = "GateFunction"
	stackKVS          = "GateKeyValueStore"
	stackHeaders      = "HeadersPolicy"
	stackDistribution = "Distribution"
	paramDomain       = "DomainName"
	paramCertificate  = "CertificateArn"
	condDomain        = "HasDomainName"
	// bucketOriginID is the distribution's origin for the bucket.
	bucketOriginID = "studiobake-site"
)

// Output keys of the stack: publish --stack reads the first three.
const (
	OutputBucket         = "BucketName"
	OutputPrefix         = "Prefix"
	OutputDistributionID = "DistributionId"
	OutputDomainName     = "DomainName"
	OutputStudioURL      = "StudioURL"
	// OutputKVSARN is the store the gate reads, where publish --stack
	// writes the cookie secret and KVS users; only when the bake uses one.
	OutputKVSARN = "KeyValueStoreArn"
)

// Managed policies and limits the stack uses.
const (
	cachingOptimized = "658327ea-f89d-4fab-a63d-7e88639e58f6"
	// maxTemplateBody is the largest template CloudFormation takes inline;
	// `aws cloudformation deploy` needs --s3-bucket for a larger one.
	maxTemplateBody = 51200
)

// StackOptions is what the stack is made of: the bake's gate and headers
// policy, where Studio is served and how it reaches the API, and the
// defaults of the stack's parameters.
type StackOptions struct {
	Code string // the compiled gate (function.js)
	// KVS: the gate reads a KeyValueStore (cookie auth, --users-in-kvs).
	// The stack creates one and associates it with the function, unless
	// KVSARN names an existing store (build --kvs-arn) to associate.
	KVS           bool
	KVSARN        string
	HeadersPolicy *types.ResponseHeadersPolicyConfig
	BasePath      string
	API           build.API
	// Domain and CertificateARN are the default values of the parameters
	// DomainName and CertificateArn: an alternate domain name and its ACM
	// certificate (in us-east-1), both or neither.
	Domain, CertificateARN string
}

var (
	domainName = regexp.MustCompile(`^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
	acmARN     = regexp.MustCompile(`^arn:aws[a-z-]*:acm:us-east-1:[0-9]{12}:certificate/[A-Za-z0-9-]+$`)
)

// Validate refuses parameter defaults CloudFront would refuse.
func (o StackOptions) Validate() error {
	switch {
	case o.Domain != "" && o.CertificateARN == "":
		return fmt.Errorf("--stack-domain %q needs --stack-certificate-arn: CloudFront serves an alternate domain name only with its ACM certificate", o.Domain)
	case o.Domain == "" && o.CertificateARN != "":
		return fmt.Errorf("--stack-certificate-arn %q needs --stack-domain: the certificate is for the alternate domain name", o.CertificateARN)
	case o.Domain != "" && !domainName.MatchString(o.Domain):
		return fmt.Errorf("invalid --stack-domain %q: want a lower-case host name such as studio.example.com", o.Domain)
	case o.CertificateARN != "" && !acmARN.MatchString(o.CertificateARN):
		return fmt.Errorf("invalid --stack-certificate-arn %q: want an ACM certificate ARN in us-east-1 (CloudFront reads certificates there only)", o.CertificateARN)
	case o.KVSARN != "":
		return templates.CheckKVSARN("--kvs-arn", o.KVSARN)
	}
	return nil
}

// StackFromBake reads what the stack needs from the bake in dir (build
// --edge cloudfront writes the stack right after the gate).
func StackFromBake(dir string, m *build.Manifest, domain, cert string) (StackOptions, error) {
	code, ok, err := templates.LoadCloudFront(dir)
	if err != nil {
		return StackOptions{}, err
	}
	if !ok {
		return StackOptions{}, fmt.Errorf("stack: %w in %s", ErrNoGate, dir)
	}
	info, err := templates.ReadFunctionInfo(dir)
	if err != nil {
		return StackOptions{}, err
	}
	doc, err := os.ReadFile(filepath.Join(dir, build.EdgeDir, string(templates.CloudFront), templates.HeadersPolicyFile))
	if err != nil {
		return StackOptions{}, err
	}
	policy, err := ParseHeadersPolicy(doc)
	if err != nil {
		return StackOptions{}, err
	}
	return StackOptions{Code: code, KVS: info.UsesKVS(), KVSARN: info.KVSARN, HeadersPolicy: policy, BasePath: m.BasePath, API: m.API,
		Domain: domain, CertificateARN: cert}, nil
}

// WriteStack writes the stack of the bake in dir to edge/cloudfront/.
func WriteStack(dir string, m *build.Manifest, domain, cert string) error {
	o, err := StackFromBake(dir, m, domain, cert)
	if err != nil {
		return err
	}
	b, err := StackTemplate(o)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, build.EdgeDir, string(templates.CloudFront), StackFile), b, 0o644)
}

// StackTemplate is the stack as YAML. It refuses what CloudFormation
// cannot express before writing anything.
func StackTemplate(o StackOptions) ([]byte, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	t, err := stack(o)
	if err != nil {
		return nil, err
	}
	j, err := t.JSON()
	if err != nil {
		return nil, err
	}
	// Decoded as YAML, as goformation's own YAML() does: JSON's numbers
	// stay integers (encoding/json would make 31536000 a float).
	var doc map[string]any
	if err := yaml.Unmarshal(j, &doc); err != nil {
		return nil, err
	}
	addConditionals(doc)
	b, err := yaml.Marshal(doc)
	if err != nil {
		return nil, err
	}
	if len(b) > maxTemplateBody {
		return nil, fmt.Errorf("stack: the template is %d bytes, over the %d CloudFormation takes inline "+
			"(the gate's code is most of it: keep basic-auth users in the KeyValueStore with --users-in-kvs)", len(b), maxTemplateBody)
	}
	return append([]byte("# "+stackHeader+"\n"), b...), nil
}

const stackHeader = "Mastra Studio on S3 and CloudFront, generated by studiobake (build --edge cloudfront). " +
	"Deploy: aws cloudformation deploy --template-file stack.yaml --stack-name studio; then: studiobake publish --stack studio"

// uniqueName is a name unique to the stack and valid for every resource
// name it is used for (functions: 64 characters of [A-Za-z0-9_-]): the
// stack name may be longer, its id's UUID is not.
func uniqueName(kind string) string {
	return gf.Join("", []string{"studiobake-" + kind + "-", gf.Select(2, gf.Split("/", gf.Ref("AWS::StackId")))})
}

// template is a CloudFormation template of goformation's typed resources.
// goformation's own Template type is left out: decoding it registers every
// resource type of every AWS service, which the linker then keeps (19 MB
// of studiobake's binary); its resources and intrinsics are what we use.
type template struct {
	AWSTemplateFormatVersion string                  `json:"AWSTemplateFormatVersion"`
	Description              string                  `json:"Description,omitempty"`
	Parameters               map[string]gf.Parameter `json:"Parameters,omitempty"`
	Conditions               map[string]any          `json:"Conditions,omitempty"`
	Resources                map[string]gf.Resource  `json:"Resources"`
	Outputs                  map[string]gf.Output    `json:"Outputs,omitempty"`
}

func newTemplate() *template {
	return &template{AWSTemplateFormatVersion: "2010-09-09", Parameters: map[string]gf.Parameter{},
		Conditions: map[string]any{}, Resources: map[string]gf.Resource{}, Outputs: map[string]gf.Output{}}
}

// JSON resolves goformation's encoded intrinsics (Ref, Fn::Join...), as its
// Template.JSON does.
func (t *template) JSON() ([]byte, error) {
	j, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	return intrinsics.ProcessJSON(j, nil)
}

func stack(o StackOptions) (*template, error) {
	dist, err := stackDistributionConfig(o)
	if err != nil {
		return nil, err
	}
	policy, err := stackHeadersPolicy(o.HeadersPolicy)
	if err != nil {
		return nil, err
	}
	t := newTemplate()
	t.Description = "Mastra Studio (base path " + or(o.BasePath, "/") + "): private S3 bucket, CloudFront distribution and the studiobake gate"
	t.Parameters[paramDomain] = gf.Parameter{Type: "String", Default: o.Domain,
		Description: aws.String("Alternate domain name for Studio (e.g. studio.example.com); empty for the distribution's own name. Needs CertificateArn.")}
	t.Parameters[paramCertificate] = gf.Parameter{Type: "String", Default: o.CertificateARN,
		Description: aws.String("ACM certificate (us-east-1) for DomainName; empty without DomainName.")}
	t.Conditions[condDomain] = gf.Not([]string{gf.Equals(gf.Ref(paramDomain), "")})
	t.Resources[stackBucket] = stackBucketResource()
	t.Resources[stackBucketPolicy] = stackPolicy()
	t.Resources[stackOAC] = &cfcf.OriginAccessControl{OriginAccessControlConfig: &cfcf.OriginAccessControl_OriginAccessControlConfig{
		Name: uniqueName("oac"), OriginAccessControlOriginType: "s3", SigningBehavior: "always", SigningProtocol: "sigv4",
		Description: aws.String("studiobake: CloudFront reads the Studio bucket")}}
	t.Resources[stackFunction] = stackFunctionResource(o, stackStore(t, o))
	t.Resources[stackHeaders] = &cfcf.ResponseHeadersPolicy{ResponseHeadersPolicyConfig: policy}
	t.Resources[stackDistribution] = &cfcf.Distribution{DistributionConfig: dist}
	stackOutputs(t, o.BasePath)
	return t, nil
}

// stackBucketResource is private: every public access blocked, objects
// owned by the bucket owner (no ACLs), encrypted at rest. It is kept when
// the stack is deleted: it holds the releases.
func stackBucketResource() *cfs3.Bucket {
	yes := aws.Bool(true)
	b := &cfs3.Bucket{
		PublicAccessBlockConfiguration: &cfs3.Bucket_PublicAccessBlockConfiguration{
			BlockPublicAcls: yes, BlockPublicPolicy: yes, IgnorePublicAcls: yes, RestrictPublicBuckets: yes},
		OwnershipControls: &cfs3.Bucket_OwnershipControls{Rules: []cfs3.Bucket_OwnershipControlsRule{{ObjectOwnership: aws.String("BucketOwnerEnforced")}}},
		BucketEncryption: &cfs3.Bucket_BucketEncryption{ServerSideEncryptionConfiguration: []cfs3.Bucket_ServerSideEncryptionRule{{
			ServerSideEncryptionByDefault: &cfs3.Bucket_ServerSideEncryptionByDefault{SSEAlgorithm: "AES256"}}}},
	}
	b.AWSCloudFormationDeletionPolicy = "Retain"
	b.AWSCloudFormationUpdateReplacePolicy = "Retain"
	return b
}

// stackPolicy admits this distribution only (its origin access control
// signs as the CloudFront service, and AWS:SourceArn names the
// distribution), and refuses plain HTTP. s3:ListBucket makes a missing
// file a 404 instead of a 403; a listing itself needs a request for the
// bucket root, which the gate never passes on.
func stackPolicy() *cfs3.BucketPolicy {
	distARN := gf.Sub("arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${" + stackDistribution + "}")
	bucketARN := gf.GetAtt(stackBucket, "Arn")
	admit := func(sid, action string, resource any) map[string]any {
		return map[string]any{"Sid": sid, "Effect": "Allow", "Principal": map[string]any{"Service": "cloudfront.amazonaws.com"},
			"Action": action, "Resource": resource, "Condition": map[string]any{"StringEquals": map[string]any{"AWS:SourceArn": distARN}}}
	}
	return &cfs3.BucketPolicy{Bucket: gf.Ref(stackBucket), PolicyDocument: map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{
			admit("StudioDistributionReads", "s3:GetObject", gf.Join("", []string{bucketARN, "/*"})),
			admit("StudioDistributionLists", "s3:ListBucket", bucketARN),
			map[string]any{"Sid": "HTTPSOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
				"Resource":  []any{bucketARN, gf.Join("", []string{bucketARN, "/*"})},
				"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}},
		}}}
}

// stackStore is the ARN of the KeyValueStore the gate reads ("" for a
// gate that reads none): a store of the stack's own, or the existing one
// the build was given. Either way an output names it, for publish --stack
// to write the secrets into; the template holds none of them.
func stackStore(t *template, o StackOptions) string {
	if !o.KVS {
		return ""
	}
	arn := o.KVSARN
	if arn == "" {
		t.Resources[stackKVS] = &cfcf.KeyValueStore{Name: uniqueName("kvs"),
			Comment: aws.String("studiobake: the Studio gate's cookie secret and users, written by publish --stack")}
		arn = gf.GetAtt(stackKVS, "Arn")
	}
	t.Outputs[OutputKVSARN] = gf.Output{Value: arn,
		Description: aws.String("the KeyValueStore the gate reads; publish --stack writes the cookie secret and users there")}
	return arn
}

func stackFunctionResource(o StackOptions, kvsARN string) *cfcf.Function {
	f := &cfcf.Function{Name: uniqueName("gate"), AutoPublish: aws.Bool(true), FunctionCode: o.Code,
		FunctionConfig: &cfcf.Function_FunctionConfig{Runtime: templates.Runtime,
			Comment: "Mastra Studio gate (studiobake), base " + or(o.BasePath, "/")}}
	if kvsARN != "" {
		f.FunctionConfig.KeyValueStoreAssociations = []cfcf.Function_KeyValueStoreAssociation{{KeyValueStoreARN: kvsARN}}
	}
	return f
}

// stackDistributionConfig makes the distribution the way --associate brings an
// existing one in line: the bucket origin and a default behaviour for it,
// then planDistribution adds the API origin and behaviour and puts the gate
// on every behaviour that reaches the bucket.
func stackDistributionConfig(o StackOptions) (*cfcf.Distribution_DistributionConfig, error) {
	cfg := &types.DistributionConfig{
		Origins: &types.Origins{Quantity: aws.Int32(1), Items: []types.Origin{{Id: aws.String(bucketOriginID),
			DomainName: aws.String(gf.GetAtt(stackBucket, "RegionalDomainName")), OriginPath: aws.String(""),
			S3OriginConfig:        &types.S3OriginConfig{OriginAccessIdentity: aws.String("")},
			OriginAccessControlId: aws.String(gf.Ref(stackOAC))}}},
		DefaultCacheBehavior: &types.DefaultCacheBehavior{TargetOriginId: aws.String(bucketOriginID),
			ViewerProtocolPolicy: types.ViewerProtocolPolicyRedirectToHttps, Compress: aws.Bool(true),
			CachePolicyId: aws.String(cachingOptimized),
			AllowedMethods: &types.AllowedMethods{Quantity: aws.Int32(2), Items: []types.Method{types.MethodGet, types.MethodHead},
				CachedMethods: &types.CachedMethods{Quantity: aws.Int32(2), Items: []types.Method{types.MethodGet, types.MethodHead}}}},
	}
	prefix := ""
	if o.BasePath != "" {
		prefix = strings.TrimPrefix(o.BasePath, "/") + "/"
	}
	_, err := planDistribution(cfg, Options{Name: "gate", DistributionID: "of the stack", BasePath: o.BasePath, API: o.API,
		Associate: true, BucketOrigin: bucketOriginID, Prefix: prefix, HeadersPolicy: o.HeadersPolicy},
		gf.GetAtt(stackFunction, "FunctionARN"), gf.Ref(stackHeaders))
	if err != nil {
		return nil, fmt.Errorf("stack: %w", err)
	}
	return cfnDistribution(cfg, o.BasePath)
}

// cfnDistribution turns the SDK's distribution config into CloudFormation's
// shape (lists instead of Quantity and Items). Custom error responses are
// never set: the gate routes deep links, and a 403/404 -> index.html
// mapping would hide missing assets.
func cfnDistribution(cfg *types.DistributionConfig, base string) (*cfcf.Distribution_DistributionConfig, error) {
	d := &cfcf.Distribution_DistributionConfig{Enabled: true, HttpVersion: aws.String("http2and3"), IPV6Enabled: aws.Bool(true),
		Comment: aws.String("Mastra Studio " + or(base, "/") + " (studiobake)")}
	for _, o := range cfg.Origins.Items {
		co := cfcf.Distribution_Origin{Id: aws.ToString(o.Id), DomainName: aws.ToString(o.DomainName),
			OriginAccessControlId: nonEmpty(o.OriginAccessControlId), ConnectionAttempts: intPtr(o.ConnectionAttempts),
			ConnectionTimeout: intPtr(o.ConnectionTimeout)}
		switch c := o.CustomOriginConfig; {
		case o.S3OriginConfig != nil:
			co.S3OriginConfig = &cfcf.Distribution_S3OriginConfig{}
		case c != nil:
			co.CustomOriginConfig = &cfcf.Distribution_CustomOriginConfig{HTTPPort: intPtr(c.HTTPPort), HTTPSPort: intPtr(c.HTTPSPort),
				OriginProtocolPolicy: string(c.OriginProtocolPolicy), OriginReadTimeout: intPtr(c.OriginReadTimeout),
				OriginKeepaliveTimeout: intPtr(c.OriginKeepaliveTimeout)}
			if c.OriginSslProtocols != nil {
				for _, p := range c.OriginSslProtocols.Items {
					co.CustomOriginConfig.OriginSSLProtocols = append(co.CustomOriginConfig.OriginSSLProtocols, string(p))
				}
			}
		default:
			return nil, fmt.Errorf("stack: origin %s has no origin config", aws.ToString(o.Id))
		}
		d.Origins = append(d.Origins, co)
	}
	def := cfg.DefaultCacheBehavior
	b := cfnBehavior(behaviorFields{def.TargetOriginId, def.ViewerProtocolPolicy, def.AllowedMethods, def.CachePolicyId,
		def.OriginRequestPolicyId, def.ResponseHeadersPolicyId, def.Compress, def.FunctionAssociations})
	d.DefaultCacheBehavior = &cfcf.Distribution_DefaultCacheBehavior{TargetOriginId: b.TargetOriginId, ViewerProtocolPolicy: b.ViewerProtocolPolicy,
		AllowedMethods: b.AllowedMethods, CachedMethods: b.CachedMethods, CachePolicyId: b.CachePolicyId,
		OriginRequestPolicyId: b.OriginRequestPolicyId, ResponseHeadersPolicyId: b.ResponseHeadersPolicyId,
		Compress: b.Compress, FunctionAssociations: b.FunctionAssociations}
	if cfg.CacheBehaviors != nil {
		for _, cb := range cfg.CacheBehaviors.Items {
			if cb.ForwardedValues != nil || cb.LambdaFunctionAssociations != nil && len(cb.LambdaFunctionAssociations.Items) > 0 {
				return nil, errors.New("stack: a cache behaviour uses legacy cache settings or Lambda@Edge")
			}
			c := cfnBehavior(behaviorFields{cb.TargetOriginId, cb.ViewerProtocolPolicy, cb.AllowedMethods, cb.CachePolicyId,
				cb.OriginRequestPolicyId, cb.ResponseHeadersPolicyId, cb.Compress, cb.FunctionAssociations})
			c.PathPattern = aws.ToString(cb.PathPattern)
			d.CacheBehaviors = append(d.CacheBehaviors, c)
		}
	}
	return d, nil
}

// behaviorFields are the parts of a cache behaviour the stack sets, which
// the SDK's default and path behaviours share.
type behaviorFields struct {
	origin                          *string
	viewer                          types.ViewerProtocolPolicy
	methods                         *types.AllowedMethods
	cache, originRequest, respHeads *string
	compress                        *bool
	functions                       *types.FunctionAssociations
}

func cfnBehavior(f behaviorFields) cfcf.Distribution_CacheBehavior {
	b := cfcf.Distribution_CacheBehavior{TargetOriginId: aws.ToString(f.origin), ViewerProtocolPolicy: string(f.viewer),
		CachePolicyId: nonEmpty(f.cache), OriginRequestPolicyId: nonEmpty(f.originRequest),
		ResponseHeadersPolicyId: nonEmpty(f.respHeads), Compress: f.compress}
	if m := f.methods; m != nil {
		b.AllowedMethods = methods(m.Items)
		if m.CachedMethods != nil {
			b.CachedMethods = methods(m.CachedMethods.Items)
		}
	}
	if f.functions != nil {
		for _, a := range f.functions.Items {
			b.FunctionAssociations = append(b.FunctionAssociations, cfcf.Distribution_FunctionAssociation{
				EventType: aws.String(string(a.EventType)), FunctionARN: a.FunctionARN})
		}
	}
	return b
}

func methods(ms []types.Method) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = string(m)
	}
	return out
}

func nonEmpty(s *string) *string {
	if aws.ToString(s) == "" {
		return nil
	}
	return s
}

func intPtr(n *int32) *int {
	if n == nil {
		return nil
	}
	v := int(*n)
	return &v
}

// stackHeadersPolicy carries the bake's response headers policy (security
// headers and custom headers) into the stack, under a name of its own: a
// policy name is unique in the account, and the bake's may be in use by a
// distribution deployed with publish --headers-policy.
func stackHeadersPolicy(p *types.ResponseHeadersPolicyConfig) (*cfcf.ResponseHeadersPolicy_ResponseHeadersPolicyConfig, error) {
	if p == nil {
		return nil, errors.New("stack: the bake has no headers policy")
	}
	if p.CorsConfig != nil || p.RemoveHeadersConfig != nil || p.ServerTimingHeadersConfig != nil {
		return nil, errors.New("stack: the headers policy sets CORS, header removal or Server-Timing, which the stack does not carry")
	}
	c := &cfcf.ResponseHeadersPolicy_ResponseHeadersPolicyConfig{Name: uniqueName("headers"), Comment: p.Comment}
	if s := p.SecurityHeadersConfig; s != nil {
		cs := &cfcf.ResponseHeadersPolicy_SecurityHeadersConfig{}
		if v := s.ContentSecurityPolicy; v != nil {
			cs.ContentSecurityPolicy = &cfcf.ResponseHeadersPolicy_ContentSecurityPolicy{ContentSecurityPolicy: aws.ToString(v.ContentSecurityPolicy), Override: aws.ToBool(v.Override)}
		}
		if v := s.ContentTypeOptions; v != nil {
			cs.ContentTypeOptions = &cfcf.ResponseHeadersPolicy_ContentTypeOptions{Override: aws.ToBool(v.Override)}
		}
		if v := s.FrameOptions; v != nil {
			cs.FrameOptions = &cfcf.ResponseHeadersPolicy_FrameOptions{FrameOption: string(v.FrameOption), Override: aws.ToBool(v.Override)}
		}
		if v := s.ReferrerPolicy; v != nil {
			cs.ReferrerPolicy = &cfcf.ResponseHeadersPolicy_ReferrerPolicy{ReferrerPolicy: string(v.ReferrerPolicy), Override: aws.ToBool(v.Override)}
		}
		if v := s.StrictTransportSecurity; v != nil {
			cs.StrictTransportSecurity = &cfcf.ResponseHeadersPolicy_StrictTransportSecurity{AccessControlMaxAgeSec: int(aws.ToInt32(v.AccessControlMaxAgeSec)),
				IncludeSubdomains: v.IncludeSubdomains, Preload: v.Preload, Override: aws.ToBool(v.Override)}
		}
		if v := s.XSSProtection; v != nil {
			cs.XSSProtection = &cfcf.ResponseHeadersPolicy_XSSProtection{Protection: aws.ToBool(v.Protection), ModeBlock: v.ModeBlock,
				ReportUri: v.ReportUri, Override: aws.ToBool(v.Override)}
		}
		c.SecurityHeadersConfig = cs
	}
	if h := p.CustomHeadersConfig; h != nil && len(h.Items) > 0 {
		c.CustomHeadersConfig = &cfcf.ResponseHeadersPolicy_CustomHeadersConfig{}
		for _, it := range h.Items {
			c.CustomHeadersConfig.Items = append(c.CustomHeadersConfig.Items, cfcf.ResponseHeadersPolicy_CustomHeader{
				Header: aws.ToString(it.Header), Value: aws.ToString(it.Value), Override: aws.ToBool(it.Override)})
		}
	}
	return c, nil
}

// stackOutputs are what publish --stack reads, and where Studio is.
func stackOutputs(t *template, base string) {
	prefix := ""
	if base != "" {
		prefix = strings.TrimPrefix(base, "/") + "/"
	}
	host := gf.If(condDomain, gf.Ref(paramDomain), gf.GetAtt(stackDistribution, "DomainName"))
	out := func(desc string, v any) gf.Output { return gf.Output{Value: v, Description: aws.String(desc)} }
	t.Outputs[OutputBucket] = out("the S3 bucket publish uploads to", gf.Ref(stackBucket))
	t.Outputs[OutputPrefix] = out("the key prefix of the site in the bucket (the base path)", prefixOutput(prefix))
	t.Outputs[OutputDistributionID] = out("the CloudFront distribution publish invalidates", gf.Ref(stackDistribution))
	t.Outputs[OutputDomainName] = out("the distribution's own domain name (point DomainName's DNS record here)", gf.GetAtt(stackDistribution, "DomainName"))
	t.Outputs[OutputStudioURL] = out("Mastra Studio", gf.Join("", []string{"https://", host, base + "/"}))
}

// prefixOutput is the prefix as an output value: an output cannot be
// empty, so the bucket root is "/" (publish's own spelling of the root).
func prefixOutput(prefix string) string {
	if prefix == "" {
		return "/"
	}
	return prefix
}

// addConditionals adds what goformation's typed fields cannot hold: the
// certificate and aliases that depend on the DomainName parameter (an
// Fn::If around whole objects and lists), and the Rules that refuse a
// domain without a certificate, or the reverse, before anything is created.
func addConditionals(doc map[string]any) {
	dc := doc["Resources"].(map[string]any)[stackDistribution].(map[string]any)["Properties"].(map[string]any)["DistributionConfig"].(map[string]any)
	noValue := map[string]any{"Ref": "AWS::NoValue"}
	dc["Aliases"] = map[string]any{"Fn::If": []any{condDomain, []any{map[string]any{"Ref": paramDomain}}, noValue}}
	dc["ViewerCertificate"] = map[string]any{"Fn::If": []any{condDomain,
		map[string]any{"AcmCertificateArn": map[string]any{"Ref": paramCertificate}, "SslSupportMethod": "sni-only", "MinimumProtocolVersion": "TLSv1.2_2021"},
		map[string]any{"CloudFrontDefaultCertificate": true}}}
	empty := func(p string) any { return map[string]any{"Fn::Equals": []any{map[string]any{"Ref": p}, ""}} }
	not := func(c any) any { return map[string]any{"Fn::Not": []any{c}} }
	doc["Rules"] = map[string]any{"DomainNameWithCertificate": map[string]any{"Assertions": []any{map[string]any{
		"Assert": map[string]any{"Fn::Or": []any{
			map[string]any{"Fn::And": []any{empty(paramDomain), empty(paramCertificate)}},
			map[string]any{"Fn::And": []any{not(empty(paramDomain)), not(empty(paramCertificate))}},
		}},
		"AssertDescription": "DomainName and CertificateArn go together: give both (an alternate domain name and its ACM certificate in us-east-1) or neither",
	}}}}
}
