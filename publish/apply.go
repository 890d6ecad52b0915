package publish

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/studiobake/studiobake/publish/cdn"
)

// deleteBatch is the most keys one DeleteObjects request takes.
const deleteBatch = 1000

// state is one publish in progress: the plan and what it needs to apply it.
type state struct {
	rec      *Release
	fresh    bool // rec is not on the remote yet
	complete bool // rec was already complete: nothing to finish but the plan
	live     bool // the release is live (already, or this run wrote its entry page)
	wrote    bool // this run has changed something under the prefix
	files    map[string]*LocalFile
	changes  *Changes
	listing  *listing
	before   liveView               // what was live when the run planned
	active   []claimBody            // other runs in flight
	gone     []string               // claims of runs that are gone
	stale    bool                   // the listing predates a listed run's end: plan again
	expired  []string               // release records beyond retention, and attempts that never went live
	objects  map[string]ObjectState // studiobake's objects, kept current while applying
	// stored is the record as the store holds it (nil before it is written):
	// the record is written again only when it no longer tells the next run
	// what it needs.
	stored *Release
}

// changesNothing reports a plan that leaves the prefix as it is.
func (st *state) changesNothing() bool {
	return st.live && st.complete && st.changes.Empty() && len(st.expired) == 0 && !st.recordStale()
}

// apply carries out a plan in the order that keeps the site whole at every
// step: the record (naming the target, so that a re-run finishes this
// release), assets, mutable files, the entry page, the hook, invalidation,
// deletions, expired records, and the record again only when something after
// the entry page had to be remembered (an invalidation, the hook) or the
// store answered with other ETags than predicted.
func (r *runner) apply(ctx context.Context, st *state) error {
	if !st.live {
		if err := r.writeTarget(ctx, st); err != nil {
			return err
		}
	}
	for phase := PhaseAsset; phase <= PhaseEntry; phase++ {
		if err := r.uploadPhase(ctx, st, phase); err != nil {
			return err
		}
	}
	st.live = true
	if err := r.deployGate(ctx, st); err != nil {
		return err
	}
	if err := r.invalidate(ctx, st); err != nil {
		return err
	}
	if err := r.deleteObjects(ctx, st); err != nil {
		return err
	}
	st.rec.Complete = true
	if st.recordStale() {
		return r.putRecord(ctx, st)
	}
	return nil
}

// writeTarget writes the record of a release that is not live yet, before
// anything else: it names what the run makes live, so that the same command
// run again finishes this release, and the next run knows whose objects
// it finds.
func (r *runner) writeTarget(ctx context.Context, st *state) error {
	// The record also caches the objects this run is about to write, with
	// the ETag S3 gives a single-part upload (the MD5), so that the next
	// run needs no HEAD for them and this run no second write.
	for _, a := range st.changes.Uploads {
		f := st.files[a.Path]
		if etag := f.etag(); etag != "" {
			st.objects[a.Path] = ObjectState{ETag: etag, Size: f.Size, SHA256: f.SHA256,
				ContentType: f.ContentType, CacheControl: f.CacheControl, ContentEncoding: f.ContentEncoding}
		}
	}
	// Complete unless something after the entry page must be remembered
	// for a re-run: an invalidation or the hook.
	st.rec.Complete = r.gate == nil && (r.cf == nil || len(st.changes.Invalidate) == 0)
	return r.putRecord(ctx, st)
}

