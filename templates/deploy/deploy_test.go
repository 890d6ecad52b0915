package deploy

import (
	"bytes"
	"context"
	"encoding/xml"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfrontkeyvaluestore"
)

const (
	testKVS   = "arn:aws:cloudfront::123456789012:key-value-store/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
	gateV1    = `function handler(e) { var r = e.request; if (r.uri === '/agents/') r.uri = '/agents/index.html'; return r; }`
	gateV2    = `function handler(e) { var r = e.request; r.uri = '/agents/index.html'; return r; }`
	gateThrow = `function handler(e) { throw new Error('broken gate'); }`
)

// clients are the SDK's real clients pointed at the fake.
func clients(t *testing.T, url string) Clients {
	creds := credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")
	cf := cloudfront.New(cloudfront.Options{BaseEndpoint: aws.String(url), Region: "us-east-1", Credentials: creds, RetryMaxAttempts: 1})
	// The KeyValueStore client puts the account id in front of the host
	// (123456789012.127.0.0.1:PORT); dial the fake whatever the name.
	addr := strings.TrimPrefix(url, "http://")
	dial := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}}
	kv := cloudfrontkeyvaluestore.New(cloudfrontkeyvaluestore.Options{BaseEndpoint: aws.String(url), Region: "us-east-1",
		Credentials: creds, RetryMaxAttempts: 1, HTTPClient: dial})
	return Clients{Functions: cf, Distributions: cf, KVS: kv, HeadersPolicies: cf}
}

