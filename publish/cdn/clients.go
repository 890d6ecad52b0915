package cdn

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	kvs "github.com/aws/aws-sdk-go-v2/service/cloudfrontkeyvaluestore"
)

// The SDK's clients reach this package's interfaces through the adapters
// below, which hold method values and never the client itself. A
// *cloudfront.Client stored in an interface makes the linker keep every one
// of CloudFront's ~170 operations (with their serializers and types),
// because urfave/cli's help templates and goja call methods by reflection,
// which turns off method pruning for every type converted to an interface.
// A method value keeps only the operation it names: the CloudFront,
// KeyValueStore and CloudFormation adapters take 6.3 MB off the binary
// (41.7 to 35.4 MB, linux-x64, stripped). (S3 is not adapted: its client converts itself to an interface
// in s3.New, for S3 Express sessions.)

// WrapRetryer wraps the retryer a client resolved (from the configuration:
// retry mode, profile, defaults mode) with its maximum attempts (0: the
// retryer's own); nil leaves it.
type WrapRetryer func(r aws.Retryer, maxAttempts int) aws.Retryer

// NewClients builds the SDK clients from cfg. Neither makes a request until
// used.
func NewClients(cfg aws.Config, wrap WrapRetryer) Clients {
	cf := cloudfront.NewFromConfig(cfg, func(o *cloudfront.Options) {
		// CloudFront is global: its API answers in us-east-1 whatever the
		// configured region (the China partition keeps its own).
		if !strings.HasPrefix(o.Region, "cn-") {
			o.Region = "us-east-1"
		}
		if wrap != nil {
			o.Retryer = wrap(o.Retryer, o.RetryMaxAttempts)
		}
	})
	store := kvs.NewFromConfig(cfg, func(o *kvs.Options) {
		if wrap != nil {
			o.Retryer = wrap(o.Retryer, o.RetryMaxAttempts)
		}
	})
	return Clients{CloudFront: CloudFrontClient(cf), KVS: KVSClient(store)}
}

// NewStacksClient builds the CloudFormation client publish --stack reads
// outputs with.
func NewStacksClient(cfg aws.Config, wrap WrapRetryer) StacksAPI {
	return StacksClient(cloudformation.NewFromConfig(cfg, func(o *cloudformation.Options) {
		if wrap != nil {
			o.Retryer = wrap(o.Retryer, o.RetryMaxAttempts)
		}
	}))
}

type cfOpts = func(*cloudfront.Options)

// cloudFrontClient is CloudFrontAPI over a *cloudfront.Client's methods.
type cloudFrontClient struct {
	describeFunction      func(context.Context, *cloudfront.DescribeFunctionInput, ...cfOpts) (*cloudfront.DescribeFunctionOutput, error)
	getFunction           func(context.Context, *cloudfront.GetFunctionInput, ...cfOpts) (*cloudfront.GetFunctionOutput, error)
	createFunction        func(context.Context, *cloudfront.CreateFunctionInput, ...cfOpts) (*cloudfront.CreateFunctionOutput, error)
	updateFunction        func(context.Context, *cloudfront.UpdateFunctionInput, ...cfOpts) (*cloudfront.UpdateFunctionOutput, error)
	testFunction          func(context.Context, *cloudfront.TestFunctionInput, ...cfOpts) (*cloudfront.TestFunctionOutput, error)
	publishFunction       func(context.Context, *cloudfront.PublishFunctionInput, ...cfOpts) (*cloudfront.PublishFunctionOutput, error)
	getDistributionConfig func(context.Context, *cloudfront.GetDistributionConfigInput, ...cfOpts) (*cloudfront.GetDistributionConfigOutput, error)
	updateDistribution    func(context.Context, *cloudfront.UpdateDistributionInput, ...cfOpts) (*cloudfront.UpdateDistributionOutput, error)
	listHeadersPolicies   func(context.Context, *cloudfront.ListResponseHeadersPoliciesInput, ...cfOpts) (*cloudfront.ListResponseHeadersPoliciesOutput, error)
	createHeadersPolicy   func(context.Context, *cloudfront.CreateResponseHeadersPolicyInput, ...cfOpts) (*cloudfront.CreateResponseHeadersPolicyOutput, error)
	getHeadersPolicy      func(context.Context, *cloudfront.GetResponseHeadersPolicyConfigInput, ...cfOpts) (*cloudfront.GetResponseHeadersPolicyConfigOutput, error)
	updateHeadersPolicy   func(context.Context, *cloudfront.UpdateResponseHeadersPolicyInput, ...cfOpts) (*cloudfront.UpdateResponseHeadersPolicyOutput, error)
	createInvalidation    func(context.Context, *cloudfront.CreateInvalidationInput, ...cfOpts) (*cloudfront.CreateInvalidationOutput, error)
	getInvalidation       func(context.Context, *cloudfront.GetInvalidationInput, ...cfOpts) (*cloudfront.GetInvalidationOutput, error)
}

