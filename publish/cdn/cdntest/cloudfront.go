// Package cdntest is an httptest CloudFront: it speaks enough of the
// CloudFront 2020-05-31 REST-XML API (functions, distribution configs,
// response headers policies, invalidations) and of the KeyValueStore JSON
// API for the SDK's real clients, so that studiobake's CloudFront code is
// tested through the same client it runs with. It checks If-Match like the
// service does and runs TestFunction through cfrun.
package cdntest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfrontkeyvaluestore"

	"github.com/studiobake/studiobake/templates/cfrun"
)

// DistributionID is the one distribution the fake serves.
const DistributionID = "E123"

// CloudFront is the fake service. Its exported fields are knobs a test sets
// before the calls they affect.
type CloudFront struct {
	// DenyTests answers TestFunction with AccessDenied.
	DenyTests bool
	// DenyFunctions answers every request about functions with
	// AccessDenied, as for credentials without cloudfront:*Function*.
	DenyFunctions bool
	// DenyKVS answers every KeyValueStore request with AccessDenied.
	DenyKVS bool
	// Busy answers this many CreateInvalidation calls with
	// TooManyInvalidationsInProgress; Pending is how many polls of a new
	// invalidation answer InProgress before Completed.
	Busy, Pending int
	// Unavailable answers this many requests, whatever they ask, with
	// 503 ServiceUnavailable, which the SDK retries.
	Unavailable int

	mu       sync.Mutex
	t        testing.TB
	srv      *httptest.Server
	funcs    map[string]*fakeFunc
	calls    map[string]int
	etagN    int
	distXML  []byte
	distETag string
	kvs      map[string]string
	kvsETag  string
	kvsARNs  []string // the store of each UpdateKeys, in order
	policies map[string]*fakePolicy
	batches  []Batch
	polls    map[string]int // polls left per invalidation
}

// Batch is one invalidation the fake accepted.
type Batch struct {
	CallerReference string   `xml:"CallerReference"`
	Paths           []string `xml:"Paths>Items>Path"`
	Quantity        int      `xml:"Paths>Quantity"`
}

type fakePolicy struct {
	name, inner, etag string
}

type fakeFunc struct {
	arn       string
	dev, live *fakeStage
	devETag   string
	liveETag  string
}

type fakeStage struct {
	code    []byte
	comment string
	runtime string
	kvsARNs []string
}

// UsualDistribution is a distribution set up the usual console way: one S3
// origin for bucket "studio", the default behaviour and agents/* both
// pointing at it.
const UsualDistribution = `<?xml version="1.0" encoding="UTF-8"?>
<DistributionConfig xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><CallerReference>ref-1</CallerReference><Comment>studio</Comment><Enabled>true</Enabled>` +
	`<Origins><Quantity>1</Quantity><Items><Origin><Id>s3</Id><DomainName>studio.s3.amazonaws.com</DomainName></Origin></Items></Origins>` +
	`<DefaultCacheBehavior><TargetOriginId>s3</TargetOriginId><ViewerProtocolPolicy>redirect-to-https</ViewerProtocolPolicy></DefaultCacheBehavior>` +
	`<CacheBehaviors><Quantity>1</Quantity><Items><CacheBehavior><PathPattern>agents/*</PathPattern><TargetOriginId>s3</TargetOriginId><ViewerProtocolPolicy>redirect-to-https</ViewerProtocolPolicy></CacheBehavior></Items></CacheBehaviors>` +
	`</DistributionConfig>`

