package publish

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/studiobake/studiobake/publish/cdn"
	"github.com/studiobake/studiobake/publish/cdn/cdntest"
	"github.com/studiobake/studiobake/templates"
)

// stackKVS is the store a stack made from stack.yaml created for its gate.
const stackKVS = "arn:aws:cloudfront::123456789012:key-value-store/5tack0wn-0000-4000-8000-000000000001"

func stackOutputs() map[string]string {
	return map[string]string{cdn.OutputBucket: "studio-sitebucket-abc", cdn.OutputPrefix: "agents/",
		cdn.OutputDistributionID: cdntest.DistributionID, cdn.OutputStudioURL: "https://d111.cloudfront.net/agents/",
		cdn.OutputKVSARN: stackKVS}
}

// stacksWith is the fake CloudFormation holding "studio" with every output
// and, by name, stacks whose outputs an edit changed.
func stacksWith(t *testing.T, edits map[string]func(out map[string]string)) *cdntest.Stacks {
	stacks := cdntest.NewStacks(t)
	stacks.Put("studio", cdntest.Stack{Outputs: stackOutputs()})
	for name, edit := range edits {
		out := stackOutputs()
		edit(out)
		stacks.Put(name, cdntest.Stack{Outputs: out})
	}
	return stacks
}

// withStack publishes with --stack name against the fakes: the SDK's real
// CloudFormation client reads the outputs.
func withStack(store *fakeStore, f *cdntest.CloudFront, stacks *cdntest.Stacks, name string) func(*Options) {
	return func(o *Options) {
		o.Bucket, o.Stack = "", name
		o.clients = &testClients{store: store, cdn: fakeCDN(f), stacks: cdn.StacksClient(stacks.Client())}
	}
}

