package publish

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
)

// fakeCloudFront speaks the part of CloudFront's 2020-05-31 REST-XML API
// that publish uses, so that the SDK's real client is tested against it.
type fakeCloudFront struct {
	mu       sync.Mutex
	busy     int // answer TooManyInvalidationsInProgress this many times
	pending  int // polls that answer InProgress before Completed
	batches  []invalidationBatch
	creates  int
	polls    int
	statuses map[string]int // polls left per invalidation
}

type invalidationBatch struct {
	CallerReference string   `xml:"CallerReference"`
	Paths           []string `xml:"Paths>Items>Path"`
	Quantity        int      `xml:"Paths>Quantity"`
}

func (f *fakeCloudFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	const pre = "/2020-05-31/distribution/E123/invalidation"
	switch {
	case r.Method == http.MethodPost && r.URL.Path == pre:
		f.creates++
		var b invalidationBatch
		if err := xml.NewDecoder(r.Body).Decode(&b); err != nil || b.Quantity != len(b.Paths) {
			cfError(w, 400, "MalformedInput", fmt.Sprintf("bad batch: %v", err))
			return
		}
		if f.busy > 0 {
			f.busy--
			cfError(w, 400, "TooManyInvalidationsInProgress", "Processing your request will cause you to exceed the maximum number of in-progress wildcard invalidations.")
			return
		}
		f.batches = append(f.batches, b)
		id := fmt.Sprintf("I%d", len(f.batches))
		f.statuses[id] = f.pending
		w.Header().Set("Location", "https://cloudfront.amazonaws.com"+pre+"/"+id)
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, invalidationXML(id, "InProgress", b))
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, pre+"/"):
		f.polls++
		id := strings.TrimPrefix(r.URL.Path, pre+"/")
		left, ok := f.statuses[id]
		if !ok {
			cfError(w, 404, "NoSuchInvalidation", "no such invalidation")
			return
		}
		status := "Completed"
		if left > 0 {
			status, f.statuses[id] = "InProgress", left-1
		}
		fmt.Fprint(w, invalidationXML(id, status, invalidationBatch{}))
	default:
		cfError(w, 404, "NoSuchDistribution", "unknown "+r.Method+" "+r.URL.Path)
	}
}

func invalidationXML(id, status string, b invalidationBatch) string {
	var items strings.Builder
	for _, p := range b.Paths {
		fmt.Fprintf(&items, "<Path>%s</Path>", p)
	}
	return fmt.Sprintf(`<?xml version="1.0"?><Invalidation xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/">`+
		`<Id>%s</Id><Status>%s</Status><CreateTime>2026-01-01T00:00:00Z</CreateTime><InvalidationBatch>`+
		`<Paths><Quantity>%d</Quantity><Items>%s</Items></Paths><CallerReference>%s</CallerReference>`+
		`</InvalidationBatch></Invalidation>`, id, status, len(b.Paths), items.String(), b.CallerReference)
}