// New starts a fake holding UsualDistribution; it stops with the test.
func New(t testing.TB) *CloudFront {
	f := &CloudFront{t: t, funcs: map[string]*fakeFunc{}, calls: map[string]int{},
		distXML: []byte(UsualDistribution), distETag: "D1", kvs: map[string]string{}, kvsETag: "K1",
		policies: map[string]*fakePolicy{}, polls: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

var creds = credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")

// Client is the SDK's CloudFront client pointed at the fake, without
// retries so that a test sees each answer.
// URL is the fake's endpoint, for a studiobake process pointed at it with
// AWS_ENDPOINT_URL_CLOUDFRONT.
func (f *CloudFront) URL() string { return f.srv.URL }

func (f *CloudFront) Client() *cloudfront.Client {
	return cloudfront.New(cloudfront.Options{BaseEndpoint: aws.String(f.srv.URL), Region: "us-east-1",
		Credentials: creds, RetryMaxAttempts: 1, HTTPClient: f.srv.Client()})
}

// KVSClient is the SDK's KeyValueStore client pointed at the fake.
func (f *CloudFront) KVSClient() *cloudfrontkeyvaluestore.Client {
	// The client puts the account id in front of the host
	// (123456789012.127.0.0.1:PORT); dial the fake whatever the name.
	addr := f.srv.Listener.Addr().String()
	dial := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}}
	return cloudfrontkeyvaluestore.New(cloudfrontkeyvaluestore.Options{BaseEndpoint: aws.String(f.srv.URL), Region: "us-east-1",
		Credentials: creds, RetryMaxAttempts: 1, HTTPClient: dial})
}

// Count is how many calls of the operation (CreateFunction,
// UpdateDistribution...) the fake answered.
func (f *CloudFront) Count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// Code is a function's code in a stage (LIVE or DEVELOPMENT); "" when absent.
func (f *CloudFront) Code(name, stage string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn := f.funcs[name]
	if fn == nil {
		return ""
	}
	st, _ := fn.stage(stage)
	if st == nil {
		return ""
	}
	return string(st.code)
}

// SetDevelopmentCode replaces a function's DEVELOPMENT code, as an earlier
// run that stopped before publishing would leave it.
func (f *CloudFront) SetDevelopmentCode(name, code string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.funcs[name].dev.code = []byte(code)
}

// FunctionKVS lists the KeyValueStores a function's DEVELOPMENT stage is
// associated with.
func (f *CloudFront) FunctionKVS(name string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fn := f.funcs[name]; fn != nil {
		return append([]string(nil), fn.dev.kvsARNs...)
	}
	return nil
}

// Functions is how many functions exist.
func (f *CloudFront) Functions() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.funcs)
}

// KVS is a copy of the KeyValueStore's entries.
func (f *CloudFront) KVS() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.kvs)
}

// KVSWrites lists the store ARN of each UpdateKeys call, in order: the
// fake keeps one store's entries, so a test checks where they went here.
func (f *CloudFront) KVSWrites() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.kvsARNs)
}

// SetKey writes a KeyValueStore entry directly.
func (f *CloudFront) SetKey(k, v string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kvs[k] = v
}

// DistributionXML is the distribution config as last written.
func (f *CloudFront) DistributionXML() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return string(f.distXML)
}

// SetDistributionXML replaces the distribution config.
func (f *CloudFront) SetDistributionXML(doc string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.distXML, f.distETag = []byte(doc), f.nextETag("D")
}

// Policy is the stored config XML of a response headers policy.
func (f *CloudFront) Policy(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p := f.policies[id]; p != nil {
		return p.inner
	}
	return ""
}

// Batches are the invalidations created, oldest first.
func (f *CloudFront) Batches() []Batch {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.batches)
}

func (f *CloudFront) nextETag(prefix string) string {
	f.etagN++
	return fmt.Sprintf("%s%d", prefix, f.etagN)
}

func (f *CloudFront) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	path := r.URL.EscapedPath()
	body, _ := io.ReadAll(r.Body)
	dist := "/2020-05-31/distribution/" + DistributionID
	if f.Unavailable > 0 {
		f.Unavailable--
		xmlError(w, 503, "ServiceUnavailable", "try again")
		return
	}
	switch {
	case strings.HasPrefix(path, "/key-value-stores/") && f.DenyKVS:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(403)
		json.NewEncoder(w).Encode(map[string]string{"__type": "AccessDeniedException", "message": "not authorized to use this store"})
	case strings.HasPrefix(path, "/key-value-stores/"):
		f.serveKVS(w, r, path, body)
	case strings.HasPrefix(path, "/2020-05-31/response-headers-policy"):
		f.servePolicy(w, r, path, body)
	case path == dist+"/config":
		f.serveDistribution(w, r, body)
	case strings.HasPrefix(path, dist+"/invalidation"):
		f.serveInvalidation(w, r, strings.TrimPrefix(path, dist+"/invalidation"), body)
	case strings.HasPrefix(path, "/2020-05-31/distribution/"):
		xmlError(w, 404, "NoSuchDistribution", "unknown "+r.Method+" "+path)
	case strings.HasPrefix(path, "/2020-05-31/function") && f.DenyFunctions:
		xmlError(w, 403, "AccessDenied", "not authorized to use functions")
	case strings.HasPrefix(path, "/2020-05-31/function"):
		f.serveFunction(w, r, path, body)
	default:
		f.t.Errorf("fake CloudFront: unexpected %s %s", r.Method, path)
		xmlError(w, 400, "InvalidArgument", "unexpected request")
	}
}