func (r *runner) uploadPhase(ctx context.Context, st *state, phase Phase) error {
	var ups []Action
	var size int64
	for _, a := range st.changes.Uploads {
		if a.Phase == phase {
			ups = append(ups, a)
			size += a.Size
		}
	}
	if len(ups) == 0 {
		return nil
	}
	// Every change carries the claim's deadline but assets: a new name with
	// fixed content harms nothing if it lands late, and a large one may take
	// longer than the deadline allows.
	bctx, cancel, err := r.claim.bound(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	if phase == PhaseAsset {
		bctx = ctx
	}
	r.rep.startUploads(phase, len(ups), size)
	defer r.rep.endUploads()
	st.wrote = true
	states := make([]ObjectState, len(ups))
	err = forEach(bctx, r.o.Concurrency, len(ups), func(ctx context.Context, i int) error {
		ctx, up := r.rep.sending(ctx, ups[i])
		var err error
		if phase == PhaseEntry {
			states[i], err = r.putEntry(ctx, st, st.files[ups[i].Path])
		} else {
			states[i], err = r.put(ctx, st.files[ups[i].Path], nil)
		}
		if err == nil {
			up.done()
		}
		return err
	})
	for i, s := range states {
		if s.SHA256 != "" { // uploaded, even if another upload failed
			st.objects[ups[i].Path] = s
			r.result.Uploaded++
		}
	}
	return err
}

// put uploads a file, with the conditions of cond (If-Match, If-None-Match)
// when it is not nil.
func (r *runner) put(ctx context.Context, f *LocalFile, cond *s3.PutObjectInput) (ObjectState, error) {
	key := r.sess.prefix + f.Path
	body, err := f.open()
	if err != nil {
		return ObjectState{}, fmt.Errorf("upload %s: %w", key, err)
	}
	defer body.Close()
	in := &s3.PutObjectInput{
		Bucket: &r.sess.bucket, Key: &key, Body: uploadOf(ctx).wrap(body), ContentLength: aws.Int64(f.Size),
		ContentType: aws.String(f.ContentType), CacheControl: aws.String(f.CacheControl), ContentEncoding: optional(f.ContentEncoding),
		Metadata: map[string]string{metaSHA256: f.SHA256, metaPrefix: prefixMark(r.sess.prefix)},
	}
	if cond != nil {
		in.IfMatch, in.IfNoneMatch = cond.IfMatch, cond.IfNoneMatch
	}
	out, err := r.sess.store.PutObject(ctx, in)
	if err != nil {
		return ObjectState{}, fmt.Errorf("upload: %w", describeS3Error(r.sess.bucket, key, err))
	}
	return ObjectState{ETag: cleanETag(aws.ToString(out.ETag)), Size: f.Size, SHA256: f.SHA256,
		ContentType: f.ContentType, CacheControl: f.CacheControl, ContentEncoding: f.ContentEncoding}, nil
}

// optional is nil for "": S3 then stores no such header.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// putEntry switches readers to the release. Where the store honours
// conditional writes, the page is replaced only while it is still the one
// this run planned against (If-Match; If-None-Match: * when there was
// none), so that a writer who takes no claim (another tool, a person) is
// never overwritten unseen. A store that answers NotImplemented gets the
// page without conditions; one that ignores them, too: the claim guards.
func (r *runner) putEntry(ctx context.Context, st *state, f *LocalFile) (ObjectState, error) {
	cond := &s3.PutObjectInput{IfNoneMatch: aws.String("*")}
	if o, ok := st.listing.objects[f.Path]; ok {
		cond = &s3.PutObjectInput{IfMatch: aws.String(`"` + o.ETag + `"`)}
	}
	if r.noConditional {
		cond = nil
	}
	s, err := r.put(ctx, f, cond)
	switch {
	case err == nil || cond == nil:
		return s, err
	case isNotImplemented(err):
		r.noConditional = true
		r.notef("the store does not implement conditional writes: %s is written without If-Match", f.Path)
		return r.put(ctx, f, nil)
	case isPreconditionFailed(err):
		// The SDK retries a request whose answer was lost: the page may be
		// this run's own.
		o, gone, herr := r.sess.head(ctx, RemoteObject{Path: f.Path})
		if herr == nil && !gone && o.SHA256 == f.SHA256 {
			return ObjectState{ETag: o.ETag, Size: f.Size, SHA256: f.SHA256, ContentType: f.ContentType,
				CacheControl: f.CacheControl, ContentEncoding: f.ContentEncoding}, nil
		}
		return ObjectState{}, fmt.Errorf("s3://%s/%s%s changed since this run listed it (a writer that takes no claim): %w",
			r.sess.bucket, r.sess.prefix, f.Path, err)
	}
	return s, err
}

func (r *runner) putRecord(ctx context.Context, st *state) error {
	st.rec.Objects = st.objects
	b, err := st.rec.encode()
	if err != nil {
		return err
	}
	key := recordKey(r.sess.prefix, st.rec.ID)
	ctx, cancel, err := r.claim.bound(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	st.wrote = true
	_, err = r.sess.store.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &r.sess.bucket, Key: &key, Body: bytes.NewReader(b), ContentLength: aws.Int64(int64(len(b))),
		ContentType: aws.String("application/json"), CacheControl: aws.String("no-store"),
	})
	if err != nil {
		return fmt.Errorf("write release record: %w", describeS3Error(r.sess.bucket, key, err))
	}
	st.fresh = false
	st.stored = st.rec.snapshot()
	return nil
}

