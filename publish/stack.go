package publish

import (
	"context"
	"fmt"

	"github.com/studiobake/studiobake/publish/cdn"
)

// checkStack refuses what says where to publish beside --stack: the
// stack's outputs say it, and two answers to one question are a mistake.
func (o *Options) checkStack() error {
	for _, f := range []struct{ flag, value string }{
		{"--bucket", o.Bucket}, {"--prefix", o.Prefix}, {"--distribution-id", o.DistributionID}} {
		if f.value != "" {
			return fmt.Errorf("--stack %q and %s %q both say where the site is: the stack's outputs give the bucket, prefix and distribution; drop %s",
				o.Stack, f.flag, f.value, f.flag)
		}
	}
	if o.Gate != nil && !o.Gate.KeysOnly {
		return fmt.Errorf("--stack %q deploys the gate itself (its function, headers policy and behaviours): drop --function-name; "+
			"after a rebuild, run aws cloudformation deploy again to update it", o.Stack)
	}
	return nil
}

// ResolveStack reads Bucket, Prefix and DistributionID from the outputs of
// o.Stack (DescribeStacks in the configured region), before anything is
// baked, uploaded or deployed. With a stack, publish also writes the gate's
// KeyValueStore entries (the template never holds a secret) into the
// stack's store (output KeyValueStoreArn): o.Gate, when set, gets that
// store. releases and rollback set no gate and only take the target.
func ResolveStack(ctx context.Context, o *Options) error {
	if o.Stack == "" || o.fromStack {
		return nil
	}
	if err := o.checkStack(); err != nil {
		return err
	}
	api, err := o.stacksAPI(ctx)
	if err != nil {
		return err
	}
	t, err := cdn.ReadStack(ctx, api, o.Stack)
	if err != nil {
		return err
	}
	if o.Gate != nil {
		// The stack's gate reads the stack's store: another one given here
		// would receive secrets that nothing reads.
		if arn := o.Gate.KVSARN; arn != "" && arn != t.KVSARN {
			return fmt.Errorf("--kvs-arn %q is not the KeyValueStore of --stack %q (its output %s is %q): the stack's gate reads that one; drop --kvs-arn",
				arn, o.Stack, cdn.OutputKVSARN, t.KVSARN)
		}
		o.Gate.KVSARN, o.Gate.Stack = t.KVSARN, o.Stack
	}
	o.Bucket, o.Prefix, o.DistributionID, o.fromStack = t.Bucket, t.Prefix, t.DistributionID, true
	if err := o.Validate(); err != nil {
		return fmt.Errorf("--stack %q: its outputs: %w", o.Stack, err)
	}
	return nil
}

func (o *Options) stacksAPI(ctx context.Context) (cdn.StacksAPI, error) {
	if o.clients != nil && o.clients.stacks != nil {
		return o.clients.stacks, nil
	}
	cfg, err := LoadAWSConfig(ctx, o.AWS)
	if err != nil {
		return nil, err
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("--stack %q: no AWS region: set --region (or AWS_REGION) to the stack's region", o.Stack)
	}
	return cdn.NewStacksClient(cfg, noteRetries("CloudFormation", newReporter(o).retrying)), nil
}