func (f *CloudFront) serveInvalidation(w http.ResponseWriter, r *http.Request, rest string, body []byte) {
	switch {
	case r.Method == http.MethodPost && rest == "":
		f.calls["CreateInvalidation"]++
		var b Batch
		if err := xml.Unmarshal(body, &b); err != nil || b.Quantity != len(b.Paths) {
			xmlError(w, 400, "MalformedInput", fmt.Sprintf("bad batch: %v", err))
			return
		}
		if f.Busy > 0 {
			f.Busy--
			xmlError(w, 400, "TooManyInvalidationsInProgress", "Processing your request will cause you to exceed the maximum number of in-progress wildcard invalidations.")
			return
		}
		f.batches = append(f.batches, b)
		id := fmt.Sprintf("I%d", len(f.batches))
		f.polls[id] = f.Pending
		w.Header().Set("Location", "https://cloudfront.amazonaws.com/2020-05-31/distribution/"+DistributionID+"/invalidation/"+id)
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, invalidationXML(id, "InProgress", b))
	case r.Method == http.MethodGet && strings.HasPrefix(rest, "/"):
		f.calls["GetInvalidation"]++
		id := strings.TrimPrefix(rest, "/")
		left, ok := f.polls[id]
		if !ok {
			xmlError(w, 404, "NoSuchInvalidation", "no such invalidation")
			return
		}
		status := "Completed"
		if left > 0 {
			status, f.polls[id] = "InProgress", left-1
		}
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprint(w, invalidationXML(id, status, Batch{}))
	default:
		xmlError(w, 400, "InvalidArgument", "unexpected "+r.Method+" invalidation"+rest)
	}
}

func invalidationXML(id, status string, b Batch) string {
	var items strings.Builder
	for _, p := range b.Paths {
		fmt.Fprintf(&items, "<Path>%s</Path>", p)
	}
	return fmt.Sprintf(`<?xml version="1.0"?><Invalidation xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/">`+
		`<Id>%s</Id><Status>%s</Status><CreateTime>2026-01-01T00:00:00Z</CreateTime><InvalidationBatch>`+
		`<Paths><Quantity>%d</Quantity><Items>%s</Items></Paths><CallerReference>%s</CallerReference>`+
		`</InvalidationBatch></Invalidation>`, id, status, len(b.Paths), items.String(), b.CallerReference)
}

func xmlError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0"?><ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>r</RequestId></ErrorResponse>`, code, msg)
}

func writeXML(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	b, _ := xml.Marshal(v)
	w.Write(b)
}

// XML shapes of the function API.
type xConfig struct {
	Comment string `xml:"Comment"`
	Runtime string `xml:"Runtime"`
	KVS     *struct {
		Quantity int      `xml:"Quantity"`
		ARNs     []string `xml:"Items>KeyValueStoreAssociation>KeyValueStoreARN"`
	} `xml:"KeyValueStoreAssociations,omitempty"`
}

type xSummary struct {
	XMLName  xml.Name `xml:"FunctionSummary"`
	Name     string   `xml:"Name"`
	Status   string   `xml:"Status"`
	Config   xConfig  `xml:"FunctionConfig"`
	Metadata struct {
		ARN   string `xml:"FunctionARN"`
		Stage string `xml:"Stage"`
		Time  string `xml:"LastModifiedTime"`
	} `xml:"FunctionMetadata"`
}

