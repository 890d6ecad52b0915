package publish

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/studiobake/studiobake/build"
	"github.com/studiobake/studiobake/publish/cdn/cdntest"
)

func failEntry(op string) bool { return op == "put index.html" }

func releasesOf(t *testing.T, store *fakeStore) *ReleasesReport {
	t.Helper()
	rels, err := Releases(context.Background(), Options{Bucket: "site", clients: &testClients{store: store}})
	if err != nil {
		t.Fatal(err)
	}
	return rels
}

// states lists "id state" of each release, newest first.
func states(rels *ReleasesReport) []string {
	var out []string
	for _, ri := range rels.Releases {
		out = append(out, ri.State)
	}
	return out
}

// A publish that stops after its record and before its entry page leaves a
// release that never went live: `releases` says so, and that the earlier
// release is live; the error says so too; the same publish run again
// finishes that release.
func TestReleasesTellsWhatIsLive(t *testing.T) {
	store := newFakeStore()
	v1, v2 := testBake{version: "1"}, testBake{version: "2"}
	first := mustPublish(t, store, v1.write(t))
	store.failOn = failEntry
	_, err := publishFake(t, store, v2.write(t))
	if err == nil || !strings.Contains(err.Error(), "the site still serves release "+first.Release) ||
		!strings.Contains(err.Error(), "run the same publish again to finish it") {
		t.Fatalf("err = %v", err)
	}
	rels := releasesOf(t, store)
	if got := states(rels); strings.Join(got, ",") != "never went live,live" || rels.Live != first.Release {
		t.Errorf("states %q, live %s; want the new release never live and %s live", got, rels.Live, first.Release)
	}
	attempt := rels.Releases[0].ID
	store.reset()
	rep := mustPublish(t, store, v2.write(t))
	if rep.Release != attempt {
		t.Errorf("the re-run made release %s, want it to finish %s", rep.Release, attempt)
	}
	if got := states(releasesOf(t, store)); strings.Join(got, ",") != "live,was live" {
		t.Errorf("after the re-run: %q", got)
	}
	checkSite(t, store, "", v2)
}

// With three kept releases and d1 live, two publishes that stop before going
// live take no retention slot: the next publish keeps d1's files (open tabs
// still run it) and removes the attempts' records and their own new files.
func TestRetentionCountsOnlyReleasesThatWereLive(t *testing.T) {
	store := newFakeStore()
	d1 := testBake{version: "1"}
	mustPublish(t, store, d1.write(t))
	for _, v := range []string{"2", "3"} {
		store.failOn = failEntry
		if _, err := publishFake(t, store, testBake{version: v}.write(t)); err == nil {
			t.Fatal("the publish went through despite the fault")
		}
	}
	store.reset()
	d4 := testBake{version: "4"}
	mustPublish(t, store, d4.write(t))
	checkSite(t, store, "", d4)
	for p := range d1.files() {
		if store.get(p) == nil {
			t.Errorf("%s of the release live until now was deleted", p)
		}
	}
	for _, v := range []string{"2", "3"} {
		for p := range (testBake{version: v}).files() {
			if strings.HasPrefix(p, "assets/") && !strings.Contains(p, "vendor") && store.get(p) != nil {
				t.Errorf("%s of an attempt that never went live is left", p)
			}
		}
	}
	if got := states(releasesOf(t, store)); strings.Join(got, ",") != "live,was live" {
		t.Errorf("records: %q, want d4 live and d1", got)
	}
}

// A rollback that stops after its record is finished by the same command:
// it does not go back one more release.
func TestInterruptedRollbackIsFinishedByTheSameCommand(t *testing.T) {
	bakes := []testBake{{version: "1"}, {version: "2"}, {version: "3"}}
	for _, stop := range []struct {
		name string
		set  func(s *fakeStore, f *cdntest.CloudFront)
	}{
		{"before the entry page", func(s *fakeStore, _ *cdntest.CloudFront) { s.failOn = failEntry }},
		{"after the entry page", func(_ *fakeStore, f *cdntest.CloudFront) { f.Busy = 1000 }}, // invalidation fails
	} {
		t.Run(stop.name, func(t *testing.T) {
			store, f := newFakeStore(), startCloudFront(t)
			var last *Report
			for _, b := range bakes {
				last = mustPublish(t, store, b.write(t), withCDN(store, f, false))
			}
			o := Options{Bucket: "site"}
			withCDN(store, f, false)(&o)
			stop.set(store, f)
			_, err := Rollback(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), "run the same rollback again") {
				t.Fatalf("err = %v", err)
			}
			if stop.name == "before the entry page" && !strings.Contains(err.Error(), "serves release "+last.Release) {
				t.Errorf("err = %v, want it to name the live release", err)
			}
			store.reset()
			f.Busy = 0
			if _, err := Rollback(context.Background(), o); err != nil {
				t.Fatal(err)
			}
			checkSite(t, store, "", bakes[1])
			rels := releasesOf(t, store)
			if len(rels.Releases) != 4 || rels.Releases[0].State != StateLive || !rels.Releases[0].Complete ||
				rels.Releases[0].Target != rels.Releases[2].ID {
				t.Errorf("after the re-run: %+v", rels.Releases)
			}
		})
	}
}

