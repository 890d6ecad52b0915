package publish

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func (f *fakeStore) clone() *fakeStore {
	c := newFakeStore()
	f.mu.Lock()
	defer f.mu.Unlock()
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
		if !strings.Contains(k, releasesDir) {
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
	mustPublish(t, clean, dir2, keep1)
	want, total := siteKeys(clean), clean.calls
	if total < 6 {
		t.Fatalf("a changed publish made only %d requests", total)
	}

	type fault struct {
		name  string
		setup func(s *fakeStore, cancel context.CancelFunc)
	}
	var faults []fault
	for n := 1; n <= total; n++ {
		faults = append(faults,
			fault{fmt.Sprintf("request %d fails", n), func(s *fakeStore, _ context.CancelFunc) { s.failAt = n }},
			fault{fmt.Sprintf("request %d takes effect, then fails", n), func(s *fakeStore, _ context.CancelFunc) { s.failAt, s.failAfter = n, true }},
			fault{fmt.Sprintf("cancel at request %d", n), func(s *fakeStore, cancel context.CancelFunc) {
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
			if err == nil {
				t.Errorf("the run succeeded despite the fault")
			} else if m := err.Error(); !strings.Contains(m, "run the same publish again") && !strings.HasPrefix(m, "list") &&
				!strings.HasPrefix(m, "read release") && !strings.HasPrefix(m, "head") {
				// Failures while planning change nothing; later ones say what to do.
				t.Errorf("the error does not say where the site stands: %v", err)
			} else if strings.HasPrefix(f.name, "cancel") && strings.Contains(m, "run the same") && !strings.Contains(m, "interrupted") {
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
// random duration: whichever runs stop, the live page is one release's and
// every file it references exists, and a later run completes. One release
// reuses the live release's assets and the other expires them (one kept
// release): unchecked, the second deletes files the first's page references.
func TestConcurrentPublishes(t *testing.T) {
	bakes := []testBake{{version: "1"}, {version: "1", favicon: "<svg/>"}, {version: "3"}}
	dirs := []string{bakes[0].write(t), bakes[1].write(t), bakes[2].write(t)}
	for seed := range uint64(30) {
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
					_, err := Run(context.Background(), Options{Bucket: "site", Dir: dir, Concurrency: 3,
						KeepReleases: 1, clients: &testClients{store: store}})
					errs <- err
				}()
			}
			e1, e2 := <-errs, <-errs
			if e1 == nil && e2 == nil {
				t.Errorf("both overlapping publishes went through")
			}
			checkWhole(t, store, "", bakes...)
			store.delay, store.afterList = 0, nil
			mustPublish(t, store, dirs[2])
			checkWhole(t, store, "", bakes[2])
			checkSite(t, store, "", bakes[2])
		})
	}
}