type xRequest struct {
	Name        string  `xml:"Name"`
	Config      xConfig `xml:"FunctionConfig"`
	Code        b64     `xml:"FunctionCode"`
	Stage       string  `xml:"Stage"`
	EventObject b64     `xml:"EventObject"`
}

// b64 is a blob member: base64 text in the XML.
type b64 []byte

func (b *b64) UnmarshalText(text []byte) error {
	d, err := base64.StdEncoding.DecodeString(string(text))
	*b = d
	return err
}

func (s *fakeStage) config() xConfig {
	c := xConfig{Comment: s.comment, Runtime: s.runtime}
	if len(s.kvsARNs) > 0 {
		c.KVS = &struct {
			Quantity int      `xml:"Quantity"`
			ARNs     []string `xml:"Items>KeyValueStoreAssociation>KeyValueStoreARN"`
		}{len(s.kvsARNs), s.kvsARNs}
	}
	return c
}

func summary(name string, fn *fakeFunc, st *fakeStage, stage string) xSummary {
	s := xSummary{Name: name, Status: "UNPUBLISHED", Config: st.config()}
	if stage == "LIVE" {
		s.Status = "DEPLOYED"
	}
	s.Metadata.ARN, s.Metadata.Stage, s.Metadata.Time = fn.arn, stage, "2026-11-23T00:00:00Z"
	return s
}

func stageOf(req xRequest) *fakeStage {
	st := &fakeStage{code: req.Code, comment: req.Config.Comment, runtime: req.Config.Runtime}
	if req.Config.KVS != nil {
		st.kvsARNs = req.Config.KVS.ARNs
	}
	return st
}

func (f *CloudFront) serveFunction(w http.ResponseWriter, r *http.Request, path string, body []byte) {
	rest := strings.TrimPrefix(strings.TrimPrefix(path, "/2020-05-31/function"), "/")
	name, action, _ := strings.Cut(rest, "/")
	name, _ = url.PathUnescape(name)
	var req xRequest
	if len(body) > 0 {
		if err := xml.Unmarshal(body, &req); err != nil {
			f.t.Errorf("fake: bad XML body: %v", err)
		}
	}
	fn := f.funcs[name]
	stage := r.URL.Query().Get("Stage")
	switch {
	case r.Method == "POST" && name == "":
		f.calls["CreateFunction"]++
		if f.funcs[req.Name] != nil {
			xmlError(w, 409, "FunctionAlreadyExists", "exists")
			return
		}
		fn = &fakeFunc{arn: "arn:aws:cloudfront::123456789012:function/" + req.Name, dev: stageOf(req), devETag: f.nextETag("E")}
		f.funcs[req.Name] = fn
		w.Header().Set("ETag", fn.devETag)
		w.Header().Set("Location", "https://cloudfront.amazonaws.com/2020-05-31/function/"+req.Name)
		writeXML(w, 201, summary(req.Name, fn, fn.dev, "DEVELOPMENT"))
	case fn == nil || (stage == "LIVE" && fn.live == nil):
		f.calls[opName(r.Method, action)]++
		xmlError(w, 404, "NoSuchFunctionExists", "no function "+name)
	case r.Method == "GET" && action == "describe":
		f.calls["DescribeFunction"]++
		st, etag := fn.stage(stage)
		w.Header().Set("ETag", etag)
		writeXML(w, 200, summary(name, fn, st, stageName(stage)))
	case r.Method == "GET" && action == "":
		f.calls["GetFunction"]++
		st, etag := fn.stage(stage)
		w.Header().Set("ETag", etag)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(st.code)
	default:
		f.mutateFunction(w, r, name, action, fn, req)
	}
}

func (fn *fakeFunc) stage(s string) (*fakeStage, string) {
	if s == "LIVE" {
		return fn.live, fn.liveETag
	}
	return fn.dev, fn.devETag
}

func opName(method, action string) string {
	switch {
	case action == "describe":
		return "DescribeFunction"
	case method == "GET":
		return "GetFunction"
	}
	return method + " " + action
}