// stackGate is a bake whose gate reads a KeyValueStore (users kept there
// and a signed cookie), built without --kvs-arn as for the stack, and the
// secrets publish writes: the users file and the cookie secret.
func stackGate(t *testing.T) (testBake, templates.SecretInput) {
	t.Helper()
	alice, _, _ := templates.NewUser("alice")
	b := testBake{basePath: "/agents", version: "1", gate: true, auth: templates.CloudFrontOptions{
		Basic:  &templates.BasicAuth{Realm: "S", Users: []templates.User{alice}, InKVS: true},
		Cookie: &templates.CookieAuth{Name: "s", LoginURL: "https://login.example.com/"}}}
	users := filepath.Join(t.TempDir(), "users.txt")
	if err := os.WriteFile(users, []byte(alice.Line()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return b, templates.SecretInput{UsersFile: users, CookieSecretEnv: strings.Repeat("c00kie-", 6)}
}

// TestPublishToStack: the bucket, prefix and distribution come from the
// stack's outputs; the gate's KeyValueStore entries are written into the
// stack's store (output KeyValueStoreArn; the template holds none); the
// function and distribution are left to CloudFormation.
func TestPublishToStack(t *testing.T) {
	store, f, stacks := newFakeStore(), startCloudFront(t), cdntest.NewStacks(t)
	stacks.Put("studio", cdntest.Stack{Outputs: stackOutputs()})
	v1, secrets := stackGate(t)
	rep := mustPublish(t, store, v1.write(t), withStack(store, f, stacks, "studio"), func(o *Options) {
		o.Gate = &cdn.GateOptions{KeysOnly: true, Secrets: secrets}
	})
	checkSite(t, store, "agents/", v1)
	if store.bucket != "studio-sitebucket-abc" {
		t.Errorf("published to bucket %q", store.bucket)
	}
	if kv := f.KVS(); kv["user:alice"] == "" || kv[templates.KVSCookieSecret] != secrets.CookieSecretEnv {
		t.Errorf("the user and the cookie secret were not written to the KeyValueStore: %d keys", len(kv))
	}
	if w := f.KVSWrites(); len(w) != 1 || w[0] != stackKVS {
		t.Errorf("keys written to %v, want the stack's store %s", w, stackKVS)
	}
	// A changed release is invalidated on the stack's distribution.
	v2 := v1
	v2.version = "2"
	rep = mustPublish(t, store, v2.write(t), withStack(store, f, stacks, "studio"), func(o *Options) {
		o.Gate = &cdn.GateOptions{KeysOnly: true, Secrets: secrets}
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
	store, f := newFakeStore(), startCloudFront(t)
	stacks := stacksWith(t, map[string]func(map[string]string){
		"partial":    func(out map[string]string) { delete(out, cdn.OutputBucket) },
		"bad-bucket": func(out map[string]string) { out[cdn.OutputBucket] = "not/a bucket" },
	})
	bake := testBake{basePath: "/agents", version: "1"}.write(t)
	for _, c := range []struct {
		name string
		mod  func(*Options)
		want string
	}{
		{"missing stack", func(o *Options) { o.Stack = "nope" }, `--stack "nope": no such stack`},
		{"outputs lack the bucket", func(o *Options) { o.Stack = "partial" }, `--stack "partial" has no output BucketName`},
		{"output not a bucket", func(o *Options) { o.Stack = "bad-bucket" }, `--stack "bad-bucket": its outputs: invalid --bucket`},
		{"with --bucket", func(o *Options) { o.Bucket = "other" }, `--stack "studio" and --bucket "other" both say where the site is`},
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

// TestPublishToStackStore: a bake whose gate reads a KeyValueStore needs
// the stack's store; a stack without that output, one whose output is not
// a store, or another store given beside it fails before anything is
// uploaded or written.
func TestPublishToStackStore(t *testing.T) {
	store, f := newFakeStore(), startCloudFront(t)
	stacks := stacksWith(t, map[string]func(map[string]string){
		"old":       func(out map[string]string) { delete(out, cdn.OutputKVSARN) },
		"bad-store": func(out map[string]string) { out[cdn.OutputKVSARN] = "studiobake-kvs-1" },
	})
	b, secrets := stackGate(t)
	bake := b.write(t)
	other := "arn:aws:cloudfront::123456789012:key-value-store/07her"
	for _, c := range []struct {
		name, stack, kvsARN, want string
	}{
		{"no store output", "old", "", `--stack "old" has no output KeyValueStoreArn, which this bake needs`},
		{"output not a store", "bad-store", "", `invalid --stack "bad-store" output KeyValueStoreArn "studiobake-kvs-1"`},
		{"another store", "studio", other, `--kvs-arn "` + other + `" is not the KeyValueStore of --stack "studio"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			store.reset()
			_, err := publishFake(t, store, bake, withStack(store, f, stacks, c.stack), func(o *Options) {
				o.Gate = &cdn.GateOptions{KeysOnly: true, Secrets: secrets, KVSARN: c.kvsARN}
			})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %q", err, c.want)
			}
			if len(store.ops) != 0 || len(f.KVSWrites()) != 0 {
				t.Errorf("%d store operations, keys written to %v after a refusal", len(store.ops), f.KVSWrites())
			}
		})
	}
	// A store these credentials cannot read stops the publish before its
	// first write: after go-live its keys could not be written.
	store.reset()
	f.DenyKVS = true
	_, err := publishFake(t, store, bake, withStack(store, f, stacks, "studio"), func(o *Options) {
		o.Gate = &cdn.GateOptions{KeysOnly: true, Secrets: secrets}
	})
	if err == nil || !strings.Contains(err.Error(), "the stack's KeyValueStore "+stackKVS+": cannot read the KeyValueStore, so nothing was changed") {
		t.Errorf("unreadable store: err = %v", err)
	}
	if len(store.ops) != 0 {
		t.Errorf("%d store operations before the refusal", len(store.ops))
	}
	f.DenyKVS = false
	// The same store given twice is no conflict.
	mustPublish(t, store, bake, withStack(store, f, stacks, "studio"), func(o *Options) {
		o.Gate = &cdn.GateOptions{KeysOnly: true, Secrets: secrets, KVSARN: stackKVS}
	})
	if w := f.KVSWrites(); len(w) != 1 || w[0] != stackKVS {
		t.Errorf("keys written to %v", w)
	}
}

// TestReleasesAndRollbackWithStack: releases and rollback take --stack as
// publish does: the bucket, prefix and distribution come from its outputs;
// releases reads no distribution.
func TestReleasesAndRollbackWithStack(t *testing.T) {
	store, f, stacks := newFakeStore(), startCloudFront(t), cdntest.NewStacks(t)
	stacks.Put("studio", cdntest.Stack{Outputs: stackOutputs()})
	v1, secrets := stackGate(t)
	v2 := v1
	v2.version = "2"
	var ids []string
	for _, b := range []testBake{v1, v2} {
		rep := mustPublish(t, store, b.write(t), withStack(store, f, stacks, "studio"), func(o *Options) {
			o.Gate = &cdn.GateOptions{KeysOnly: true, Secrets: secrets}
		})
		ids = append(ids, rep.Release)
	}
	batches := len(f.Batches())

	o := Options{}
	withStack(store, f, stacks, "studio")(&o)
	o.retryBackoff, o.pollInterval = time.Millisecond, time.Millisecond
	reads := f.Count("GetDistributionConfig")
	rels, err := Releases(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if n := f.Count("GetDistributionConfig") - reads; n != 0 {
		t.Errorf("releases --stack read the distribution %d times: a listing needs only S3 (and DescribeStacks)", n)
	}
	if rels.Bucket != "studio-sitebucket-abc" || rels.Prefix != "agents/" || rels.Live != ids[1] || len(rels.Releases) != 2 {
		t.Fatalf("releases --stack: bucket %q prefix %q live %q, %d releases; want the stack's bucket and prefix, %s live of 2",
			rels.Bucket, rels.Prefix, rels.Live, len(rels.Releases), ids[1])
	}

	rep, err := Rollback(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	checkSite(t, store, "agents/", v1)
	if rep.Bucket != "studio-sitebucket-abc" || rep.Result.Invalidation == "" || len(f.Batches()) != batches+1 {
		t.Errorf("rollback --stack: bucket %q, invalidation %q, %d batches; want one more on the stack's distribution",
			rep.Bucket, rep.Result.Invalidation, len(f.Batches()))
	}

	// Where to look is the stack's to say, for these commands too.
	o.Bucket = "other"
	if _, err := Releases(context.Background(), o); err == nil || !strings.Contains(err.Error(), `--stack "studio" and --bucket "other" both say where the site is`) {
		t.Errorf("releases --stack with --bucket: err = %v", err)
	}
}