func (r *runner) invalidate(ctx context.Context, st *state) error {
	paths := st.changes.Invalidate
	if r.cf == nil || len(paths) == 0 {
		return nil
	}
	id, err := r.cf.Invalidate(ctx, st.rec.ID, paths)
	if err != nil {
		return err
	}
	st.rec.Invalidation = id
	r.result.Invalidation, r.result.Invalidated = id, paths
	r.rep.verbosef("invalidation %s: %v", id, paths)
	if r.o.Wait {
		return r.cf.Wait(ctx, id) // it says what it waits for
	}
	return nil
}

// deleteObjects removes expired objects, then expired release records: a
// record goes last so that an interrupted run still knows what to delete.
func (r *runner) deleteObjects(ctx context.Context, st *state) error {
	var keys []string
	for _, a := range st.changes.Deletes {
		keys = append(keys, r.sess.prefix+a.Path)
		r.rep.verbosef("delete %s (%s)", a.Path, a.Reason)
	}
	if len(keys)+len(st.expired) > 0 {
		st.wrote = true
	}
	if err := r.deleteKeys(ctx, keys); err != nil {
		return err
	}
	for _, a := range st.changes.Deletes {
		delete(st.objects, a.Path)
	}
	r.result.Deleted = len(keys)
	keys = keys[:0]
	for _, id := range st.expired {
		keys = append(keys, recordKey(r.sess.prefix, id))
	}
	return r.deleteKeys(ctx, keys)
}

func (r *runner) deleteKeys(ctx context.Context, keys []string) error {
	for start := 0; start < len(keys); start += deleteBatch {
		batch := keys[start:min(start+deleteBatch, len(keys))]
		ids := make([]types.ObjectIdentifier, len(batch))
		for i := range batch {
			ids[i] = types.ObjectIdentifier{Key: aws.String(batch[i])}
		}
		bctx, cancel, err := r.claim.bound(ctx)
		if err != nil {
			return err
		}
		out, err := r.sess.store.DeleteObjects(bctx, &s3.DeleteObjectsInput{Bucket: &r.sess.bucket,
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
		cancel()
		if err != nil {
			return fmt.Errorf("delete %d objects: %w", len(batch), describeS3Error(r.sess.bucket, batch[0], err))
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return fmt.Errorf("delete s3://%s/%s: %s: %s (and %d more)", r.sess.bucket, aws.ToString(e.Key),
				aws.ToString(e.Code), aws.ToString(e.Message), len(out.Errors)-1)
		}
	}
	return nil
}

// deployGate deploys the bake's CloudFront gate (Options.Gate), or with
// DryRun reports what that would change.
func (r *runner) deployGate(ctx context.Context, st *state) error {
	if r.gate == nil || (r.gate.KeysOnly && r.gate.KVSARN == "") {
		return nil
	}
	g := *r.gate
	if g.Associate {
		// What the site's releases had the distribution forward: an API
		// behaviour this bake does not need goes. Every record counts, not
		// only the live one: that may be a rollback (which never changes
		// the distribution) or this very release, when a run that stopped
		// before its gate deploy is run again.
		recs, err := r.allRecords(ctx, st.listing)
		if err != nil {
			return err
		}
		for _, rec := range recs {
			if m := rec.Manifest; m != nil && m.API.OneOrigin() && !slices.Contains(g.StaleAPIPrefixes, m.API.Prefix) {
				g.StaleAPIPrefixes = append(g.StaleAPIPrefixes, m.API.Prefix)
			}
		}
	}
	res, err := cdn.Run(ctx, r.cdn, g, r.o.Stderr)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(r.o.Stderr, res.Summary(r.gate.Name))
	return err
}