// mutateFunction handles the calls that need the DEVELOPMENT ETag.
func (f *CloudFront) mutateFunction(w http.ResponseWriter, r *http.Request, name, action string, fn *fakeFunc, req xRequest) {
	op := map[string]string{"PUT": "UpdateFunction", "POST test": "TestFunction", "POST publish": "PublishFunction"}[strings.TrimSpace(r.Method+" "+action)]
	f.calls[op]++
	if r.Header.Get("If-Match") != fn.devETag {
		xmlError(w, 412, "PreconditionFailed", fmt.Sprintf("If-Match %q, current %q", r.Header.Get("If-Match"), fn.devETag))
		return
	}
	switch op {
	case "UpdateFunction":
		fn.dev = stageOf(req)
		fn.devETag = f.nextETag("E")
		// The SDK reads UpdateFunction's new ETag from this misspelled
		// header; the service sends it so.
		w.Header().Set("ETtag", fn.devETag)
		writeXML(w, 200, summary(name, fn, fn.dev, "DEVELOPMENT"))
	case "TestFunction":
		if f.DenyTests {
			xmlError(w, 403, "AccessDenied", "not allowed")
			return
		}
		f.test(w, name, fn, req)
	case "PublishFunction":
		cp := *fn.dev
		fn.live, fn.liveETag = &cp, f.nextETag("L")
		writeXML(w, 200, summary(name, fn, fn.live, "LIVE"))
	default:
		xmlError(w, 400, "InvalidArgument", "unexpected "+r.Method+" "+action)
	}
}

func (f *CloudFront) test(w http.ResponseWriter, name string, fn *fakeFunc, req xRequest) {
	type result struct {
		XMLName xml.Name `xml:"TestResult"`
		Summary xSummary `xml:"FunctionSummary"`
		Util    string   `xml:"ComputeUtilization"`
		ErrMsg  string   `xml:"FunctionErrorMessage,omitempty"`
		Output  string   `xml:"FunctionOutput,omitempty"`
	}
	res := result{Summary: summary(name, fn, fn.dev, "DEVELOPMENT"), Util: "12"}
	var ev cfrun.Event
	run, err := cfrun.New(string(fn.dev.code), f.kvs)
	if err == nil {
		err = json.Unmarshal(req.EventObject, &ev)
	}
	if err == nil {
		var out cfrun.Result
		if out, err = run.Run(ev); err == nil {
			b, _ := json.Marshal(out)
			res.Output = string(b)
		}
	}
	if err != nil {
		res.ErrMsg = err.Error()
	}
	writeXML(w, 200, res)
}