// CloudFrontClient adapts the SDK's CloudFront client to CloudFrontAPI.
func CloudFrontClient(c *cloudfront.Client) CloudFrontAPI {
	return cloudFrontClient{
		describeFunction: c.DescribeFunction, getFunction: c.GetFunction, createFunction: c.CreateFunction,
		updateFunction: c.UpdateFunction, testFunction: c.TestFunction, publishFunction: c.PublishFunction,
		getDistributionConfig: c.GetDistributionConfig, updateDistribution: c.UpdateDistribution,
		listHeadersPolicies: c.ListResponseHeadersPolicies, createHeadersPolicy: c.CreateResponseHeadersPolicy,
		getHeadersPolicy: c.GetResponseHeadersPolicyConfig, updateHeadersPolicy: c.UpdateResponseHeadersPolicy,
		createInvalidation: c.CreateInvalidation, getInvalidation: c.GetInvalidation,
	}
}

func (c cloudFrontClient) DescribeFunction(ctx context.Context, in *cloudfront.DescribeFunctionInput, f ...cfOpts) (*cloudfront.DescribeFunctionOutput, error) {
	return c.describeFunction(ctx, in, f...)
}

func (c cloudFrontClient) GetFunction(ctx context.Context, in *cloudfront.GetFunctionInput, f ...cfOpts) (*cloudfront.GetFunctionOutput, error) {
	return c.getFunction(ctx, in, f...)
}

func (c cloudFrontClient) CreateFunction(ctx context.Context, in *cloudfront.CreateFunctionInput, f ...cfOpts) (*cloudfront.CreateFunctionOutput, error) {
	return c.createFunction(ctx, in, f...)
}

func (c cloudFrontClient) UpdateFunction(ctx context.Context, in *cloudfront.UpdateFunctionInput, f ...cfOpts) (*cloudfront.UpdateFunctionOutput, error) {
	return c.updateFunction(ctx, in, f...)
}

func (c cloudFrontClient) TestFunction(ctx context.Context, in *cloudfront.TestFunctionInput, f ...cfOpts) (*cloudfront.TestFunctionOutput, error) {
	return c.testFunction(ctx, in, f...)
}

func (c cloudFrontClient) PublishFunction(ctx context.Context, in *cloudfront.PublishFunctionInput, f ...cfOpts) (*cloudfront.PublishFunctionOutput, error) {
	return c.publishFunction(ctx, in, f...)
}

func (c cloudFrontClient) GetDistributionConfig(ctx context.Context, in *cloudfront.GetDistributionConfigInput, f ...cfOpts) (*cloudfront.GetDistributionConfigOutput, error) {
	return c.getDistributionConfig(ctx, in, f...)
}

func (c cloudFrontClient) UpdateDistribution(ctx context.Context, in *cloudfront.UpdateDistributionInput, f ...cfOpts) (*cloudfront.UpdateDistributionOutput, error) {
	return c.updateDistribution(ctx, in, f...)
}

