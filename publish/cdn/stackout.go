package cdn

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	smithy "github.com/aws/smithy-go"
)

// StacksAPI reads a stack's outputs (publish --stack).
type StacksAPI interface {
	DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
}

// StackTarget is where a stack made from stack.yaml puts Studio.
type StackTarget struct {
	Bucket         string
	Prefix         string // "agents/", or "/" for the bucket root
	DistributionID string
	StudioURL      string
	// KVSARN is the KeyValueStore the stack's gate reads, "" when the
	// stack has none (the bake's gate reads no store, or the stack is
	// older than that output).
	KVSARN string
}

// usableStatus are the states in which a stack's resources exist as its
// outputs say; any other (in progress, failed, rolled back) is refused.
var usableStatus = map[cftypes.StackStatus]bool{
	cftypes.StackStatusCreateComplete: true, cftypes.StackStatusUpdateComplete: true,
	cftypes.StackStatusUpdateRollbackComplete: true, cftypes.StackStatusImportComplete: true,
	cftypes.StackStatusImportRollbackComplete: true,
}

// ReadStack reads the bucket, prefix and distribution of stack name from
// its outputs, refusing a stack that is not deployed or whose outputs lack
// any of them.
func ReadStack(ctx context.Context, api StacksAPI, name string) (StackTarget, error) {
	out, err := api.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "ValidationError" && strings.Contains(ae.ErrorMessage(), "does not exist") {
		return StackTarget{}, fmt.Errorf("--stack %q: no such stack in this account and region: deploy it first "+
			"(aws cloudformation deploy --template-file dist/edge/cloudfront/%s --stack-name %s), or set --region", name, StackFile, name)
	}
	if err != nil {
		return StackTarget{}, fmt.Errorf("--stack %q: describe stack: %w", name, err)
	}
	if len(out.Stacks) != 1 {
		return StackTarget{}, fmt.Errorf("--stack %q: CloudFormation described %d stacks", name, len(out.Stacks))
	}
	s := out.Stacks[0]
	if !usableStatus[s.StackStatus] {
		return StackTarget{}, fmt.Errorf("--stack %q is %s: studiobake needs a stack whose deploy has completed", name, s.StackStatus)
	}
	got := map[string]string{}
	for _, o := range s.Outputs {
		got[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	var missing []string
	for _, k := range []string{OutputBucket, OutputPrefix, OutputDistributionID} {
		if got[k] == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return StackTarget{}, fmt.Errorf("--stack %q has no output %s, which studiobake needs: deploy studiobake's %s as that stack "+
			"(or give --bucket, and --distribution-id where the command takes one, instead of --stack)", name, strings.Join(missing, ", "), StackFile)
	}
	return StackTarget{Bucket: got[OutputBucket], Prefix: got[OutputPrefix], DistributionID: got[OutputDistributionID],
		StudioURL: got[OutputStudioURL], KVSARN: got[OutputKVSARN]}, nil
}
