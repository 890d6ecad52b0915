package publish

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/studiobake/studiobake/build"
)

// The fault test drives publish and rollback through a proxy in front of a
// real S3 server that fails every request from the Nth on (for every N over
// a fault-free run, with and without the Nth taking effect), and kills the
// run's process (SIGKILL) at seeded random requests. After each fault it
// checks the live page's references and `releases`, then runs the same
// command once more and compares the result with a fault-free run's.
// STUDIOBAKE_FAULT_SEED replays a seed; STUDIOBAKE_FAULT_SOAK=N runs N times
// the kills (bench/faults.sh).

const faultHelperEnv = "STUDIOBAKE_FAULT_HELPER"

func TestMain(m *testing.M) {
	if spec := os.Getenv(faultHelperEnv); spec != "" {
		os.Exit(faultHelper(spec))
	}
	os.Exit(m.Run())
}

// faultCommand is one studiobake command of the fault test.
type faultCommand struct {
	Op       string `json:"op"` // publish or rollback
	Bucket   string `json:"bucket"`
	Dir      string `json:"dir,omitempty"`
	Endpoint string `json:"endpoint"`
}

func (c faultCommand) options() Options {
	return Options{Bucket: c.Bucket, Prefix: "agents", Dir: c.Dir, KeepReleases: 2, Version: "test",
		AWS: AWSOptions{EndpointURL: c.Endpoint, PathStyle: true, RequestTimeout: 20 * time.Second, MaxAttempts: 1}}
}

func (c faultCommand) run(ctx context.Context) error {
	var err error
	if c.Op == "rollback" {
		_, err = Rollback(ctx, c.options())
	} else {
		_, err = Run(ctx, c.options())
	}
	return err
}

// faultHelper runs one command in this process, which the test re-executes
// so that it can SIGKILL it.
func faultHelper(spec string) int {
	var c faultCommand
	if err := json.Unmarshal([]byte(spec), &c); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := c.run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "studiobake:", err)
		return 1
	}
	return 0
}

type faultScenario struct {
	name  string
	setup []string // bakes published first; "attempt:vN" stops before its page
	cmd   faultCommand
	bake  string // the bake the command publishes
}

// faultTally counts what the fault test found.
type faultTally struct {
	trials, violations, truthful, reached int
}

func TestFaultsOnS3(t *testing.T) {
	store := startStore(t)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("STUDIOBAKE_FAULT_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	soak := 1
	if s := os.Getenv("STUDIOBAKE_FAULT_SOAK"); s != "" {
		soak, _ = strconv.Atoi(s)
	}
	t.Logf("fault test on %s: seed %d (STUDIOBAKE_FAULT_SEED=%d replays it)", store.name, seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	bakes := map[string]testBake{}
	for i := range 4 {
		bakes[fmt.Sprint("v", i)] = testBake{basePath: "/agents", version: fmt.Sprint(i)}
	}
	dirs := writeBakes(t, bakes)
	scenarios := []faultScenario{
		{name: "publish", setup: []string{"v0", "v1"}, cmd: faultCommand{Op: "publish", Dir: dirs["v2"]}, bake: "v2"},
		{name: "rollback", setup: []string{"v0", "v1"}, cmd: faultCommand{Op: "rollback"}},
		{name: "publish after an attempt", setup: []string{"v0", "v1", "attempt:v2"},
			cmd: faultCommand{Op: "publish", Dir: dirs["v3"]}, bake: "v3"},
	}
	var all []testBake
	for _, b := range bakes {
		all = append(all, b)
	}
	var total faultTally
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			f := &faultRun{t: t, store: store, dirs: dirs, bakes: all, sc: sc}
			want, requests := f.reference()
			var trials []fault
			for n := 1; n <= requests; n++ {
				trials = append(trials, fault{outageFrom: n}, fault{outageFrom: n, lostAnswer: true})
			}
			for range requests * soak {
				trials = append(trials, fault{killAt: 1 + rng.IntN(requests), killAfter: rng.IntN(2) == 1})
			}
			var tally faultTally
			for _, fl := range trials {
				f.trial(fl, want, &tally)
			}
			t.Logf("%s: %d trials, %d invariant violations, releases truthful after %d, re-run reached the fault-free state in %d",
				sc.name, tally.trials, tally.violations, tally.truthful, tally.reached)
			total.trials += tally.trials
			total.violations += tally.violations
			total.truthful += tally.truthful
			total.reached += tally.reached
		})
	}
	t.Logf("fault test on %s (seed %d): %d trials, %d invariant violations, releases truthful after %d/%d faults (%.0f%%), "+
		"one re-run reached the fault-free state in %d/%d (%.0f%%)", store.name, seed, total.trials, total.violations,
		total.truthful, total.trials, pct(total.truthful, total.trials), total.reached, total.trials, pct(total.reached, total.trials))
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

// fault is one trial's fault: an outage from request outageFrom on (the
// request itself taking effect first with lostAnswer), or a SIGKILL at
// request killAt (before it is forwarded, or after it took effect).
type fault struct {
	outageFrom int
	lostAnswer bool
	killAt     int
	killAfter  bool
}

func (f fault) String() string {
	switch {
	case f.killAt > 0 && f.killAfter:
		return fmt.Sprintf("SIGKILL once request %d took effect", f.killAt)
	case f.killAt > 0:
		return fmt.Sprintf("SIGKILL at request %d", f.killAt)
	case f.lostAnswer:
		return fmt.Sprintf("outage from request %d, which takes effect", f.outageFrom)
	}
	return fmt.Sprintf("outage from request %d", f.outageFrom)
}

