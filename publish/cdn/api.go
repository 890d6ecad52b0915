// Package cdn is studiobake's one home for CloudFront: invalidations after
// a publish, and deploying a bake's gate (KeyValueStore entries, the
// viewer-request function, the response headers policy, and the
// distribution's cache behaviours and API origin). Everything goes through
// the narrow interfaces below, which carry the SDK's own method signatures;
// the real clients reach them through the adapters in clients.go, and tests
// drive those against cdntest's httptest CloudFront.
package cdn

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfrontkeyvaluestore"
)

// FunctionsAPI manages CloudFront Functions.
type FunctionsAPI interface {
	DescribeFunction(ctx context.Context, in *cloudfront.DescribeFunctionInput, optFns ...func(*cloudfront.Options)) (*cloudfront.DescribeFunctionOutput, error)
	GetFunction(ctx context.Context, in *cloudfront.GetFunctionInput, optFns ...func(*cloudfront.Options)) (*cloudfront.GetFunctionOutput, error)
	CreateFunction(ctx context.Context, in *cloudfront.CreateFunctionInput, optFns ...func(*cloudfront.Options)) (*cloudfront.CreateFunctionOutput, error)
	UpdateFunction(ctx context.Context, in *cloudfront.UpdateFunctionInput, optFns ...func(*cloudfront.Options)) (*cloudfront.UpdateFunctionOutput, error)
	TestFunction(ctx context.Context, in *cloudfront.TestFunctionInput, optFns ...func(*cloudfront.Options)) (*cloudfront.TestFunctionOutput, error)
	PublishFunction(ctx context.Context, in *cloudfront.PublishFunctionInput, optFns ...func(*cloudfront.Options)) (*cloudfront.PublishFunctionOutput, error)
}

// DistributionsAPI reads and writes a distribution's configuration.
type DistributionsAPI interface {
	GetDistributionConfig(ctx context.Context, in *cloudfront.GetDistributionConfigInput, optFns ...func(*cloudfront.Options)) (*cloudfront.GetDistributionConfigOutput, error)
	UpdateDistribution(ctx context.Context, in *cloudfront.UpdateDistributionInput, optFns ...func(*cloudfront.Options)) (*cloudfront.UpdateDistributionOutput, error)
}

// HeadersPolicyAPI manages response headers policies.
type HeadersPolicyAPI interface {
	ListResponseHeadersPolicies(ctx context.Context, in *cloudfront.ListResponseHeadersPoliciesInput, optFns ...func(*cloudfront.Options)) (*cloudfront.ListResponseHeadersPoliciesOutput, error)
	CreateResponseHeadersPolicy(ctx context.Context, in *cloudfront.CreateResponseHeadersPolicyInput, optFns ...func(*cloudfront.Options)) (*cloudfront.CreateResponseHeadersPolicyOutput, error)
	GetResponseHeadersPolicyConfig(ctx context.Context, in *cloudfront.GetResponseHeadersPolicyConfigInput, optFns ...func(*cloudfront.Options)) (*cloudfront.GetResponseHeadersPolicyConfigOutput, error)
	UpdateResponseHeadersPolicy(ctx context.Context, in *cloudfront.UpdateResponseHeadersPolicyInput, optFns ...func(*cloudfront.Options)) (*cloudfront.UpdateResponseHeadersPolicyOutput, error)
}

// InvalidationsAPI creates and polls invalidations.
type InvalidationsAPI interface {
	CreateInvalidation(ctx context.Context, in *cloudfront.CreateInvalidationInput, optFns ...func(*cloudfront.Options)) (*cloudfront.CreateInvalidationOutput, error)
	GetInvalidation(ctx context.Context, in *cloudfront.GetInvalidationInput, optFns ...func(*cloudfront.Options)) (*cloudfront.GetInvalidationOutput, error)
}

// CloudFrontAPI is every CloudFront call studiobake makes.
type CloudFrontAPI interface {
	FunctionsAPI
	DistributionsAPI
	HeadersPolicyAPI
	InvalidationsAPI
}

// KeyValueStoreAPI writes KeyValueStore entries (a service of its own).
type KeyValueStoreAPI interface {
	DescribeKeyValueStore(ctx context.Context, in *cloudfrontkeyvaluestore.DescribeKeyValueStoreInput, optFns ...func(*cloudfrontkeyvaluestore.Options)) (*cloudfrontkeyvaluestore.DescribeKeyValueStoreOutput, error)
	ListKeys(ctx context.Context, in *cloudfrontkeyvaluestore.ListKeysInput, optFns ...func(*cloudfrontkeyvaluestore.Options)) (*cloudfrontkeyvaluestore.ListKeysOutput, error)
	UpdateKeys(ctx context.Context, in *cloudfrontkeyvaluestore.UpdateKeysInput, optFns ...func(*cloudfrontkeyvaluestore.Options)) (*cloudfrontkeyvaluestore.UpdateKeysOutput, error)
}

// Clients are the AWS APIs this package uses. KVS may be nil when no
// KeyValueStore is written.
type Clients struct {
	CloudFront CloudFrontAPI
	KVS        KeyValueStoreAPI
}
