package publish

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The concurrency test: two runs on one prefix of a real S3 server, each
// through its own proxy, which holds chosen requests so that each
// interleaving happens on every run of the test. After both end, the live
// page must be whole, `releases` must tell the truth, and the page must be
// the one the interleaving implies.

var overlapBakes = map[string]testBake{
	"v0": {basePath: "/agents", version: "0"},
	"v1": {basePath: "/agents", version: "1"},
	"v2": {basePath: "/agents", version: "2"},
}

// overlapRun is a publish or rollback running in the background.
type overlapRun struct {
	proxy *s3Proxy
	rep   *Report
	err   error
	out   bytes.Buffer // the reporter serialises writes; read once the run ended
	done  chan struct{}
}

type overlapCase struct {
	store  *s3Store
	bucket string
	dirs   map[string]string
	tally  *overlapTally
}

// overlapTally counts the interleavings and what their ends broke.
type overlapTally struct{ cases, violations, untruthful int }

func newOverlapCase(t *testing.T, store *s3Store, dirs map[string]string, tally *overlapTally, setup []string,
	mods ...func(*Options)) *overlapCase {
	tally.cases++
	c := &overlapCase{store: store, bucket: store.newBucket(t), dirs: dirs, tally: tally}
	for _, name := range setup {
		o := store.options(c.bucket, "", append(mods, func(o *Options) { o.Dir = dirs[name] })...)
		if _, err := Run(context.Background(), o); err != nil {
			t.Fatalf("setup publish %s: %v", name, err)
		}
	}
	return c
}

// launch starts a run ("rollback", or the name of a bake to publish)
// through its own proxy, whose requests before decides.
func (c *overlapCase) launch(t *testing.T, what string, before func(context.Context, int, string) proxyAction,
	mods ...func(*Options)) *overlapRun {
	r := &overlapRun{proxy: startProxy(t, c.store.endpoint), done: make(chan struct{})}
	r.proxy.set(before, nil)
	// A short lease: a waiting run looks again every lease/6.
	quick := func(o *Options) { o.lease, o.Stdout = 3*time.Second, &r.out }
	o := c.store.options(c.bucket, r.proxy.url, append([]func(*Options){quick}, mods...)...)
	go func() {
		defer close(r.done)
		if what == "rollback" {
			r.rep, r.err = Rollback(context.Background(), o)
			return
		}
		o.Dir = c.dirs[what]
		r.rep, r.err = Run(context.Background(), o)
	}()
	return r
}

