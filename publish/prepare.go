package publish

import (
	"context"
	"slices"

	"github.com/studiobake/studiobake/build"
)

// target is what a run makes live: a bake's files, or an earlier release's.
type target struct {
	files    []LocalFile
	manifest *build.Manifest
	// For a rollback: the release restored (to) and its origin (rollbackOf,
	// the original release when to is itself a rollback).
	to, rollbackOf string
	// digests are the file sets the new release stands for besides its own
	// (a rollback's: see rollbackTo), which take no retention slot.
	digests []string
}

// view is what a run has read of the prefix.
type view struct {
	l      *listing
	newest *Release
	active []claimBody // other runs in flight
	gone   []string    // keys of claims whose runs are gone
	// stale: a run in the listing ended after it was taken (see
	// claim.others); plan again from a new listing.
	stale bool
}

type cachedRecord struct {
	etag string
	rec  *Release
}

// look lists the prefix, reads the newest record (again only when it
// changed), sorts the other runs' claims and fills in the inventory.
func (r *runner) look(ctx context.Context, local map[string]bool) (*view, error) {
	l, err := r.sess.list(ctx)
	if err != nil {
		return nil, err
	}
	v := &view{l: l}
	if n := len(l.releases); n > 0 {
		if v.newest, err = r.record(ctx, l, l.releases[n-1]); err != nil {
			return nil, err
		}
	}
	if v.active, v.gone, v.stale, err = r.claim.others(ctx, l); err != nil {
		return nil, err
	}
	skipped, err := r.sess.inventory(ctx, l, v.newest, local)
	if err != nil {
		return nil, err
	}
	if skipped > 0 {
		r.notef("%d objects under the prefix were not checked (over %d) and are left alone", skipped, maxHeads)
	}
	return v, nil
}

// record reads a release record, or takes it from the run's cache while the
// listing shows the same ETag.
func (r *runner) record(ctx context.Context, l *listing, id string) (*Release, error) {
	etag := l.records[id].ETag
	if c, ok := r.records[id]; ok && c.etag == etag && etag != "" {
		return c.rec, nil
	}
	rec, err := r.sess.getRelease(ctx, id)
	if err != nil {
		return nil, err
	}
	r.records[id] = cachedRecord{etag: etag, rec: rec}
	return rec, nil
}

// allRecords reads every record listed, newest first.
func (r *runner) allRecords(ctx context.Context, l *listing) ([]*Release, error) {
	recs := make([]*Release, len(l.releases))
	for i, id := range l.releases {
		if c, ok := r.records[id]; ok && c.etag == l.records[id].ETag && c.etag != "" {
			recs[i] = c.rec
		}
	}
	err := forEach(ctx, r.o.Concurrency, len(recs), func(ctx context.Context, i int) error {
		if recs[i] != nil {
			return nil
		}
		var err error
		recs[i], err = r.sess.getRelease(ctx, l.releases[i])
		return err
	})
	if err != nil {
		return nil, err
	}
	for i, id := range l.releases {
		r.records[id] = cachedRecord{etag: l.records[id].ETag, rec: recs[i]}
	}
	slices.Reverse(recs)
	return recs, nil
}

// liveOf finds the live release from the newest record and its chain, and
// reads the other records only when the served page is none of theirs.
func (r *runner) liveOf(ctx context.Context, v *view, entry string) (liveView, error) {
	lv := findLive(v.l, entry, chainCandidates(v.newest))
	if lv.id != "" || !lv.unmatched || len(v.l.releases) < 2 {
		return lv, nil
	}
	recs, err := r.allRecords(ctx, v.l)
	if err != nil {
		return liveView{}, err
	}
	return findLive(v.l, entry, recordCandidates(recs)), nil
}

// prepare picks the record and plans against what the run saw.
func (r *runner) prepare(ctx context.Context, v *view, lv liveView, t target) (*state, error) {
	st, err := r.newState(ctx, v, lv, t)
	if err != nil {
		return nil, err
	}
	keep := map[string]string{}
	for _, rr := range st.rec.Retained {
		for _, p := range rr.Paths {
			if _, ok := keep[p]; !ok {
				keep[p] = rr.ID
			}
		}
	}
	hold := holds(v, lv)
	for p, why := range hold {
		if why == ReasonInFlight {
			delete(st.objects, p) // the other run's: no reason to rewrite this run's record
		}
	}
	st.changes = Plan(t.files, Remote{Objects: v.l.objects, Keep: keep, Hold: hold},
		PlanOptions{BasePath: t.manifest.BasePath, MaxDeletes: r.o.MaxDeletes, Force: r.o.Force})
	if !st.complete && !st.fresh {
		// An earlier run of this release stopped before invalidating.
		st.changes.Invalidate = mergePaths(st.changes.Invalidate, st.rec.Invalidate, t.manifest.BasePath)
	}
	st.rec.Invalidate = st.changes.Invalidate
	for _, id := range expiredReleases(v.l.releases, st.rec) {
		if v.newest == nil || id != v.newest.ID || !inFlight(v) {
			st.expired = append(st.expired, id)
		}
	}
	if lv.unmatched {
		r.notef("%s: nothing is deleted until a release is live", lv.note)
	}
	return st, nil
}

