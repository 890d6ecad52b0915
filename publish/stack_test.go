package publish

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/studiobake/studiobake/publish/cdn"
	"github.com/studiobake/studiobake/publish/cdn/cdntest"
	"github.com/studiobake/studiobake/templates"
)

func stackOutputs() map[string]string {
	return map[string]string{cdn.OutputBucket: "studio-sitebucket-abc", cdn.OutputPrefix: "agents/",
		cdn.OutputDistributionID: cdntest.DistributionID, cdn.OutputStudioURL: "https://d111.cloudfront.net/agents/"}
}

// withStack publishes with --stack name against the fakes: the SDK's real
// CloudFormation client reads the outputs.
func withStack(store *fakeStore, f *cdntest.CloudFront, stacks *cdntest.Stacks, name string) func(*Options) {
	return func(o *Options) {
		o.Bucket, o.Stack = "", name
		o.clients = &testClients{store: store, cdn: cdn.Clients{CloudFront: f.Client(), KVS: f.KVSClient()}, stacks: stacks.Client()}
	}
}

// TestPublishToStack: the bucket, prefix and distribution come from the
// stack's outputs; the gate's KeyValueStore entries are written (the
// template holds none); the function and distribution are left to
// CloudFormation.
func TestPublishToStack(t *testing.T) {
	store, f, stacks := newFakeStore(), startCloudFront(t), cdntest.NewStacks(t)
	stacks.Put("studio", cdntest.Stack{Outputs: stackOutputs()})
	alice, _, _ := templates.NewUser("alice")
	arn := "arn:aws:cloudfront::123456789012:key-value-store/0a1b2c3d"
	v1 := testBake{basePath: "/agents", version: "1", gate: true, auth: templates.CloudFrontOptions{KVSARN: arn,
		Basic: &templates.BasicAuth{Realm: "S", Users: []templates.User{alice}, InKVS: true}}}
	users := filepath.Join(t.TempDir(), "users.txt")
	if err := os.WriteFile(users, []byte(alice.Line()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rep := mustPublish(t, store, v1.write(t), withStack(store, f, stacks, "studio"), func(o *Options) {
		o.Gate = &cdn.GateOptions{KeysOnly: true, Secrets: templates.SecretInput{UsersFile: users}}
	})
	checkSite(t, store, "agents/", v1)
	if store.bucket != "studio-sitebucket-abc" {
		t.Errorf("published to bucket %q", store.bucket)
	}
	if kv := f.KVS(); kv["user:alice"] == "" {
		t.Errorf("the user was not written to the KeyValueStore: %v", kv)
	}
	// A changed release is invalidated on the stack's distribution.
	v2 := v1
	v2.version = "2"
	rep = mustPublish(t, store, v2.write(t), withStack(store, f, stacks, "studio"), func(o *Options) {
		o.Gate = &cdn.GateOptions{KeysOnly: true, Secrets: templates.SecretInput{UsersFile: users}}
	})
	if rep.Result.Invalidation == "" || len(f.Batches()) != 1 {
		t.Errorf("invalidation %q, %d batches: want one on the stack's distribution", rep.Result.Invalidation, len(f.Batches()))
	}
	for _, op := range []string{"CreateFunction", "UpdateFunction", "PublishFunction", "UpdateDistribution"} {
		if n := f.Count(op); n != 0 {
			t.Errorf("%d %s calls: the stack owns the function and distribution", n, op)
		}
	}
}

// TestPublishToStackRefuses: a stack that cannot be used, or --stack with
// what it already says, fails before anything is uploaded.
func TestPublishToStackRefuses(t *testing.T) {
	store, f, stacks := newFakeStore(), startCloudFront(t), cdntest.NewStacks(t)
	partial := stackOutputs()
	delete(partial, cdn.OutputBucket)
	stacks.Put("partial", cdntest.Stack{Outputs: partial})
	bad := stackOutputs()
	bad[cdn.OutputBucket] = "not/a bucket"
	stacks.Put("bad-bucket", cdntest.Stack{Outputs: bad})
	stacks.Put("studio", cdntest.Stack{Outputs: stackOutputs()})
	bake := testBake{basePath: "/agents", version: "1"}.write(t)
	for _, c := range []struct {
		name string
		mod  func(*Options)
		want string
	}{
		{"missing stack", func(o *Options) { o.Stack = "nope" }, `--stack "nope": no such stack`},
		{"outputs lack the bucket", func(o *Options) { o.Stack = "partial" }, `--stack "partial" has no output BucketName`},
		{"output not a bucket", func(o *Options) { o.Stack = "bad-bucket" }, `--stack "bad-bucket": its outputs: invalid --bucket`},
		{"with --bucket", func(o *Options) { o.Bucket = "other" }, `--stack "studio" and --bucket "other" both say where to publish`},
		{"with --distribution-id", func(o *Options) { o.DistributionID = "E9" }, "--distribution-id"},
		{"with --prefix", func(o *Options) { o.Prefix = "x/" }, "--prefix"},
		{"with --function-name", func(o *Options) { o.Gate = &cdn.GateOptions{Name: "gate"} }, "drop --function-name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			store.reset()
			_, err := publishFake(t, store, bake, withStack(store, f, stacks, "studio"), c.mod)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %q", err, c.want)
			}
			if len(store.ops) != 0 {
				t.Errorf("%d store operations after a refusal: %v", len(store.ops), store.ops)
			}
		})
	}
}