// Nothing says "the previous release" where there was none.
func TestNoPreviousReleaseIsNotClaimed(t *testing.T) {
	store := newFakeStore()
	store.failOn = failEntry
	_, err := publishFake(t, store, testBake{version: "1"}.write(t))
	if err == nil || strings.Contains(err.Error(), "previous") || !strings.Contains(err.Error(), "no index.html is served") {
		t.Errorf("first publish stopped before its page: %v", err)
	}
	if rels := releasesOf(t, store); rels.Live != "" || rels.Releases[0].State != StateNotLive || rels.Drift == "" {
		t.Errorf("releases: %+v", rels)
	}
	store.reset()
	mustPublish(t, store, testBake{version: "1"}.write(t))
	_, err = Rollback(context.Background(), Options{Bucket: "site", clients: &testClients{store: store}})
	if err == nil || !strings.Contains(err.Error(), "no earlier release") {
		t.Errorf("rollback of the only release: %v", err)
	}
}

// A page that is no release's (restored by hand) is drift: `releases` says
// so and calls nothing live, and a publish deletes nothing until its own
// release is live.
func TestDriftIsReportedAndHoldsDeletes(t *testing.T) {
	store := newFakeStore()
	v1 := testBake{version: "1"}
	mustPublish(t, store, v1.write(t), func(o *Options) { o.KeepReleases = 1 })
	old := *store.get("index.html")
	mustPublish(t, store, testBake{version: "2"}.write(t), func(o *Options) { o.KeepReleases = 1 })
	store.objects["index.html"] = &old // release 1's page, whose record is gone
	rels := releasesOf(t, store)
	if rels.Live != "" || !strings.Contains(rels.Drift, "no release's page") || rels.Releases[0].State != StateNotLive {
		t.Errorf("releases with a page of no release: %+v", rels)
	}
	var out bytes.Buffer
	rep := mustPublish(t, store, testBake{version: "3"}.write(t), func(o *Options) { o.KeepReleases, o.Stdout = 1, &out })
	if len(rep.Plan.Deletes) != 0 || !strings.Contains(out.String(), "nothing is deleted until a release is live") {
		t.Errorf("a publish over drift deleted %v; output %s", rep.Plan.Deletes, out.String())
	}
	// Once a release is live again, what no kept release needs goes.
	v4 := testBake{version: "4"}
	mustPublish(t, store, v4.write(t), func(o *Options) { o.KeepReleases = 1 })
	if n := len(siteKeysOf(store)); n != len(v4.files()) {
		t.Errorf("after a release went live again, %d site objects, want %d: %q", n, len(v4.files()), siteKeysOf(store))
	}
}

func siteKeysOf(store *fakeStore) []string {
	var out []string
	for _, k := range store.keys() {
		if !strings.HasPrefix(k, build.StateDir+"/") {
			out = append(out, k)
		}
	}
	return out
}

// The entry page is written only while it is the page the run planned
// against: a writer that takes no claim is never overwritten unseen. A
// store without conditional writes gets the page without conditions.
func TestEntryPageWriteIsConditional(t *testing.T) {
	store := newFakeStore()
	mustPublish(t, store, testBake{version: "1"}.write(t))
	theirs := &fakeObject{data: []byte("<!doctype html><p>theirs"), etag: "t", meta: map[string]string{}}
	store.beforeCall = func(op string) {
		if op == "put index.html" {
			store.mu.Lock()
			store.objects["index.html"] = theirs
			store.mu.Unlock()
		}
	}
	_, err := publishFake(t, store, testBake{version: "2"}.write(t))
	if err == nil || !strings.Contains(err.Error(), "index.html changed since this run listed it") {
		t.Fatalf("err = %v", err)
	}
	if got := store.get("index.html"); got != theirs {
		t.Errorf("the other writer's page was overwritten")
	}

	store = newFakeStore()
	store.refuseConditions = true
	var out bytes.Buffer
	mustPublish(t, store, testBake{version: "1"}.write(t), func(o *Options) { o.Stdout = &out })
	checkSite(t, store, "", testBake{version: "1"})
	if !strings.Contains(out.String(), "does not implement conditional writes") {
		t.Errorf("the fallback was not reported: %s", out.String())
	}
}
