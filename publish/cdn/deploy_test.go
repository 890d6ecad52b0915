package cdn

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/studiobake/studiobake/publish/cdn/cdntest"
)

const (
	testKVS   = "arn:aws:cloudfront::123456789012:key-value-store/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
	gateV1    = `function handler(e) { var r = e.request; if (r.uri === '/agents/') r.uri = '/agents/index.html'; return r; }`
	gateV2    = `function handler(e) { var r = e.request; r.uri = '/agents/index.html'; return r; }`
	gateThrow = `function handler(e) { throw new Error('broken gate'); }`
)

// newFake starts the fake and returns it with the SDK's real clients
// pointed at it.
func newFake(t *testing.T) (*cdntest.CloudFront, Clients) {
	f := cdntest.New(t)
	return f, Clients{CloudFront: CloudFrontClient(f.Client()), KVS: KVSClient(f.KVSClient())}
}

func opts(code string) Options {
	return Options{Name: "studio-gate", Code: []byte(code), Comment: "studio gate", BasePath: "/agents",
		Associate: true, DistributionID: "E123", Bucket: "studio", Prefix: "agents/"}
}

func deploy(t *testing.T, c Clients, o Options) *Result {
	t.Helper()
	var out bytes.Buffer
	r, err := Run(context.Background(), c, o, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Log(out.String() + r.Summary(o.Name))
	return r
}

// gated lists the behaviours whose viewer-request function is the gate,
// read back through the SDK ("" for the default behaviour).
func gated(t *testing.T, c Clients) []string {
	t.Helper()
	const arn = "arn:aws:cloudfront::123456789012:function/studio-gate"
	cfg := distConfig(t, c)
	var out []string
	if cfg.CacheBehaviors != nil {
		for _, cb := range cfg.CacheBehaviors.Items {
			if viewerRequest(cb.FunctionAssociations) == arn {
				out = append(out, aws.ToString(cb.PathPattern))
			}
		}
	}
	if viewerRequest(cfg.DefaultCacheBehavior.FunctionAssociations) == arn {
		out = append(out, "")
	}
	return out
}

func TestDeploySequence(t *testing.T) {
	f, c := newFake(t)

	// Create: describe misses, create, test, publish, associate.
	r := deploy(t, c, opts(gateV1))
	if !r.Created || !r.Tested || !r.Published || !r.Associated {
		t.Fatalf("first deploy: %+v", r)
	}
	if got := gated(t, c); !slices.Equal(got, []string{"agents/*", ""}) {
		t.Fatalf("the gate runs on %q, want agents/* and the default behaviour (both reach the bucket)", got)
	}

	// No change: nothing updated, published or written to the distribution.
	r = deploy(t, c, opts(gateV1))
	if r.Created || r.Updated || r.Published || r.Associated {
		t.Errorf("unchanged deploy did something: %+v", r)
	}
	if n := f.Count("UpdateFunction") + f.Count("PublishFunction") - 1; n != 0 {
		t.Errorf("unchanged deploy: %d extra update/publish calls", n)
	}
	if f.Count("UpdateDistribution") != 1 {
		t.Errorf("association rewritten: %d UpdateDistribution calls", f.Count("UpdateDistribution"))
	}

	// Update: the fake refuses a stale If-Match, and sends the new ETag
	// only in the misspelled ETtag header, so test and publish succeed
	// only with the ETag the SDK read from it.
	r = deploy(t, c, opts(gateV2))
	if !r.Updated || !r.Tested || !r.Published || r.Associated {
		t.Errorf("update deploy: %+v", r)
	}
	if got := f.Code("studio-gate", "LIVE"); got != gateV2 {
		t.Errorf("live code %q", got)
	}
	if f.Count("UpdateDistribution") != 1 {
		t.Errorf("association rewritten after an update: %d", f.Count("UpdateDistribution"))
	}
}

func TestDeployTestFailureDoesNotPublish(t *testing.T) {
	f, c := newFake(t)
	deploy(t, c, opts(gateV1))
	var out bytes.Buffer
	_, err := Run(context.Background(), c, opts(gateThrow), &out)
	if err == nil || !strings.Contains(err.Error(), "broken gate") {
		t.Fatalf("got %v", err)
	}
	if got := f.Code("studio-gate", "LIVE"); got != gateV1 {
		t.Errorf("a failing function went live: %q", got)
	}
	// DEVELOPMENT now holds the broken code: a good deploy replaces it.
	r := deploy(t, c, opts(gateV1))
	if !r.Updated || !r.Published {
		t.Errorf("recovery: %+v", r)
	}
}

func TestDeployPublishesPendingDevelopment(t *testing.T) {
	f, c := newFake(t)
	o := opts(gateV1)
	o.Associate = false
	deploy(t, c, o)
	// An earlier run updated DEVELOPMENT and stopped before publishing.
	f.SetDevelopmentCode("studio-gate", gateV2)
	r := deploy(t, c, opts(gateV2))
	if r.Updated || !r.Published {
		t.Errorf("pending development stage: %+v", r)
	}
}

func TestDeployWithoutTestPermission(t *testing.T) {
	f, c := newFake(t)
	f.DenyTests = true
	r := deploy(t, c, opts(gateV1))
	if r.Tested || !r.Published {
		t.Errorf("%+v", r)
	}
}

func TestDeployKeys(t *testing.T) {
	f, c := newFake(t)
	managed := func(k string) bool { return strings.HasPrefix(k, "user:") || k == "cookie-secret" }
	f.SetKey("other-app", "keep")
	o := opts(gateV1)
	o.KVSARN, o.ManagedKey = testKVS, managed
	o.KVS = map[string]string{"user:alice": "s:h1", "user:bob": "s:h2", "cookie-secret": "x"}
	r := deploy(t, c, o)
	if r.KeysPut != 3 || f.KVS()["user:bob"] != "s:h2" {
		t.Fatalf("put: %+v %v", r, f.KVS())
	}
	if arns := f.FunctionKVS("studio-gate"); len(arns) != 1 || arns[0] != testKVS {
		t.Errorf("function not associated with the store: %v", arns)
	}
	r = deploy(t, c, o)
	if r.KeysPut != 0 || r.KeysDeleted != 0 || f.Count("UpdateKeys") != 1 {
		t.Errorf("unchanged keys rewritten: %+v", r)
	}
	delete(o.KVS, "user:bob")
	o.KVS["user:alice"] = "s:h3"
	r = deploy(t, c, o)
	if kv := f.KVS(); r.KeysPut != 1 || r.KeysDeleted != 1 || kv["user:bob"] != "" || kv["other-app"] != "keep" {
		t.Errorf("removed user kept or foreign key deleted: %+v %v", r, kv)
	}
}

func TestDeployBadInput(t *testing.T) {
	_, c := newFake(t)
	o := opts(gateV1)
	o.DistributionID = ""
	if _, err := Run(context.Background(), c, o, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "--distribution-id") {
		t.Errorf("associate without distribution: %v", err)
	}
	o = opts(gateV1)
	o.CacheBehavior = "nope/*"
	if _, err := Run(context.Background(), c, o, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), `"nope/*"`) {
		t.Errorf("unknown behaviour: %v", err)
	}
}