func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(90 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// wrote reports whether the run's proxy saw a write other than claims.
func (r *overlapRun) wrote() bool {
	r.proxy.mu.Lock()
	defer r.proxy.mu.Unlock()
	for _, op := range r.proxy.ops {
		if (strings.HasPrefix(op, "put ") || strings.HasPrefix(op, "delete ")) && !strings.Contains(op, runsDir) {
			return true
		}
	}
	return false
}

// finish checks the site after both runs ended: whole, told truthfully,
// serving want, with no claim left.
func (c *overlapCase) finish(t *testing.T, want string) {
	t.Helper()
	var all []testBake
	for _, b := range overlapBakes {
		all = append(all, b)
	}
	problems, page := c.store.siteProblems(c.bucket, "agents/", all...)
	if len(problems) > 0 {
		c.tally.violations++
	}
	if truth := c.store.truthProblems(c.bucket, page, nil); len(truth) > 0 {
		c.tally.untruthful++
		problems = append(problems, truth...)
	}
	if got := c.store.get(c.bucket, "agents/index.html"); string(got) != overlapBakes[want].files()["index.html"] {
		problems = append(problems, "the live page is not "+want+"'s")
	}
	for k := range c.store.keys(t, c.bucket) {
		if strings.Contains(k, runsDir) {
			problems = append(problems, "a claim is left: "+k)
		}
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// signalOn returns a before hook that forwards everything and closes ch
// at the nth request matching match.
func signalOn(match func(string) bool, nth int, ch chan struct{}) func(context.Context, int, string) proxyAction {
	var mu sync.Mutex
	seen := 0
	return func(_ context.Context, _ int, op string) proxyAction {
		mu.Lock()
		defer mu.Unlock()
		if match(op) {
			if seen++; seen == nth {
				close(ch)
			}
		}
		return forward
	}
}

func isEntryPut(op string) bool    { return op == "put agents/index.html" }
func isAssetDelete(op string) bool { return strings.HasPrefix(op, "delete agents/assets/") }
func isList(op string) bool        { return strings.HasPrefix(op, "list ") }

func TestOverlappingRuns(t *testing.T) {
	store := startStore(t)
	dirs := writeBakes(t, overlapBakes)
	tally := &overlapTally{}
	defer func() {
		t.Logf("concurrency test on %s: %d interleavings, %d invariant violations, releases truthful after %d",
			store.name, tally.cases, tally.violations, tally.cases-tally.untruthful)
	}()
	mustEnd := func(t *testing.T, runs ...*overlapRun) {
		t.Helper()
		for _, r := range runs {
			waitFor(t, r.done, "a run to end")
			if r.err != nil {
				t.Errorf("run failed: %v\n%s", r.err, r.out.String())
			}
		}
	}

	// A re-run of the live bake while a new bake's run is about to switch
	// the page: the re-run sees the run in flight, has nothing to change,
	// and writes nothing; the new bake goes live.
	t.Run("new bake; re-run of the live bake while it switches", func(t *testing.T) {
		c := newOverlapCase(t, store, dirs, tally, []string{"v0"})
		g := newGate(isEntryPut)
		a := c.launch(t, "v1", g.hold, func(o *Options) { o.Dir = dirs["v1"] })
		waitFor(t, g.reached, "the new bake's entry page")
		b := c.launch(t, "v0", nil)
		mustEnd(t, b)
		if b.rep == nil || !b.rep.Result.UpToDate || b.wrote() {
			t.Errorf("the re-run of the live bake changed the prefix: %+v", b.rep)
		}
		g.open()
		mustEnd(t, a)
		c.finish(t, "v1")
	})

	// The second run starts while the first is at a chosen request
	// (deleting the old release's files, or switching the page): it waits,
	// then plans again from what the first left. A re-run of the old live
	// bake and a revert upload the files the first run deleted; a rollback
	// goes back from the release the first made live.
	for _, tc := range []struct {
		name, first, second, want string
		setup                     []string
		keep                      int
		at                        func(op string) bool
	}{
		{"new bake deleting; re-run of the old live bake", "v1", "v0", "v0", []string{"v0"}, 1, isAssetDelete},
		{"new bake deleting; revert to the bake it deletes", "v2", "v0", "v0", []string{"v0", "v1"}, 2, isAssetDelete},
		{"new bake deleting; rollback", "v2", "rollback", "v1", []string{"v0", "v1"}, 2, isAssetDelete},
		{"revert switching; new bake", "v0", "v2", "v2", []string{"v0", "v1"}, 2, isEntryPut},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keep := func(o *Options) { o.KeepReleases = tc.keep }
			c := newOverlapCase(t, store, dirs, tally, tc.setup, keep)
			g := newGate(tc.at)
			a := c.launch(t, tc.first, g.hold, keep)
			waitFor(t, g.reached, "the first run's chosen request")
			looked := make(chan struct{})
			b := c.launch(t, tc.second, signalOn(isList, 2, looked), keep)
			waitFor(t, looked, "the second run to look again")
			g.open()
			mustEnd(t, a, b)
			if b.rep.Result.Waited == 0 {
				t.Errorf("the second run did not wait for the first")
			}
			c.finish(t, tc.want)
		})
	}

	// Two new bakes claim at the same moment, list after both claimed and
	// read each other's claim before either backs off: each sees the other,
	// both back off, and they take turns.
	t.Run("two new bakes claim together", func(t *testing.T) {
		c := newOverlapCase(t, store, dirs, tally, []string{"v0"})
		claimed, relisted, read, backedOff := newBarrier(2), newBarrier(2), newBarrier(2), newBarrier(2)
		hook := func() func(context.Context, int, string) proxyAction {
			var mu sync.Mutex
			phase := 0
			return func(_ context.Context, _ int, op string) proxyAction {
				mu.Lock()
				defer mu.Unlock()
				switch {
				case phase == 0 && strings.HasPrefix(op, "put agents/"+runsDir):
					phase = 1
					claimed.arrive()
				case phase == 1 && isList(op):
					phase = 2
					relisted.arrive()
				case phase == 2 && strings.HasPrefix(op, "get agents/"+runsDir):
					phase = 3
					read.arrive()
				case phase == 3 && strings.HasPrefix(op, "delete agents/"+runsDir):
					phase = 4
					backedOff.arrive()
				}
				return forward
			}
		}
		// Runs on two machines: each sees the other's claim as live.
		a := c.launch(t, "v1", hook(), func(o *Options) { o.machine = "host-a" })
		b := c.launch(t, "v2", hook(), func(o *Options) { o.machine = "host-b" })
		mustEnd(t, a, b)
		if a.rep.Result.Waited == 0 || b.rep.Result.Waited == 0 {
			t.Errorf("runs that saw each other's claims did not both back off: waited %.2fs, %.2fs\n%s\n%q\n%s\n%q",
				a.rep.Result.Waited, b.rep.Result.Waited, a.out.String(), a.proxy.ops, b.out.String(), b.proxy.ops)
		}
		// The run that switched last is live.
		last := "v1"
		if b.rep.Result.Release > a.rep.Result.Release {
			last = "v2"
		}
		c.finish(t, last)
	})

	// A run on another machine frozen (every request held) past its lease:
	// the other run takes the prefix over once the claim has gone a lease
	// unrenewed, and publishes; the frozen run's held changes never land,
	// and it stops saying it lost its claim.
	t.Run("a frozen run is taken over", func(t *testing.T) {
		const lease = 1200 * time.Millisecond
		c := newOverlapCase(t, store, dirs, tally, []string{"v0"})
		g := newGate(isEntryPut)
		a := c.launch(t, "v1", g.hold, func(o *Options) { o.lease, o.machine = lease, "frozen-host" })
		waitFor(t, g.reached, "the frozen run's entry page")
		b := c.launch(t, "v2", nil, func(o *Options) { o.lease = lease })
		mustEnd(t, b)
		if b.rep.Result.Seconds < lease.Seconds() || b.rep.Result.Waited == 0 {
			t.Errorf("took the frozen run's claim over after %.2fs, before a lease (%s)", b.rep.Result.Seconds, lease)
		}
		g.open()
		waitFor(t, a.done, "the frozen run to end")
		if a.err == nil || !strings.Contains(a.err.Error(), "lost its claim") {
			t.Errorf("the frozen run: %v", a.err)
		}
		c.finish(t, "v2")
	})
}

// barrier lets n goroutines through together.
type barrier struct {
	mu   sync.Mutex
	n    int
	done chan struct{}
}

func newBarrier(n int) *barrier { return &barrier{n: n, done: make(chan struct{})} }

func (b *barrier) arrive() {
	b.mu.Lock()
	if b.n--; b.n == 0 {
		close(b.done)
	}
	b.mu.Unlock()
	select {
	case <-b.done:
	case <-time.After(30 * time.Second):
	}
}

// The store honours the entry page's If-Match: a writer that takes no claim
// and replaces index.html while a publish runs is not overwritten, and the
// publish stops before its release goes live.
func TestS3EntryWriteIsConditional(t *testing.T) {
	store := startStore(t)
	dirs := writeBakes(t, overlapBakes)
	c := newOverlapCase(t, store, dirs, &overlapTally{}, []string{"v0"})
	theirs := "<!doctype html><p>replaced by hand</p>\n"
	var once sync.Once
	r := c.launch(t, "v1", func(ctx context.Context, _ int, op string) proxyAction {
		if isEntryPut(op) {
			once.Do(func() {
				_, err := store.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(c.bucket),
					Key: aws.String("agents/index.html"), Body: strings.NewReader(theirs)})
				if err != nil {
					t.Error(err)
				}
			})
		}
		return forward
	})
	waitFor(t, r.done, "the publish to end")
	if r.err == nil || !strings.Contains(r.err.Error(), "index.html changed since this run listed it") {
		t.Errorf("err = %v", r.err)
	}
	if got := string(store.get(c.bucket, "agents/index.html")); got != theirs {
		t.Errorf("the other writer's index.html was overwritten: %q", got)
	}
}