type faultRun struct {
	t     *testing.T
	store *s3Store
	dirs  map[string]string
	bakes []testBake
	sc    faultScenario
}

// prepare makes a bucket in the scenario's starting state, behind a proxy.
func (f *faultRun) prepare() (string, *s3Proxy) {
	t := f.t
	bucket := f.store.newBucket(t)
	p := startProxy(t, f.store.endpoint)
	for _, step := range f.sc.setup {
		name, attempt := strings.CutPrefix(step, "attempt:")
		if attempt {
			p.set(func(_ context.Context, _ int, op string) proxyAction {
				if op == "put agents/index.html" {
					return failBefore
				}
				return forward
			}, nil)
		}
		err := faultCommand{Op: "publish", Bucket: bucket, Dir: f.dirs[name], Endpoint: p.url}.run(context.Background())
		if (err != nil) != attempt {
			t.Fatalf("setup %s: %v", step, err)
		}
		p.set(nil, nil)
	}
	return bucket, p
}

// reference runs the command without faults and returns the state it
// leaves and the number of requests it made.
func (f *faultRun) reference() (string, int) {
	bucket, p := f.prepare()
	cmd := f.sc.cmd
	cmd.Bucket, cmd.Endpoint = bucket, p.url
	if err := cmd.run(context.Background()); err != nil {
		f.t.Fatalf("fault-free %s: %v", f.sc.name, err)
	}
	return f.store.normalState(f.t, bucket), p.requests()
}

// trial runs the command with one fault, checks, runs it again and
// compares.
func (f *faultRun) trial(fl fault, want string, tally *faultTally) {
	t := f.t
	tally.trials++
	bucket, p := f.prepare()
	cmd := f.sc.cmd
	cmd.Bucket, cmd.Endpoint = bucket, p.url
	errText := f.faulty(cmd, p, fl)
	problems, page := f.store.siteProblems(bucket, "agents/", f.bakes...)
	if len(problems) > 0 {
		tally.violations++
		t.Errorf("%s: after the fault (%s): %v", fl, errText, problems)
	}
	if truth := f.store.truthProblems(bucket, page, p.pageWritten); len(truth) > 0 {
		t.Errorf("%s: releases after the fault (%s): %v", fl, errText, truth)
	} else {
		tally.truthful++
	}
	p.set(nil, nil)
	if f.store.normalState(t, bucket) == want && f.sc.cmd.Op == "rollback" {
		// The run had finished all it does before the fault: a rollback
		// without --to run again goes back one more release, as it must.
		tally.reached++
		return
	}
	if err := cmd.run(context.Background()); err != nil {
		t.Errorf("%s: the same command run again failed: %v (the faulty run: %s)", fl, err, errText)
		return
	}
	if problems, _ := f.store.siteProblems(bucket, "agents/", f.bakes...); len(problems) > 0 {
		tally.violations++
		t.Errorf("%s: after the re-run: %v", fl, problems)
	}
	if got := f.store.normalState(t, bucket); got != want {
		t.Errorf("%s: after the re-run the store holds\n%s\nwhere a fault-free run leaves\n%s\n(the faulty run: %s)", fl, got, want, errText)
		return
	}
	tally.reached++
}

// faulty runs the command with the fault and returns how it ended. An
// outage runs it in this process; a kill, in a child process.
func (f *faultRun) faulty(cmd faultCommand, p *s3Proxy, fl fault) string {
	if fl.killAt == 0 {
		p.set(func(_ context.Context, n int, _ string) proxyAction {
			switch {
			case n == fl.outageFrom && fl.lostAnswer:
				return failAfter
			case n >= fl.outageFrom:
				return failBefore
			}
			return forward
		}, nil)
		return fmt.Sprint(cmd.run(context.Background()))
	}
	spec, _ := json.Marshal(cmd)
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), faultHelperEnv+"="+string(spec))
	var out strings.Builder
	child.Stdout, child.Stderr = &out, &out
	var proc atomic.Pointer[os.Process]
	kill := func() {
		if p := proc.Load(); p != nil {
			_ = p.Kill()
		}
	}
	p.set(func(_ context.Context, n int, _ string) proxyAction {
		if n == fl.killAt && !fl.killAfter {
			kill()
			return dropRequest
		}
		return forward
	}, func(n int, _ string, _ int) {
		if n == fl.killAt && fl.killAfter {
			kill()
		}
	})
	if err := child.Start(); err != nil {
		f.t.Fatal(err)
	}
	proc.Store(child.Process)
	err := child.Wait()
	return fmt.Sprintf("%v: %s", err, strings.TrimSpace(out.String()))
}

// normalState describes what a run leaves, without what differs between
// buckets and runs (release ids, times): the site's objects and ETags, and
// each release's state and file set, newest first; and any claim left.
func (s *s3Store) normalState(t *testing.T, bucket string) string {
	t.Helper()
	var lines []string
	for k, etag := range s.keys(t, bucket) {
		switch {
		case strings.Contains(k, runsDir):
			lines = append(lines, "claim left: "+k)
		case !strings.Contains(k, build.StateDir+"/"):
			lines = append(lines, k+" "+etag)
		}
	}
	sort.Strings(lines)
	rels, err := Releases(context.Background(), s.options(bucket, ""))
	if err != nil {
		t.Fatal(err)
	}
	for _, ri := range rels.Releases {
		kind := "publish"
		if ri.RollbackOf != "" {
			kind = "rollback"
		}
		lines = append(lines, fmt.Sprintf("release: %s %s page %.12s complete %v", ri.State, kind, ri.Page, ri.Complete))
	}
	return strings.Join(lines, "\n")
}
