package cdn

import (
	"context"
	"strings"
	"testing"

	"github.com/studiobake/studiobake/publish/cdn/cdntest"
)

func fakeOutputs() map[string]string {
	return map[string]string{OutputBucket: "studio-sitebucket-abc", OutputPrefix: "agents/", OutputDistributionID: "E2ABC",
		OutputDomainName: "d111.cloudfront.net", OutputStudioURL: "https://d111.cloudfront.net/agents/"}
}

// TestReadStack reads a stack's outputs through the SDK's real
// CloudFormation client, and refuses each stack publish cannot use.
func TestReadStack(t *testing.T) {
	f := cdntest.NewStacks(t)
	f.Put("studio", cdntest.Stack{Outputs: fakeOutputs()})
	f.Put("updated", cdntest.Stack{Status: "UPDATE_ROLLBACK_COMPLETE", Outputs: fakeOutputs()})
	f.Put("creating", cdntest.Stack{Status: "CREATE_IN_PROGRESS"})
	f.Put("rolled-back", cdntest.Stack{Status: "ROLLBACK_COMPLETE", Outputs: fakeOutputs()})
	partial := fakeOutputs()
	delete(partial, OutputDistributionID)
	delete(partial, OutputPrefix)
	f.Put("other", cdntest.Stack{Outputs: partial})
	api := StacksClient(f.Client())
	for _, name := range []string{"studio", "updated"} {
		got, err := ReadStack(context.Background(), api, name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got != (StackTarget{Bucket: "studio-sitebucket-abc", Prefix: "agents/", DistributionID: "E2ABC", StudioURL: "https://d111.cloudfront.net/agents/"}) {
			t.Errorf("%s: %+v", name, got)
		}
	}
	for name, want := range map[string]string{
		"missing":     `--stack "missing": no such stack`,
		"creating":    `--stack "creating" is CREATE_IN_PROGRESS`,
		"rolled-back": "is ROLLBACK_COMPLETE",
		"other":       `--stack "other" has no output Prefix, DistributionId, which studiobake needs`,
	} {
		_, err := ReadStack(context.Background(), api, name)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", name, err, want)
		}
	}
	if f.Calls() != 6 {
		t.Errorf("%d DescribeStacks calls, want 6", f.Calls())
	}
}
