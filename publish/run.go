package publish

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/studiobake/studiobake/build"
	"github.com/studiobake/studiobake/publish/cdn"
)

// runner is one publish, rollback or listing against one bucket prefix.
type runner struct {
	o      *Options
	sess   *session
	counts *countingStore
	cf     *cdn.Invalidator
	cdn    cdn.Clients
	gate   *cdn.Options // the gate deploy, when publish deploys one
	rep    *reporter
	result *Result
	start  time.Time
}

// testClients lets tests put fakes behind the narrow interfaces.
type testClients struct {
	store  objectStore
	cdn    cdn.Clients
	stacks cdn.StacksAPI
}

// connect loads AWS configuration and builds the clients; every failure
// here happens before anything is changed.
func connect(ctx context.Context, o *Options, prefix string) (*runner, error) {
	r := &runner{o: o, rep: newReporter(o), result: &Result{}, start: o.now()}
	var store objectStore
	if o.clients != nil {
		store, r.cdn = o.clients.store, o.clients.cdn
	} else {
		cfg, err := LoadAWSConfig(ctx, o.AWS)
		if err != nil {
			return nil, err
		}
		client, err := newS3Client(ctx, &cfg, o.AWS, o.Bucket)
		if err != nil {
			return nil, err
		}
		store = client
		if o.DistributionID != "" || o.Gate != nil {
			r.cdn = cdn.NewClients(cfg)
		}
	}
	r.counts = &countingStore{objectStore: store, n: &r.result.Requests}
	r.sess = &session{store: r.counts, bucket: o.Bucket, prefix: prefix, conc: o.Concurrency}
	if r.cdn.CloudFront != nil && o.DistributionID != "" {
		r.cf = &cdn.Invalidator{API: r.cdn.CloudFront, Distribution: o.DistributionID, Backoff: o.retryBackoff,
			Poll: o.pollInterval, Note: r.rep.linef, Verbose: r.rep.verbosef, Requests: &r.result.Requests.Invalidation}
	}
	return r, nil
}

// Run publishes the bake in o.Dir and returns what it planned and did.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.Validate(); err != nil {
		return nil, err
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
	r, err := connect(ctx, &o, prefix)
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
	rep, err := r.publish(ctx, bake.Files, bake.Manifest, "")
	if rep != nil {
		rep.Warnings = bake.Warnings
	}
	return rep, err
}

// publish makes files the live release: plan, check, apply, report.
func (r *runner) publish(ctx context.Context, files []LocalFile, m *build.Manifest, rollbackOf string) (*Report, error) {
	st, err := r.prepare(ctx, files, m, rollbackOf)
	if err != nil {
		return nil, err
	}
	rep := &Report{Bucket: r.o.Bucket, Prefix: r.sess.prefix, DryRun: r.o.DryRun, Release: st.rec.ID,
		Plan: st.changes, Result: r.result}
	if err := r.check(st); err != nil {
		return rep, err
	}
	if r.o.DryRun || r.o.Verbose {
		r.rep.printPlan(st.changes, r.o.DryRun)
	}
	switch {
	case r.o.DryRun:
		r.rep.linef("dry run: %s", r.summary(st))
		if err := r.deployGate(ctx, st); err != nil { // reports what it would change
			return rep, err
		}
	case st.complete && st.changes.Empty() && len(st.expired) == 0:
		r.result.UpToDate = true
		if st.recordStale() {
			// Only the record's cache is behind (objects edited outside
			// studiobake, a new foreign object): refresh it, once.
			if err := r.putRecord(ctx, st); err != nil {
				return rep, err
			}
		}
		// The site is current, but what lives beside it (the edge gate: a
		// revoked user, a narrower CIDR list) may not be: the hook is
		// idempotent and must run whatever the files did.
		if err := r.deployGate(ctx, st); err != nil {
			return rep, err
		}
		r.rep.linef("%s", r.summary(st))
	default:
		if err := r.apply(ctx, st); err != nil {
			r.finish()
			return rep, r.stopped(st, err)
		}
		r.result.Release = st.rec.ID
		r.rep.linef("%s", r.summary(st))
	}
	r.finish()
	return rep, nil
}

// stopped says where a failed or interrupted run left the site.
func (r *runner) stopped(st *state, err error) error {
	var other *concurrentError
	switch {
	case errors.As(err, &other):
		return err
	}
	how := "stopped"
	if errors.Is(err, context.Canceled) {
		how = "interrupted"
	}
	if st.live {
		return fmt.Errorf("release %s is live but the run %s before finishing; run the same publish again: %w", st.rec.ID, how, err)
	}
	return fmt.Errorf("%s before release %s went live (the site serves the previous release); "+
		"run the same publish again to finish: %w", how, st.rec.ID, err)
}

func (r *runner) finish() {
	r.result.BytesSent = r.counts.bytes.Load()
	r.result.Duration = r.o.now().Sub(r.start)
	r.result.Seconds = r.result.Duration.Seconds()
}

