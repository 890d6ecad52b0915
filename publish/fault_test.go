package publish

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/studiobake/studiobake/build"
)

func (f *fakeStore) clone() *fakeStore {
	c := newFakeStore()
	f.mu.Lock()
	defer f.mu.Unlock()
	c.writes = f.writes
	for k, o := range f.objects {
		c.objects[k] = o
	}
	return c
}

// checkWhole checks the invariant interruption must keep: the live entry
// page is one release's page and every asset it references exists.
func checkWhole(t *testing.T, store *fakeStore, prefix string, bakes ...testBake) {
	t.Helper()
	idx := store.get(prefix + "index.html")
	if idx == nil {
		t.Fatal("no live index.html")
	}
	known := false
	for _, b := range bakes {
		known = known || b.files()["index.html"] == string(idx.data)
	}
	if !known {
		t.Errorf("live index.html is no release's page:\n%s", idx.data)
	}
	for _, p := range referenced(idx.data) {
		if store.get(prefix+p) == nil {
			t.Errorf("live index.html references %s, which is missing", p)
		}
	}
}

// siteKeys lists the keys outside the state directory.
func siteKeys(store *fakeStore) string {
	var out []string
	for _, k := range store.keys() {
		if !strings.Contains(k, build.StateDir+"/") {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// TestFaultInjection fails every request of a publish in turn, before and
// after it takes effect, and cancels the run at every request: each time the
// site stays whole, and running the same publish again completes it, leaving
// exactly what an undisturbed run leaves.
func TestFaultInjection(t *testing.T) {
	v1 := testBake{basePath: "/agents", version: "1"}
	v2 := testBake{basePath: "/agents", version: "2"}
	dir1, dir2 := v1.write(t), v2.write(t)
	keep1 := func(o *Options) { o.KeepReleases = 1; o.Concurrency = 2 }

	base := newFakeStore()
	mustPublish(t, base, dir1, keep1)
	clean := base.clone()
	clean.reset()
	mustPublish(t, clean, dir2, keep1)
	want, total, log := siteKeys(clean), clean.calls, clean.log
	if total < 6 {
		t.Fatalf("a changed publish made only %d requests", total)
	}

	type fault struct {
		name  string
		n     int
		setup func(s *fakeStore, cancel context.CancelFunc)
	}
	var faults []fault
	for n := 1; n <= total; n++ {
		faults = append(faults,
			fault{fmt.Sprintf("request %d fails", n), n, func(s *fakeStore, _ context.CancelFunc) { s.failAt = n }},
			fault{fmt.Sprintf("request %d takes effect, then fails", n), n, func(s *fakeStore, _ context.CancelFunc) { s.failAt, s.failAfter = n, true }},
			fault{fmt.Sprintf("cancel at request %d", n), n, func(s *fakeStore, cancel context.CancelFunc) {
				s.onCall = func(i int) {
					if i == n {
						cancel()
					}
				}
			}},
		)
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			store := base.clone()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			f.setup(store, cancel)
			o := Options{Bucket: "site", Dir: dir2, clients: &testClients{store: store}}
			keep1(&o)
			_, err := Run(ctx, o)
			// The last request removes the claim: the release is done.
			lastRemovesClaim := f.n == total && strings.HasPrefix(log[f.n-1], "delete agents/"+runsDir)
			if err == nil && !lastRemovesClaim {
				t.Errorf("the run succeeded despite the fault")
			} else if m := fmt.Sprint(err); err != nil && !strings.Contains(m, "run the same publish again") && !strings.HasPrefix(m, "list") &&
				!strings.HasPrefix(m, "read release") && !strings.HasPrefix(m, "head") && !strings.HasPrefix(m, "read claim") {
				// Failures while planning change nothing; later ones say what to do.
				t.Errorf("the error does not say where the site stands: %v", err)
			} else if strings.HasPrefix(f.name, "cancel") && strings.Contains(m, "run the same") && !strings.Contains(m, "interrupted") && !lastRemovesClaim {
				t.Errorf("a cancelled run does not say it was interrupted: %v", err)
			}
			checkWhole(t, store, "agents/", v1, v2)

			store.reset()
			mustPublish(t, store, dir2, keep1)
			checkWhole(t, store, "agents/", v2)
			checkSite(t, store, "agents/", v2)
			if got := siteKeys(store); got != want {
				t.Errorf("after the re-run the bucket holds\n%s\nwant\n%s", got, want)
			}
			if n := countRecords(store, "agents/"); n != 1 {
				t.Errorf("%d release records, want 1", n)
			}
			store.reset()
			if rep := mustPublish(t, store, dir2, keep1); !rep.Result.UpToDate {
				t.Errorf("a third run is not up to date: %+v", rep.Plan)
			}
		})
	}
}

// TestCancelAtRandomTimes cancels publishes after random delays while
// requests are in flight (the requests take random time), then checks the
// same invariants as TestFaultInjection.
func TestCancelAtRandomTimes(t *testing.T) {
	v1 := testBake{basePath: "/agents", version: "1"}
	v2 := testBake{basePath: "/agents", version: "2"}
	dir1, dir2 := v1.write(t), v2.write(t)
	keep1 := func(o *Options) { o.KeepReleases = 1; o.Concurrency = 3 }
	base := newFakeStore()
	mustPublish(t, base, dir1, keep1)
	var interrupted atomic.Int32
	defer func() {
		// Most runs must really be interrupted, or the test shows nothing.
		if n := interrupted.Load(); n < 20 {
			t.Errorf("only %d of 40 runs were interrupted", n)
		}
	}()
	for seed := range uint64(40) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 1))
			store := base.clone()
			store.delay, store.rng = 2*time.Millisecond, rng
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rng.Int64N(int64(12*time.Millisecond))))
			defer cancel()
			o := Options{Bucket: "site", Dir: dir2, clients: &testClients{store: store}}
			keep1(&o)
			if _, err := Run(ctx, o); err != nil {
				interrupted.Add(1)
			}
			checkWhole(t, store, "agents/", v1, v2)
			store.reset()
			store.delay = 0
			mustPublish(t, store, dir2, keep1)
			checkSite(t, store, "agents/", v2)
			if n := countRecords(store, "agents/"); n != 1 {
				t.Errorf("%d release records, want 1", n)
			}
		})
	}
}

