package publish

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/studiobake/studiobake/publish/cdn"
	"github.com/studiobake/studiobake/publish/cdn/cdntest"
)

// startCloudFront starts the httptest CloudFront.
func startCloudFront(t *testing.T) *cdntest.CloudFront { return cdntest.New(t) }

// fakeCDN is the SDK's real CloudFront and KeyValueStore clients pointed at
// the fake, as publish builds them.
func fakeCDN(f *cdntest.CloudFront) cdn.Clients {
	return cdn.Clients{CloudFront: cdn.CloudFrontClient(f.Client()), KVS: cdn.KVSClient(f.KVSClient())}
}

func withCDN(store *fakeStore, f *cdntest.CloudFront, wait bool) func(*Options) {
	return func(o *Options) {
		o.clients = &testClients{store: store, cdn: fakeCDN(f)}
		o.DistributionID, o.Wait = cdntest.DistributionID, wait
		o.retryBackoff, o.pollInterval = time.Millisecond, time.Millisecond
	}
}

func TestInvalidationPaths(t *testing.T) {
	f := startCloudFront(t)
	store := newFakeStore()
	mustPublish(t, store, testBake{basePath: "/agents", version: "1"}.write(t), withCDN(store, f, false))
	if f.Count("CreateInvalidation") != 0 {
		t.Errorf("a first publish (only new files) invalidated %v", f.Batches())
	}
	rep := mustPublish(t, store, testBake{basePath: "/agents", version: "2"}.write(t), withCDN(store, f, false))
	want := []string{"/agents", "/agents/", "/agents/index.html"}
	if len(f.Batches()) != 1 || !reflect.DeepEqual(f.Batches()[0].Paths, want) {
		t.Fatalf("invalidated %+v, want one batch of %q", f.Batches(), want)
	}
	if rep.Result.Invalidation != "I1" || !strings.HasPrefix(f.Batches()[0].CallerReference, "studiobake-"+rep.Release) {
		t.Errorf("invalidation %q, caller reference %q", rep.Result.Invalidation, f.Batches()[0].CallerReference)
	}
	mustPublish(t, store, testBake{basePath: "/agents", version: "2"}.write(t), withCDN(store, f, false))
	if f.Count("CreateInvalidation") != 1 {
		t.Errorf("a no-change publish invalidated: %d requests", f.Count("CreateInvalidation"))
	}
	// Only the (unhashed) favicon changes: only it is stale.
	mustPublish(t, store, testBake{basePath: "/agents", version: "2", favicon: "<svg/>"}.write(t), withCDN(store, f, false))
	if got := f.Batches()[len(f.Batches())-1]; !reflect.DeepEqual(got.Paths, []string{"/agents/mastra-dark-tile.svg"}) ||
		got.CallerReference == f.Batches()[0].CallerReference {
		t.Errorf("favicon change invalidated %+v", got)
	}
}

func TestInvalidationRetriesAndWaits(t *testing.T) {
	f := startCloudFront(t)
	store := newFakeStore()
	mustPublish(t, store, testBake{version: "1"}.write(t))
	f.Busy, f.Pending = 2, 2
	rep := mustPublish(t, store, testBake{version: "2"}.write(t), withCDN(store, f, true))
	if f.Count("CreateInvalidation") != 3 || len(f.Batches()) != 1 {
		t.Errorf("%d CreateInvalidation requests, %d created; want 3 and 1", f.Count("CreateInvalidation"), len(f.Batches()))
	}
	if f.Count("GetInvalidation") != 3 {
		t.Errorf("%d GetInvalidation polls, want 3 (InProgress twice, then Completed)", f.Count("GetInvalidation"))
	}
	if rep.Result.Requests.Invalidation != 6 {
		t.Errorf("invalidation requests counted %d, want 6", rep.Result.Requests.Invalidation)
	}
}

// A run whose invalidation fails leaves the new release live; the same
// publish run again invalidates what the failed run could not.
func TestInvalidationFailureIsFinishedByReRun(t *testing.T) {
	f := startCloudFront(t)
	store := newFakeStore()
	mustPublish(t, store, testBake{version: "1"}.write(t))
	f.Busy = 100
	v2 := testBake{version: "2"}
	if _, err := publishFake(t, store, v2.write(t), withCDN(store, f, false)); err == nil ||
		!strings.Contains(err.Error(), "TooManyInvalidationsInProgress") {
		t.Fatalf("err = %v", err)
	}
	checkWhole(t, store, "", v2)
	f.Busy = 0
	rep := mustPublish(t, store, v2.write(t), withCDN(store, f, false))
	if len(f.Batches()) != 1 || !reflect.DeepEqual(f.Batches()[0].Paths, []string{"/", "/index.html"}) {
		t.Errorf("re-run invalidated %+v", f.Batches())
	}
	if rep.Result.Requests.Put != 1 { // only the completed record
		t.Errorf("re-run made %d PUTs, want 1", rep.Result.Requests.Put)
	}
	if _, err := publishFake(t, store, v2.write(t), withCDN(store, f, false)); err != nil || len(f.Batches()) != 1 {
		t.Errorf("a third run invalidated again: %v, %d", err, len(f.Batches()))
	}
}

// TestUnknownDistributionChangesNothing: a wrong --distribution-id is found
// by a read before the first write, not after the release is live.
func TestUnknownDistributionChangesNothing(t *testing.T) {
	f := startCloudFront(t)
	store := newFakeStore()
	dir := testBake{basePath: "/agents", version: "1"}.write(t)
	_, err := Run(context.Background(), Options{Bucket: "site", Dir: dir, Version: "test", clients: &testClients{store: store, cdn: cdn.Clients{CloudFront: cdn.CloudFrontClient(f.Client())}},
		DistributionID: "EWRONG"})
	if err == nil || !strings.Contains(err.Error(), "--distribution-id EWRONG: cannot read the distribution, so nothing was changed") {
		t.Fatalf("err = %v", err)
	}
	if len(store.objects) != 0 {
		t.Fatalf("objects written before the distribution was checked: %d", len(store.objects))
	}
}