func (f *CloudFront) serveDistribution(w http.ResponseWriter, r *http.Request, body []byte) {
	switch r.Method {
	case "GET":
		f.calls["GetDistributionConfig"]++
		w.Header().Set("ETag", f.distETag)
		w.Header().Set("Content-Type", "text/xml")
		w.Write(f.distXML)
	case "PUT":
		f.calls["UpdateDistribution"]++
		if r.Header.Get("If-Match") != f.distETag {
			xmlError(w, 412, "PreconditionFailed", "stale distribution ETag")
			return
		}
		f.distXML, f.distETag = body, f.nextETag("D")
		w.Header().Set("ETag", f.distETag)
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<?xml version="1.0"?><Distribution><Id>E123</Id><Status>InProgress</Status><DomainName>d111.cloudfront.net</DomainName></Distribution>`)
	}
}

func (f *CloudFront) serveKVS(w http.ResponseWriter, r *http.Request, path string, body []byte) {
	rest, _ := url.PathUnescape(strings.TrimPrefix(path, "/key-value-stores/"))
	arn, sub, _ := strings.Cut(rest, "/keys")
	_ = sub
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == "GET" && !strings.HasSuffix(path, "/keys"):
		f.calls["DescribeKeyValueStore"]++
		w.Header().Set("ETag", f.kvsETag)
		json.NewEncoder(w).Encode(map[string]any{"KvsARN": arn, "ItemCount": len(f.kvs), "TotalSizeInBytes": 1})
	case r.Method == "GET":
		f.calls["ListKeys"]++
		var items []map[string]string
		for _, k := range slices.Sorted(maps.Keys(f.kvs)) {
			items = append(items, map[string]string{"Key": k, "Value": f.kvs[k]})
		}
		json.NewEncoder(w).Encode(map[string]any{"Items": items})
	default:
		f.calls["UpdateKeys"]++
		f.kvsARNs = append(f.kvsARNs, arn)
		if r.Header.Get("If-Match") != f.kvsETag {
			w.WriteHeader(409)
			json.NewEncoder(w).Encode(map[string]string{"__type": "ConflictException", "message": "stale ETag"})
			return
		}
		var in struct {
			Puts    []struct{ Key, Value string }
			Deletes []struct{ Key string }
		}
		json.Unmarshal(body, &in)
		for _, p := range in.Puts {
			f.kvs[p.Key] = p.Value
		}
		for _, d := range in.Deletes {
			delete(f.kvs, d.Key)
		}
		f.kvsETag = f.nextETag("K")
		w.Header().Set("ETag", f.kvsETag)
		json.NewEncoder(w).Encode(map[string]any{"ETag": f.kvsETag, "ItemCount": len(f.kvs), "TotalSizeInBytes": 1})
	}
}

// servePolicy stores the config XML the SDK sends and echoes it back.
func (f *CloudFront) servePolicy(w http.ResponseWriter, r *http.Request, path string, body []byte) {
	id := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(path, "/2020-05-31/response-headers-policy"), "/"), "/config")
	policyXML := func(id string, p *fakePolicy) string {
		return fmt.Sprintf(`<ResponseHeadersPolicy><Id>%s</Id><LastModifiedTime>2026-11-23T00:00:00Z</LastModifiedTime><ResponseHeadersPolicyConfig>%s</ResponseHeadersPolicyConfig></ResponseHeadersPolicy>`, id, p.inner)
	}
	w.Header().Set("Content-Type", "text/xml")
	switch {
	case r.Method == "GET" && id == "":
		f.calls["ListResponseHeadersPolicies"]++
		var items strings.Builder
		for _, pid := range sortedPolicyIDs(f.policies) {
			fmt.Fprintf(&items, `<ResponseHeadersPolicySummary><Type>custom</Type>%s</ResponseHeadersPolicySummary>`, policyXML(pid, f.policies[pid]))
		}
		fmt.Fprintf(w, `<ResponseHeadersPolicyList><MaxItems>100</MaxItems><Quantity>%d</Quantity><Items>%s</Items></ResponseHeadersPolicyList>`, len(f.policies), items.String())
	case r.Method == "POST":
		f.calls["CreateResponseHeadersPolicy"]++
		p := parsePolicy(body)
		p.etag = f.nextETag("P")
		pid := fmt.Sprintf("policy-%d", len(f.policies)+1)
		f.policies[pid] = p
		w.Header().Set("ETag", p.etag)
		w.WriteHeader(201)
		fmt.Fprint(w, policyXML(pid, p))
	case r.Method == "GET":
		f.calls["GetResponseHeadersPolicyConfig"]++
		p := f.policies[id]
		w.Header().Set("ETag", p.etag)
		fmt.Fprintf(w, `<ResponseHeadersPolicyConfig>%s</ResponseHeadersPolicyConfig>`, p.inner)
	case r.Method == "PUT":
		f.calls["UpdateResponseHeadersPolicy"]++
		if r.Header.Get("If-Match") != f.policies[id].etag {
			xmlError(w, 412, "PreconditionFailed", "stale policy ETag")
			return
		}
		p := parsePolicy(body)
		p.etag = f.nextETag("P")
		f.policies[id] = p
		w.Header().Set("ETag", p.etag)
		fmt.Fprint(w, policyXML(id, p))
	}
}

func parsePolicy(body []byte) *fakePolicy {
	var doc struct {
		Name string `xml:"Name"`
	}
	_ = xml.Unmarshal(body, &doc)
	s := string(body)
	start := strings.Index(s, "<ResponseHeadersPolicyConfig")
	s = s[start:]
	s = s[strings.Index(s, ">")+1 : strings.LastIndex(s, "</ResponseHeadersPolicyConfig>")]
	return &fakePolicy{name: doc.Name, inner: s}
}

func sortedPolicyIDs(m map[string]*fakePolicy) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func stageName(s string) string {
	if s == "" {
		return "DEVELOPMENT"
	}
	return s
}