// prepare reads the remote state and plans.
func (r *runner) prepare(ctx context.Context, files []LocalFile, m *build.Manifest, rollbackOf string) (*state, error) {
	l, err := r.sess.list(ctx)
	if err != nil {
		return nil, err
	}
	var newest *Release
	if n := len(l.releases); n > 0 {
		if newest, err = r.sess.getRelease(ctx, l.releases[n-1]); err != nil {
			return nil, err
		}
	}
	local := make(map[string]bool, len(files))
	for _, f := range files {
		local[f.Path] = true
	}
	skipped, err := r.sess.inventory(ctx, l, newest, local)
	if err != nil {
		return nil, err
	}
	if skipped > 0 {
		r.rep.linef("note: %d objects under the prefix were not checked (over %d) and are left alone", skipped, maxHeads)
	}
	st := r.newState(l, newest, files, m, rollbackOf)
	keep := map[string]string{}
	for _, rr := range st.rec.Retained {
		for _, p := range rr.Paths {
			if _, ok := keep[p]; !ok {
				keep[p] = rr.ID
			}
		}
	}
	st.changes = Plan(files, Remote{Objects: l.objects, Keep: keep},
		PlanOptions{BasePath: m.BasePath, MaxDeletes: r.o.MaxDeletes, Force: r.o.Force})
	if !st.complete && !st.fresh {
		// An earlier run of this release stopped before invalidating.
		st.changes.Invalidate = mergePaths(st.changes.Invalidate, st.rec.Invalidate, m.BasePath)
	}
	st.rec.Invalidate = st.changes.Invalidate
	st.expired = expiredReleases(l.releases, st.rec)
	return st, nil
}

// newState picks the release record: the newest one again when it holds the
// same files (a re-run, or finishing an interrupted run), else a new one.
func (r *runner) newState(l *listing, newest *Release, files []LocalFile, m *build.Manifest, rollbackOf string) *state {
	fs := fileStates(files)
	digest := digestOf(fs)
	st := &state{listing: l, files: map[string]*LocalFile{}, objects: map[string]ObjectState{}}
	for i := range files {
		st.files[files[i].Path] = &files[i]
	}
	for p, o := range l.objects {
		if o.Owned {
			st.objects[p] = ObjectState{ETag: o.ETag, Size: o.Size, SHA256: o.SHA256,
				ContentType: o.ContentType, CacheControl: o.CacheControl}
		}
	}
	keepOld := r.o.KeepReleases - 1
	if newest != nil && newest.Digest == digest {
		rec := *newest
		rec.Retained = trimRetained(rec.Retained, keepOld, digest)
		st.rec, st.complete, st.stored = &rec, newest.Complete, newest
	} else {
		last := ""
		if n := len(l.releases); n > 0 {
			last = l.releases[n-1]
		}
		st.rec = &Release{Schema: recordSchema, ID: newReleaseID(r.o.now(), last), Time: r.o.now().UTC(),
			Studiobake: r.o.Version, Studio: m.Studio.Version, Commit: r.o.Commit, RollbackOf: rollbackOf,
			Digest: digest, Files: fs, Entries: entries(files), Manifest: m, Retained: retained(newest, keepOld, digest)}
		st.fresh = true
	}
	st.rec.Foreign = map[string]string{}
	for p, o := range l.objects {
		if !o.Owned {
			st.rec.Foreign[p] = o.ETag
		}
	}
	return st
}

// retained lists the releases kept besides a new one with digest: the
// newest and the ones it kept.
func retained(newest *Release, n int, digest string) []RetainedRelease {
	if newest == nil {
		return nil
	}
	all := append([]RetainedRelease{{ID: newest.ID, Digest: newest.Digest, Paths: newest.paths()}}, newest.Retained...)
	return trimRetained(all, n, digest)
}

// trimRetained keeps releases of up to n distinct file sets other than
// digest's. Copies of a file set (a rollback, or the release rolled back to)
// take no slot: rolling back must not push the oldest release out.
func trimRetained(list []RetainedRelease, n int, digest string) []RetainedRelease {
	seen := map[string]bool{digest: true}
	var out []RetainedRelease
	for _, rr := range list {
		if !seen[rr.Digest] {
			if len(seen)-1 == n {
				break
			}
			seen[rr.Digest] = true
		}
		out = append(out, rr)
	}
	return out
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
	if r.result.UpToDate {
		return fmt.Sprintf("%s is up to date: release %s, %d files unchanged, %d requests",
			loc, st.rec.ID, len(c.Unchanged), r.requests())
	}
	uploaded, deleted := "uploaded", "deleted"
	if r.o.DryRun {
		uploaded, deleted = "to upload", "to delete"
	}
	s := fmt.Sprintf("%s: release %s: %d %s (%s), %d unchanged, %d kept, %d %s",
		loc, st.rec.ID, len(c.Uploads), uploaded, humanBytes(c.UploadBytes()), len(c.Unchanged), len(c.Kept), len(c.Deletes), deleted)
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
	return s + fmt.Sprintf(", %d requests in %.2fs", r.requests(), r.o.now().Sub(r.start).Seconds())
}

func (r *runner) requests() int64 {
	n := r.result.Requests
	return n.List + n.Head + n.Get + n.Put + n.Delete + n.Invalidation
}