func (c cloudFrontClient) ListResponseHeadersPolicies(ctx context.Context, in *cloudfront.ListResponseHeadersPoliciesInput, f ...cfOpts) (*cloudfront.ListResponseHeadersPoliciesOutput, error) {
	return c.listHeadersPolicies(ctx, in, f...)
}

func (c cloudFrontClient) CreateResponseHeadersPolicy(ctx context.Context, in *cloudfront.CreateResponseHeadersPolicyInput, f ...cfOpts) (*cloudfront.CreateResponseHeadersPolicyOutput, error) {
	return c.createHeadersPolicy(ctx, in, f...)
}

func (c cloudFrontClient) GetResponseHeadersPolicyConfig(ctx context.Context, in *cloudfront.GetResponseHeadersPolicyConfigInput, f ...cfOpts) (*cloudfront.GetResponseHeadersPolicyConfigOutput, error) {
	return c.getHeadersPolicy(ctx, in, f...)
}

func (c cloudFrontClient) UpdateResponseHeadersPolicy(ctx context.Context, in *cloudfront.UpdateResponseHeadersPolicyInput, f ...cfOpts) (*cloudfront.UpdateResponseHeadersPolicyOutput, error) {
	return c.updateHeadersPolicy(ctx, in, f...)
}

func (c cloudFrontClient) CreateInvalidation(ctx context.Context, in *cloudfront.CreateInvalidationInput, f ...cfOpts) (*cloudfront.CreateInvalidationOutput, error) {
	return c.createInvalidation(ctx, in, f...)
}

func (c cloudFrontClient) GetInvalidation(ctx context.Context, in *cloudfront.GetInvalidationInput, f ...cfOpts) (*cloudfront.GetInvalidationOutput, error) {
	return c.getInvalidation(ctx, in, f...)
}

type kvsOpts = func(*kvs.Options)

// kvsClient is KeyValueStoreAPI over a *cloudfrontkeyvaluestore.Client's
// methods.
type kvsClient struct {
	describe func(context.Context, *kvs.DescribeKeyValueStoreInput, ...kvsOpts) (*kvs.DescribeKeyValueStoreOutput, error)
	list     func(context.Context, *kvs.ListKeysInput, ...kvsOpts) (*kvs.ListKeysOutput, error)
	update   func(context.Context, *kvs.UpdateKeysInput, ...kvsOpts) (*kvs.UpdateKeysOutput, error)
}

// KVSClient adapts the SDK's KeyValueStore client to KeyValueStoreAPI.
func KVSClient(c *kvs.Client) KeyValueStoreAPI {
	return kvsClient{describe: c.DescribeKeyValueStore, list: c.ListKeys, update: c.UpdateKeys}
}

func (c kvsClient) DescribeKeyValueStore(ctx context.Context, in *kvs.DescribeKeyValueStoreInput, f ...kvsOpts) (*kvs.DescribeKeyValueStoreOutput, error) {
	return c.describe(ctx, in, f...)
}

func (c kvsClient) ListKeys(ctx context.Context, in *kvs.ListKeysInput, f ...kvsOpts) (*kvs.ListKeysOutput, error) {
	return c.list(ctx, in, f...)
}

func (c kvsClient) UpdateKeys(ctx context.Context, in *kvs.UpdateKeysInput, f ...kvsOpts) (*kvs.UpdateKeysOutput, error) {
	return c.update(ctx, in, f...)
}

// stacksClient is StacksAPI over a *cloudformation.Client's method.
type stacksClient func(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)

// StacksClient adapts the SDK's CloudFormation client to StacksAPI.
func StacksClient(c *cloudformation.Client) StacksAPI { return stacksClient(c.DescribeStacks) }

func (describe stacksClient) DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, f ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	return describe(ctx, in, f...)
}