func TestPlanKeys(t *testing.T) {
	p := PlanKeys(map[string]string{"a": "1", "b": "2"}, map[string]string{"a": "1", "b": "0", "user:x": "z", "foreign": "f"},
		func(k string) bool { return strings.HasPrefix(k, "user:") })
	if len(p.Put) != 1 || p.Put["b"] != "2" || len(p.Delete) != 1 || p.Delete[0] != "user:x" {
		t.Errorf("%+v", p)
	}
}

func TestDeployDryRun(t *testing.T) {
	f, c := newFake(t)
	o := opts(gateV1)
	o.DryRun, o.KVSARN, o.KVS = true, testKVS, map[string]string{"user:a": "s:h"}
	r := deploy(t, c, o)
	if !r.Created || !r.Published || !r.Associated || r.KeysPut != 1 || !r.DryRun {
		t.Errorf("dry run plan: %+v", r)
	}
	writes := f.Count("CreateFunction") + f.Count("UpdateFunction") + f.Count("PublishFunction") + f.Count("TestFunction") +
		f.Count("UpdateDistribution") + f.Count("UpdateKeys")
	if writes != 0 || f.Functions() != 0 || len(f.KVS()) != 0 {
		t.Errorf("dry run wrote: %d calls, %d functions, %d keys", writes, f.Functions(), len(f.KVS()))
	}
	o.DryRun = false
	deploy(t, c, o)
	o.DryRun, o.Code = true, []byte(gateV2)
	r = deploy(t, c, o)
	if !r.Updated || !r.Published || r.Associated || r.KeysPut != 0 {
		t.Errorf("dry run after a deploy: %+v", r)
	}
	if f.Count("UpdateFunction") != 0 {
		t.Error("dry run updated the function")
	}
}

const policyDoc = `{"Name":"studiobake-studio-agents","Comment":"c","SecurityHeadersConfig":{
 "ContentSecurityPolicy":{"Override":true,"ContentSecurityPolicy":"default-src 'self'"},
 "ContentTypeOptions":{"Override":true},"FrameOptions":{"Override":true,"FrameOption":"DENY"},
 "ReferrerPolicy":{"Override":true,"ReferrerPolicy":"strict-origin-when-cross-origin"},
 "StrictTransportSecurity":{"Override":true,"AccessControlMaxAgeSec":31536000,"IncludeSubdomains":false,"Preload":false}}}`

func TestDeployHeadersPolicy(t *testing.T) {
	f, c := newFake(t)
	o := opts(gateV1)
	var err error
	if o.HeadersPolicy, err = ParseHeadersPolicy([]byte(policyDoc)); err != nil {
		t.Fatal(err)
	}
	r := deploy(t, c, o)
	if !r.HeadersPolicyChanged || r.HeadersPolicyID == "" || !strings.Contains(f.DistributionXML(), "<ResponseHeadersPolicyId>"+r.HeadersPolicyID+"<") {
		t.Fatalf("policy not created and attached: %+v\n%s", r, f.DistributionXML())
	}
	if p := f.Policy(r.HeadersPolicyID); !strings.Contains(p, "<ContentSecurityPolicy>default-src") {
		t.Errorf("stored policy: %s", p)
	}
	r = deploy(t, c, o)
	if r.HeadersPolicyChanged || r.Associated || f.Count("UpdateResponseHeadersPolicy") != 0 || f.Count("UpdateDistribution") != 1 {
		t.Errorf("unchanged policy rewritten: %+v", r)
	}
	o.HeadersPolicy, _ = ParseHeadersPolicy([]byte(strings.Replace(policyDoc, "default-src 'self'", "default-src 'none'", 1)))
	r = deploy(t, c, o)
	if !r.HeadersPolicyChanged || f.Count("UpdateResponseHeadersPolicy") != 1 || f.Count("CreateResponseHeadersPolicy") != 1 || r.Associated {
		t.Errorf("changed policy: %+v", r)
	}
	if _, err := ParseHeadersPolicy([]byte(`{"Comment":"x"}`)); err == nil {
		t.Error("policy without a name accepted")
	}
}