// newState picks the record: the live release's when the site already
// serves this file set (a re-run), the newest record's when it is this same
// operation stopped before it went live (finishing it), else a new one.
func (r *runner) newState(ctx context.Context, v *view, lv liveView, t target) (*state, error) {
	fs := fileStates(t.files)
	digest := digestOf(fs)
	own := append([]string{digest}, t.digests...) // file sets that take no retention slot
	st := &state{listing: v.l, files: map[string]*LocalFile{}, objects: map[string]ObjectState{},
		before: lv, active: v.active, gone: v.gone, stale: v.stale}
	for i := range t.files {
		st.files[t.files[i].Path] = &t.files[i]
	}
	for p, o := range v.l.objects {
		if o.Owned {
			st.objects[p] = ObjectState{ETag: o.ETag, Size: o.Size, SHA256: o.SHA256,
				ContentType: o.ContentType, CacheControl: o.CacheControl, ContentEncoding: o.ContentEncoding}
		}
	}
	keepOld := r.o.KeepReleases - 1
	newest := v.newest
	switch {
	case lv.id != "" && lv.chain[0].Digest == digest:
		rec := lv.rec
		if rec == nil {
			var err error
			if rec, err = r.record(ctx, v.l, lv.id); err != nil {
				return nil, err
			}
		}
		c := *rec
		c.Retained = trimRetained(rec.Retained, keepOld, own...)
		st.rec, st.complete, st.stored, st.live = &c, rec.Complete, rec, true
	case newest != nil && newest.ID != lv.id && !lv.wasLive(newest.ID) && newest.Digest == digest &&
		(newest.RollbackOf != "") == (t.rollbackOf != ""):
		c := *newest
		c.Retained = trimRetained(lv.chain, keepOld, own...)
		st.rec, st.stored = &c, newest
	default:
		last := ""
		if n := len(v.l.releases); n > 0 {
			last = v.l.releases[n-1]
		}
		st.rec = &Release{Schema: recordSchema, ID: newReleaseID(r.o.now(), last), Time: r.o.now().UTC(),
			Studiobake: r.o.Version, Studio: t.manifest.Studio.Version, Commit: r.o.Commit,
			RollbackOf: t.rollbackOf, Target: t.to, Digest: digest, Page: pageOf(fs), Files: fs,
			Entries: entries(t.files), Manifest: t.manifest, Retained: trimRetained(retentionChain(v, lv), keepOld, own...)}
		st.fresh = true
	}
	st.rec.Schema, st.rec.Run = recordSchema, r.claim.body.Run
	st.rec.Foreign = map[string]string{}
	for p, o := range v.l.objects {
		if !o.Owned {
			st.rec.Foreign[p] = o.ETag
		}
	}
	return st, nil
}

// retentionChain is what a new release keeps besides itself: the live
// release and those live before it. When no release is live it falls back
// to the newest record's chain, and holds deletes itself (holds).
func retentionChain(v *view, lv liveView) []RetainedRelease {
	if lv.id != "" || v.newest == nil {
		return lv.chain
	}
	return append([]RetainedRelease{v.newest.retainedEntry()}, v.newest.Retained...)
}

// trimRetained keeps releases of up to n distinct file sets other than
// the new release's (digests: its own and, for a rollback, the restored
// release's, which differs when the rollback adds variants). Copies of a
// file set (a rollback, or the release rolled back to) take no slot:
// rolling back must not push the oldest release out.
func trimRetained(list []RetainedRelease, n int, digests ...string) []RetainedRelease {
	seen := map[string]bool{}
	for _, d := range digests {
		if d != "" {
			seen[d] = true
		}
	}
	own := len(seen)
	var out []RetainedRelease
	for _, rr := range list {
		if !seen[rr.Digest] {
			if len(seen)-own == n {
				break
			}
			seen[rr.Digest] = true
		}
		out = append(out, rr)
	}
	return out
}

// holds lists the objects of no kept release that must stay anyway: while
// no release is live, everything (the served page may reference any of
// it); the files of a run in flight; and what was uploaded after the newest
// record this run read, by a run it knows nothing of. The newest record
// caches every object of studiobake's that existed when it was written,
// and those its run was about to upload: an object it does not know (or
// knows with another ETag) came later.
func holds(v *view, lv liveView) map[string]Reason {
	hold := map[string]Reason{}
	named, known := map[string]bool{}, map[string]ObjectState{}
	if v.newest != nil {
		for _, f := range v.newest.Files {
			named[f.Path] = true
		}
		known = v.newest.Objects
	}
	flying := inFlight(v)
	for p, o := range v.l.objects {
		switch c, ok := known[p]; {
		case !o.Owned:
		case lv.unmatched:
			hold[p] = ReasonUnknownLive
		case named[p] && flying:
			hold[p] = ReasonInFlight
		case !named[p] && (!ok || c.ETag != o.ETag):
			hold[p] = ReasonRecent
		}
	}
	return hold
}

// inFlight reports whether the newest record is that of a run in flight.
func inFlight(v *view) bool {
	if v.newest == nil || v.newest.Run == "" {
		return false
	}
	for _, b := range v.active {
		if b.Run == v.newest.Run {
			return true
		}
	}
	return false
}

func localPaths(files []LocalFile) map[string]bool {
	out := make(map[string]bool, len(files))
	for _, f := range files {
		out[f.Path] = true
	}
	return out
}

func entryPath(files []LocalFile) string {
	for _, f := range files {
		if f.Phase == PhaseEntry && f.ContentEncoding == "" { // not its variants
			return f.Path
		}
	}
	return build.EntryFile
}