func cfError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0"?><ErrorResponse xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/">`+
		`<Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>r1</RequestId></ErrorResponse>`, code, msg)
}

// startCloudFront returns the fake and an SDK client pointed at it.
func startCloudFront(t *testing.T) (*fakeCloudFront, *cloudfront.Client) {
	f := &fakeCloudFront{statuses: map[string]int{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	client := cloudfront.New(cloudfront.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""), HTTPClient: srv.Client()})
	return f, client
}

func withCDN(store *fakeStore, cf *cloudfront.Client, wait bool) func(*Options) {
	return func(o *Options) {
		o.clients = &testClients{store: store, cdn: cf}
		o.DistributionID, o.Wait = "E123", wait
		o.retryBackoff, o.pollInterval = time.Millisecond, time.Millisecond
	}
}

func TestInvalidationPaths(t *testing.T) {
	f, cf := startCloudFront(t)
	store := newFakeStore()
	mustPublish(t, store, testBake{basePath: "/agents", version: "1"}.write(t), withCDN(store, cf, false))
	if f.creates != 0 {
		t.Errorf("a first publish (only new files) invalidated %v", f.batches)
	}
	rep := mustPublish(t, store, testBake{basePath: "/agents", version: "2"}.write(t), withCDN(store, cf, false))
	want := []string{"/agents", "/agents/", "/agents/index.html"}
	if len(f.batches) != 1 || !reflect.DeepEqual(f.batches[0].Paths, want) {
		t.Fatalf("invalidated %+v, want one batch of %q", f.batches, want)
	}
	if rep.Result.Invalidation != "I1" || !strings.HasPrefix(f.batches[0].CallerReference, "studiobake-"+rep.Release) {
		t.Errorf("invalidation %q, caller reference %q", rep.Result.Invalidation, f.batches[0].CallerReference)
	}
	mustPublish(t, store, testBake{basePath: "/agents", version: "2"}.write(t), withCDN(store, cf, false))
	if f.creates != 1 {
		t.Errorf("a no-change publish invalidated: %d requests", f.creates)
	}
	// Only the (unhashed) favicon changes: only it is stale.
	mustPublish(t, store, testBake{basePath: "/agents", version: "2", favicon: "<svg/>"}.write(t), withCDN(store, cf, false))
	if got := f.batches[len(f.batches)-1]; !reflect.DeepEqual(got.Paths, []string{"/agents/mastra-dark-tile.svg"}) ||
		got.CallerReference == f.batches[0].CallerReference {
		t.Errorf("favicon change invalidated %+v", got)
	}
}

func TestInvalidationRetriesAndWaits(t *testing.T) {
	f, cf := startCloudFront(t)
	store := newFakeStore()
	mustPublish(t, store, testBake{version: "1"}.write(t))
	f.busy, f.pending = 2, 2
	rep := mustPublish(t, store, testBake{version: "2"}.write(t), withCDN(store, cf, true))
	if f.creates != 3 || len(f.batches) != 1 {
		t.Errorf("%d CreateInvalidation requests, %d created; want 3 and 1", f.creates, len(f.batches))
	}
	if f.polls != 3 {
		t.Errorf("%d GetInvalidation polls, want 3 (InProgress twice, then Completed)", f.polls)
	}
	if rep.Result.Requests.Invalidation != 6 {
		t.Errorf("invalidation requests counted %d, want 6", rep.Result.Requests.Invalidation)
	}
}

// A run whose invalidation fails leaves the new release live; the same
// publish run again invalidates what the failed run could not.
func TestInvalidationFailureIsFinishedByReRun(t *testing.T) {
	f, cf := startCloudFront(t)
	store := newFakeStore()
	mustPublish(t, store, testBake{version: "1"}.write(t))
	f.busy = 100
	v2 := testBake{version: "2"}
	if _, err := publishFake(t, store, v2.write(t), withCDN(store, cf, false)); err == nil ||
		!strings.Contains(err.Error(), "TooManyInvalidationsInProgress") {
		t.Fatalf("err = %v", err)
	}
	checkWhole(t, store, "", v2)
	f.busy = 0
	rep := mustPublish(t, store, v2.write(t), withCDN(store, cf, false))
	if len(f.batches) != 1 || !reflect.DeepEqual(f.batches[0].Paths, []string{"/", "/index.html"}) {
		t.Errorf("re-run invalidated %+v", f.batches)
	}
	if rep.Result.Requests.Put != 1 { // only the completed record
		t.Errorf("re-run made %d PUTs, want 1", rep.Result.Requests.Put)
	}
	if _, err := publishFake(t, store, v2.write(t), withCDN(store, cf, false)); err != nil || len(f.batches) != 1 {
		t.Errorf("a third run invalidated again: %v, %d", err, len(f.batches))
	}
}

func TestWaitStopsOnCancel(t *testing.T) {
	f, cf := startCloudFront(t)
	f.pending = 1 << 30
	c := &cdn{client: cf, dist: "E123", poll: time.Millisecond, report: &reporter{w: &strings.Builder{}}, count: new(int64)}
	id, err := c.invalidate(context.Background(), "r", []string{"/"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := c.waitDone(ctx, id); err == nil {
		t.Error("waitDone returned nil for a never-completing invalidation")
	}
}
