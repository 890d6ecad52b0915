package publish

import (
	"context"
	"errors"
	"fmt"
	"github.com/studiobake/studiobake/build"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/studiobake/studiobake/publish/cdn"
)

// runner is one publish, rollback or listing against one bucket prefix.
type runner struct {
	o       *Options
	sess    *session
	counts  *countingStore
	cf      *cdn.Invalidator
	cdn     cdn.Clients
	gate    *cdn.Options // the gate deploy, when publish deploys one
	rep     *reporter
	result  *Result
	start   time.Time
	claim   *claim
	op      string                  // "publish" or "rollback", for messages
	records map[string]cachedRecord // records read, by id
	noted   map[string]bool         // notes printed once per run
	// noConditional: the store answered that it does not implement
	// conditional writes; the entry page is then written without them.
	noConditional bool
}

// testClients lets tests put fakes behind the narrow interfaces.
type testClients struct {
	store  objectStore
	cdn    cdn.Clients
	stacks cdn.StacksAPI
}

// connect loads AWS configuration and builds the clients; every failure
// here happens before anything is changed.
func connect(ctx context.Context, o *Options, prefix, op string) (*runner, error) {
	r := &runner{o: o, rep: newReporter(o), result: &Result{}, start: o.now(), op: op,
		records: map[string]cachedRecord{}, noted: map[string]bool{}}
	var store objectStore
	if o.clients != nil {
		store, r.cdn = o.clients.store, o.clients.cdn
	} else {
		cfg, err := LoadAWSConfig(ctx, o.AWS)
		if err != nil {
			return nil, err
		}
		client, err := newS3Client(ctx, &cfg, o.AWS, o.Bucket, r.rep.retrying)
		if err != nil {
			return nil, err
		}
		store = client
		if o.DistributionID != "" || o.Gate != nil {
			r.cdn = cdn.NewClients(cfg, noteRetries("CloudFront", r.rep.retrying))
		}
	}
	r.counts = &countingStore{objectStore: store, n: &r.result.Requests}
	r.sess = &session{store: r.counts, bucket: o.Bucket, prefix: prefix, conc: o.Concurrency}
	r.claim = newClaim(store, &r.result.Requests.Claim, o.Bucket, prefix, o.lease, r.rep)
	r.claim.body.Op = op
	if o.machine != "" {
		r.claim.body.Machine = o.machine
	}
	if r.cdn.CloudFront != nil && o.DistributionID != "" {
		r.cf = &cdn.Invalidator{API: r.cdn.CloudFront, Distribution: o.DistributionID, Backoff: o.retryBackoff,
			Poll: o.pollInterval, Note: r.rep.linef, Verbose: r.rep.verbosef, Requests: &r.result.Requests.Invalidation}
		// What runs after the upload is checked before it: the
		// distribution exists and these credentials can read it.
		if err := cdn.Reachable(ctx, r.cdn.CloudFront, o.DistributionID); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Run publishes the bake in o.Dir and returns what it planned and did.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Stack != "" && o.Gate == nil {
		// The stack owns the function; publish writes its store's keys.
		o.Gate = &cdn.GateOptions{KeysOnly: true}
	}
	if err := ResolveStack(ctx, &o); err != nil {
		return nil, err
	}
	if o.Dir == "" {
		return nil, errors.New("no bake directory: set --dir")
	}
	bake, err := LoadBake(o.Dir)
	if err != nil {
		return nil, err
	}
	prefix := o.prefixFor(bake.Manifest.BasePath)
	var gate *cdn.Options
	if o.Gate != nil {
		// Everything the gate deploy needs from the bake is read and
		// checked before any request.
		g, err := cdn.FromBake(o.Dir, bake.Manifest, *o.Gate)
		if err != nil {
			return nil, err
		}
		g.DistributionID, g.DryRun, g.Bucket, g.Prefix = o.DistributionID, o.DryRun, o.Bucket, prefix
		gate = &g
	}
	r, err := connect(ctx, &o, prefix, "publish")
	if err != nil {
		return nil, err
	}
	if gate != nil {
		// A distribution the gate cannot be set up on is refused before
		// the first upload.
		if err := cdn.Check(ctx, r.cdn, *gate); err != nil {
			return nil, err
		}
		r.gate = gate
	}
	for _, w := range bake.Warnings {
		r.rep.linef("warning: %s", w)
	}
	r.claim.body.Digest = digestOf(fileStates(bake.Files))
	rep, err := r.publish(ctx, func(ctx context.Context) (*state, error) {
		v, err := r.look(ctx, localPaths(bake.Files))
		if err != nil {
			return nil, err
		}
		lv, err := r.liveOf(ctx, v, entryPath(bake.Files))
		if err != nil {
			return nil, err
		}
		return r.prepare(ctx, v, lv, target{files: bake.Files, manifest: bake.Manifest})
	})
	if rep != nil {
		rep.Warnings = bake.Warnings
	}
	return rep, err
}

// publish makes a target live: it plans (under the prefix's claim when the
// plan changes anything), applies and reports.
func (r *runner) publish(ctx context.Context, plan func(context.Context) (*state, error)) (rep *Report, err error) {
	defer func() {
		if rerr := r.claim.release(ctx); rerr != nil {
			r.rep.linef("warning: %v: a run on another machine waits up to %s for it to lapse", rerr, r.claim.lease)
		}
		r.finish()
	}()
	st, err := r.settle(ctx, plan)
	if st != nil {
		rep = &Report{Bucket: r.o.Bucket, Prefix: r.sess.prefix, DryRun: r.o.DryRun, Release: st.rec.ID,
			Plan: st.changes, Result: r.result}
	}
	if err != nil {
		return rep, err
	}
	if r.o.DryRun || r.o.Verbose {
		r.rep.printPlan(st.changes, r.o.DryRun)
	}
	switch {
	case r.o.DryRun:
		r.rep.linef("dry run: %s", r.summary(st))
		return rep, r.deployGate(ctx, st) // reports what it would change
	case st.changesNothing():
		r.result.UpToDate = true
		// The site is current, but what lives beside it (the edge gate: a
		// revoked user, a narrower CIDR list) may not be: the hook is
		// idempotent and must run whatever the files did.
		if err := r.deployGate(ctx, st); err != nil {
			return rep, err
		}
	default:
		wasLive := st.live
		if err := r.apply(ctx, st); err != nil {
			return rep, r.stopped(st, err)
		}
		// Only records changed (an attempt's removed, the cache refreshed).
		r.result.UpToDate = wasLive && st.changes.Empty()
		r.result.Release = st.rec.ID
	}
	r.rep.linef("%s", r.summary(st))
	return rep, nil
}

// settle plans until the plan changes nothing, or until this run holds the
// prefix's claim and no other run is in flight, and returns that plan. While
// another run is in flight, a run that would change something gives up its
// claim and waits (up to --lock-timeout); a run that would change nothing
// and a dry run never claim.
func (r *runner) settle(ctx context.Context, plan func(context.Context) (*state, error)) (*state, error) {
	var deadline time.Time
	for {
		st, err := plan(ctx)
		if err != nil {
			return nil, err
		}
		if st.stale {
			continue // a run that ended after the listing: look again first
		}
		if err := r.check(st); err != nil {
			return st, err
		}
		held := r.claim.isHeld()
		switch {
		case len(st.active) > 0 && (r.o.DryRun || !held && st.changesNothing()):
			r.notef("another run is in flight: %s; it may change the site after this one", st.active[0].describe())
			return st, nil
		case len(st.active) > 0:
			if err := r.claim.release(ctx); err != nil {
				return nil, r.unchanged(err)
			}
			if deadline.IsZero() {
				deadline = time.Now().Add(max(r.o.LockTimeout, 0))
			}
			waited := time.Now()
			err := r.claim.wait(ctx, st.active, deadline)
			r.result.Waited += time.Since(waited).Seconds()
			if err != nil {
				return st, err
			}
			continue
		case r.o.DryRun:
			return st, nil
		case held || st.changesNothing():
			r.removeGone(ctx, st.gone)
			return st, nil
		}
		r.removeGone(ctx, st.gone)
		if err := r.claim.take(ctx); err != nil {
			return nil, r.unchanged(err)
		}
	}
}

// removeGone removes the claims of runs that are gone, which a run on
// another machine would otherwise wait a lease for; a failure only delays
// that.
func (r *runner) removeGone(ctx context.Context, gone []string) {
	if len(gone) == 0 {
		return
	}
	r.rep.linef("removing %d claims of runs that are gone", len(gone))
	if err := r.claim.remove(ctx, gone); err != nil {
		r.rep.linef("warning: %v", err)
	}
}

// unchanged wraps an error met before the run changed the site.
func (r *runner) unchanged(err error) error {
	how := "stopped"
	if errors.Is(err, context.Canceled) {
		how = "was interrupted"
	}
	return fmt.Errorf("the %s %s before changing the site; run the same %s again: %w", r.op, how, r.op, err)
}

// notef prints a note once per run.
func (r *runner) notef(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if !r.noted[msg] {
		r.noted[msg] = true
		r.rep.linef("note: %s", msg)
	}
}

// stopped says where a failed or interrupted run left the site, and whether
// running the same command again finishes it: it does wherever the run got
// past planning, because the record it writes first names its target.
func (r *runner) stopped(st *state, err error) error {
	how := "stopped"
	if errors.Is(err, context.Canceled) {
		how = "was interrupted"
	}
	if lost := r.claim.lostReason(); lost != nil && !errors.As(err, new(*claimLostError)) {
		err = fmt.Errorf("%w: %w", lost, err)
	}
	again := "run the same " + r.op + " again"
	switch {
	case st.live:
		return fmt.Errorf("release %s is live but the %s %s before finishing; %s to finish it: %w",
			st.rec.ID, r.op, how, again, err)
	case !st.wrote:
		return fmt.Errorf("the %s %s before changing anything (%s); %s: %w", r.op, how, st.before.serves(), again, err)
	}
	return fmt.Errorf("the %s %s before release %s went live (%s); %s to finish it: %w",
		r.op, how, st.rec.ID, st.before.serves(), again, err)
}

func (r *runner) finish() {
	r.result.BytesSent = r.counts.bytes.Load()
	r.result.Duration = r.o.now().Sub(r.start)
	r.result.Seconds = r.result.Duration.Seconds()
}

func entries(files []LocalFile) map[string][]byte {
	out := map[string][]byte{}
	for _, f := range files {
		if f.Phase == PhaseAsset {
			continue
		}
		if f.data != nil {
			out[f.Path] = f.data
		} else if b, err := os.ReadFile(f.file); err == nil {
			out[f.Path] = b
		}
	}
	return out
}

func expiredReleases(ids []string, rec *Release) []string {
	keep := map[string]bool{rec.ID: true}
	for _, rr := range rec.Retained {
		keep[rr.ID] = true
	}
	var out []string
	for _, id := range ids {
		if !keep[id] {
			out = append(out, id)
		}
	}
	return out
}

func mergePaths(a, b []string, basePath string) []string {
	set := map[string]bool{}
	for _, p := range append(append([]string{}, a...), b...) {
		set[p] = true
	}
	base := strings.TrimSuffix(basePath, "/")
	if set[base+"/*"] {
		return []string{base + "/*"}
	}
	return invalidationPaths(set, base)
}

// check refuses plans that would harm what studiobake does not own, and plans
// it cannot carry out, before anything is changed.
func (r *runner) check(st *state) error {
	if n := len(st.changes.Conflicts); n > 0 {
		paths := make([]string, 0, n)
		for _, a := range st.changes.Conflicts {
			paths = append(paths, a.Path)
		}
		return fmt.Errorf("s3://%s/%s: %d objects that studiobake did not upload would be overwritten (%s); "+
			"move them or pass --allow-foreign", r.o.Bucket, r.sess.prefix, n, strings.Join(first(paths, 5), ", "))
	}
	// A site at the bucket root shares the namespace with everything else in
	// the bucket: take it over only when told.
	if r.sess.prefix == "" && len(st.listing.releases) == 0 && len(st.changes.Foreign) > 0 && !r.o.Force {
		return fmt.Errorf("s3://%s/ holds %d objects that studiobake did not upload; publishing at the bucket root "+
			"would mix the site with them: use --prefix, another bucket, or --allow-foreign", r.o.Bucket, len(st.changes.Foreign))
	}
	for _, a := range st.changes.Uploads {
		f := st.files[a.Path]
		if f.file == "" && f.data == nil {
			return fmt.Errorf("release %s: %s is gone from s3://%s/%s and no copy is kept: it is older than the kept releases",
				st.rec.ID, a.Path, r.o.Bucket, r.sess.prefix)
		}
	}
	return nil
}

func first(s []string, n int) []string {
	sort.Strings(s)
	return s[:min(n, len(s))]
}

func (r *runner) summary(st *state) string {
	c := st.changes
	loc := "s3://" + r.o.Bucket + "/" + r.sess.prefix
	waited := ""
	if r.result.Waited > 0 {
		waited = fmt.Sprintf(" (after waiting %.1fs for another run)", r.result.Waited)
	}
	if r.result.UpToDate {
		return fmt.Sprintf("%s is up to date: release %s, %d files unchanged, %d requests%s",
			loc, st.rec.ID, len(c.Unchanged), r.requests(), waited)
	}
	uploaded, deleted := "uploaded", "deleted"
	if r.o.DryRun {
		uploaded, deleted = "to upload", "to delete"
	}
	s := fmt.Sprintf("%s: release %s: %d %s (%s), %d unchanged, %d kept, %d %s",
		loc, st.rec.ID, len(c.Uploads), uploaded, build.HumanBytes(c.UploadBytes()), len(c.Unchanged), len(c.Kept), len(c.Deletes), deleted)
	if len(c.Deferred) > 0 {
		s += fmt.Sprintf(", %d deletions deferred (--max-deletes)", len(c.Deferred))
	}
	if len(c.Foreign) > 0 {
		s += fmt.Sprintf(", %d foreign left alone", len(c.Foreign))
	}
	if n := len(c.Invalidate); n > 0 {
		s += fmt.Sprintf(", %d paths invalidated", n)
		if r.cf == nil {
			s = strings.TrimSuffix(s, " invalidated") + " stale (no --distribution-id)"
		}
	}
	return s + fmt.Sprintf(", %d requests in %.2fs%s", r.requests(), r.o.now().Sub(r.start).Seconds(), waited)
}

func (r *runner) requests() int64 {
	n := r.result.Requests
	return n.List + n.Head + n.Get + n.Put + n.Delete + n.Invalidation + atomic.LoadInt64(&r.result.Requests.Claim)
}