func opts(code string) Options {
	return Options{Name: "studio-gate", Code: []byte(code), Comment: "studio gate", BasePath: "/agents",
		Associate: true, DistributionID: "E123"}
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

// viewerRequestARN reads the association of the agents/* behaviour from
// the config the fake holds.
func viewerRequestARN(t *testing.T, f *fakeCloudFront) (arns []string, defaultAssoc int) {
	t.Helper()
	var cfg struct {
		Default struct {
			N int `xml:"FunctionAssociations>Quantity"`
		} `xml:"DefaultCacheBehavior"`
		Behaviors []struct {
			Pattern string `xml:"PathPattern"`
			Assoc   []struct {
				ARN   string `xml:"FunctionARN"`
				Event string `xml:"EventType"`
			} `xml:"FunctionAssociations>Items>FunctionAssociation"`
		} `xml:"CacheBehaviors>Items>CacheBehavior"`
	}
	if err := xml.Unmarshal(f.distXML, &cfg); err != nil {
		t.Fatal(err)
	}
	for _, b := range cfg.Behaviors {
		for _, a := range b.Assoc {
			if b.Pattern == "agents/*" && a.Event == "viewer-request" {
				arns = append(arns, a.ARN)
			}
		}
	}
	return arns, cfg.Default.N
}

func TestDeploySequence(t *testing.T) {
	f, srv := newFake(t)
	c := clients(t, srv.URL)

	// Create: describe misses, create, test, publish, associate.
	r := deploy(t, c, opts(gateV1))
	if !r.Created || !r.Tested || !r.Published || !r.Associated {
		t.Fatalf("first deploy: %+v", r)
	}
	arns, def := viewerRequestARN(t, f)
	if len(arns) != 1 || arns[0] != "arn:aws:cloudfront::123456789012:function/studio-gate" || def != 0 {
		t.Fatalf("association: %v (default behaviour has %d)", arns, def)
	}

	// No change: nothing updated, published or written to the distribution.
	r = deploy(t, c, opts(gateV1))
	if r.Created || r.Updated || r.Published || r.Associated {
		t.Errorf("unchanged deploy did something: %+v", r)
	}
	if n := f.count("UpdateFunction") + f.count("PublishFunction") - 1; n != 0 {
		t.Errorf("unchanged deploy: %d extra update/publish calls", n)
	}
	if f.count("UpdateDistribution") != 1 {
		t.Errorf("association rewritten: %d UpdateDistribution calls", f.count("UpdateDistribution"))
	}

	// Update: the fake refuses a stale If-Match, and sends the new ETag
	// only in the misspelled ETtag header, so test and publish succeed
	// only with the ETag the SDK read from it.
	r = deploy(t, c, opts(gateV2))
	if !r.Updated || !r.Tested || !r.Published || r.Associated {
		t.Errorf("update deploy: %+v", r)
	}
	if got := string(f.funcs["studio-gate"].live.code); got != gateV2 {
		t.Errorf("live code %q", got)
	}
	if f.count("UpdateDistribution") != 1 {
		t.Errorf("association rewritten after an update: %d", f.count("UpdateDistribution"))
	}
}

func TestDeployTestFailureDoesNotPublish(t *testing.T) {
	f, srv := newFake(t)
	c := clients(t, srv.URL)
	deploy(t, c, opts(gateV1))
	var out bytes.Buffer
	_, err := Run(context.Background(), c, opts(gateThrow), &out)
	if err == nil || !strings.Contains(err.Error(), "broken gate") {
		t.Fatalf("got %v", err)
	}
	if got := string(f.funcs["studio-gate"].live.code); got != gateV1 {
		t.Errorf("a failing function went live: %q", got)
	}
	// DEVELOPMENT now holds the broken code: a good deploy replaces it.
	r := deploy(t, c, opts(gateV1))
	if !r.Updated || !r.Published {
		t.Errorf("recovery: %+v", r)
	}
}

func TestDeployPublishesPendingDevelopment(t *testing.T) {
	f, srv := newFake(t)
	c := clients(t, srv.URL)
	o := opts(gateV1)
	o.Associate = false
	deploy(t, c, o)
	// An earlier run updated DEVELOPMENT and stopped before publishing.
	f.funcs["studio-gate"].dev.code = []byte(gateV2)
	r := deploy(t, c, opts(gateV2))
	if r.Updated || !r.Published {
		t.Errorf("pending development stage: %+v", r)
	}
}

func TestDeployWithoutTestPermission(t *testing.T) {
	f, srv := newFake(t)
	f.denyTests = true
	r := deploy(t, clients(t, srv.URL), opts(gateV1))
	if r.Tested || !r.Published {
		t.Errorf("%+v", r)
	}
}

func TestDeployKeys(t *testing.T) {
	f, srv := newFake(t)
	c := clients(t, srv.URL)
	managed := func(k string) bool { return strings.HasPrefix(k, "user:") || k == "cookie-secret" }
	f.kvs["other-app"] = "keep"
	o := opts(gateV1)
	o.KVSARN, o.ManagedKey = testKVS, managed
	o.KVS = map[string]string{"user:alice": "s:h1", "user:bob": "s:h2", "cookie-secret": "x"}
	r := deploy(t, c, o)
	if r.KeysPut != 3 || f.kvs["user:bob"] != "s:h2" {
		t.Fatalf("put: %+v %v", r, f.kvs)
	}
	if arns := f.funcs["studio-gate"].dev.kvsARNs; len(arns) != 1 || arns[0] != testKVS {
		t.Errorf("function not associated with the store: %v", arns)
	}
	r = deploy(t, c, o)
	if r.KeysPut != 0 || r.KeysDeleted != 0 || f.count("UpdateKeys") != 1 {
		t.Errorf("unchanged keys rewritten: %+v", r)
	}
	delete(o.KVS, "user:bob")
	o.KVS["user:alice"] = "s:h3"
	r = deploy(t, c, o)
	if r.KeysPut != 1 || r.KeysDeleted != 1 || f.kvs["user:bob"] != "" || f.kvs["other-app"] != "keep" {
		t.Errorf("removed user kept or foreign key deleted: %+v %v", r, f.kvs)
	}
}

func TestDeployBadInput(t *testing.T) {
	_, srv := newFake(t)
	c := clients(t, srv.URL)
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
	f, srv := newFake(t)
	c := clients(t, srv.URL)
	o := opts(gateV1)
	o.DryRun, o.KVSARN, o.KVS = true, testKVS, map[string]string{"user:a": "s:h"}
	r := deploy(t, c, o)
	if !r.Created || !r.Published || !r.Associated || r.KeysPut != 1 || !r.DryRun {
		t.Errorf("dry run plan: %+v", r)
	}
	writes := f.count("CreateFunction") + f.count("UpdateFunction") + f.count("PublishFunction") + f.count("TestFunction") +
		f.count("UpdateDistribution") + f.count("UpdateKeys")
	if writes != 0 || len(f.funcs) != 0 || len(f.kvs) != 0 {
		t.Errorf("dry run wrote: %d calls, %d functions, %d keys", writes, len(f.funcs), len(f.kvs))
	}
	o.DryRun = false
	deploy(t, c, o)
	o.DryRun, o.Code = true, []byte(gateV2)
	r = deploy(t, c, o)
	if !r.Updated || !r.Published || r.Associated || r.KeysPut != 0 {
		t.Errorf("dry run after a deploy: %+v", r)
	}
	if f.count("UpdateFunction") != 0 {
		t.Error("dry run updated the function")
	}
}

const policyDoc = `{"Name":"studiobake-studio-agents","Comment":"c","SecurityHeadersConfig":{
 "ContentSecurityPolicy":{"Override":true,"ContentSecurityPolicy":"default-src 'self'"},
 "ContentTypeOptions":{"Override":true},"FrameOptions":{"Override":true,"FrameOption":"DENY"},
 "ReferrerPolicy":{"Override":true,"ReferrerPolicy":"strict-origin-when-cross-origin"},
 "StrictTransportSecurity":{"Override":true,"AccessControlMaxAgeSec":31536000,"IncludeSubdomains":false,"Preload":false}}}`

func TestDeployHeadersPolicy(t *testing.T) {
	f, srv := newFake(t)
	c := clients(t, srv.URL)
	o := opts(gateV1)
	var err error
	if o.HeadersPolicy, err = ParseHeadersPolicy([]byte(policyDoc)); err != nil {
		t.Fatal(err)
	}
	r := deploy(t, c, o)
	if !r.HeadersPolicyChanged || r.HeadersPolicyID == "" || !strings.Contains(string(f.distXML), "<ResponseHeadersPolicyId>"+r.HeadersPolicyID+"<") {
		t.Fatalf("policy not created and attached: %+v\n%s", r, f.distXML)
	}
	if p := f.policies[r.HeadersPolicyID]; !strings.Contains(p.inner, "<ContentSecurityPolicy>default-src") {
		t.Errorf("stored policy: %s", p.inner)
	}
	r = deploy(t, c, o)
	if r.HeadersPolicyChanged || r.Associated || f.count("UpdateResponseHeadersPolicy") != 0 || f.count("UpdateDistribution") != 1 {
		t.Errorf("unchanged policy rewritten: %+v", r)
	}
	o.HeadersPolicy, _ = ParseHeadersPolicy([]byte(strings.Replace(policyDoc, "default-src 'self'", "default-src 'none'", 1)))
	r = deploy(t, c, o)
	if !r.HeadersPolicyChanged || f.count("UpdateResponseHeadersPolicy") != 1 || f.count("CreateResponseHeadersPolicy") != 1 || r.Associated {
		t.Errorf("changed policy: %+v", r)
	}
	if _, err := ParseHeadersPolicy([]byte(`{"Comment":"x"}`)); err == nil {
		t.Error("policy without a name accepted")
	}
}