// TestConcurrentPublishes starts two publishes of different releases
// together (both list the bucket before either writes) with requests of
// random duration. They take turns: both succeed, the live page is one
// release's with every file it references, `releases` calls that one live,
// and a later run completes. One release reuses the live release's assets
// and the other expires them (one kept release): were they not to take
// turns, the second could delete files the first's page references.
func TestConcurrentPublishes(t *testing.T) {
	bakes := []testBake{{version: "1"}, {version: "1", favicon: "<svg/>"}, {version: "3"}}
	dirs := []string{bakes[0].write(t), bakes[1].write(t), bakes[2].write(t)}
	fast := func(o *Options) { o.Concurrency, o.KeepReleases, o.lease = 3, 1, 600*time.Millisecond }
	for seed := range uint64(12) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			store := newFakeStore()
			mustPublish(t, store, dirs[0])
			store.reset()
			store.delay, store.rng = 2*time.Millisecond, rand.New(rand.NewPCG(seed, 2))
			var listed sync.WaitGroup
			listed.Add(2)
			var lists atomic.Int32
			store.afterList = func() {
				if lists.Add(1) <= 2 { // each run's first LIST
					listed.Done()
					listed.Wait()
				}
			}
			errs := make(chan error, 2)
			for _, dir := range dirs[1:] {
				go func() {
					_, err := publishFake(t, store, dir, fast)
					errs <- err
				}()
			}
			if e1, e2 := <-errs, <-errs; e1 != nil || e2 != nil {
				t.Errorf("overlapping publishes failed: %v; %v", e1, e2)
			}
			checkWhole(t, store, "", bakes...)
			checkLiveTold(t, store, "")
			store.delay, store.afterList = 0, nil
			mustPublish(t, store, dirs[2], fast)
			checkWhole(t, store, "", bakes[2])
			checkSite(t, store, "", bakes[2])
		})
	}
}

// checkLiveTold checks that `releases` calls live the release whose page is
// served, and no other.
func checkLiveTold(t *testing.T, store *fakeStore, prefix string) {
	t.Helper()
	rels, err := Releases(context.Background(), Options{Bucket: "site", Prefix: "/" + prefix, clients: &testClients{store: store}})
	if err != nil {
		t.Fatal(err)
	}
	idx := store.get(prefix + "index.html")
	sum := sha256.Sum256(idx.data)
	live := 0
	for _, ri := range rels.Releases {
		if ri.Live {
			live++
			if ri.Page != hex.EncodeToString(sum[:]) {
				t.Errorf("releases calls %s live, whose page is not the one served", ri.ID)
			}
		}
	}
	if live != 1 || rels.Drift != "" {
		t.Errorf("releases: %d live, drift %q: %+v", live, rels.Drift, rels.Releases)
	}
}
