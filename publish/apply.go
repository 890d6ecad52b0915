package publish

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"

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
	live     bool // this run wrote the entry page: the release is live
	files    map[string]*LocalFile
	changes  *Changes
	listing  *listing
	expired  []string               // release records beyond retention
	objects  map[string]ObjectState // studiobake's objects, kept current while applying
	// stored is the record as the store holds it (nil before it is written):
	// the record is written again only when it no longer tells the next run
	// what it needs.
	stored *Release
}

// apply carries out a plan in the order that keeps the site whole at every
// step: assets, the record, mutable files, the entry page, the hook,
// invalidation, deletions, expired records, and the record again only when
// something after the entry page had to be remembered (an invalidation, the
// hook) or the store answered with other ETags than predicted.
func (r *runner) apply(ctx context.Context, st *state) error {
	for phase := PhaseAsset; phase <= PhaseEntry; phase++ {
		if phase == PhaseMutable && st.fresh {
			if err := r.writeNewRecord(ctx, st); err != nil {
				return err
			}
		}
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

// writeNewRecord writes the record of a new release before any reader can
// see it, so that a later run's retention already protects its files even if
// this run stops here; then it makes sure no other publish is under way.
func (r *runner) writeNewRecord(ctx context.Context, st *state) error {
	// The record also caches the objects this run is about to write, with
	// the ETag S3 gives a single-part upload (the MD5), so that the next
	// run needs no HEAD for them and this run no second write.
	for _, a := range st.changes.Uploads {
		if b, ok := st.rec.Entries[a.Path]; ok && a.Phase != PhaseAsset {
			f := st.files[a.Path]
			sum := md5.Sum(b)
			st.objects[a.Path] = ObjectState{ETag: hex.EncodeToString(sum[:]), Size: f.Size, SHA256: f.SHA256,
				ContentType: f.ContentType, CacheControl: f.CacheControl}
		}
	}
	// Complete unless something after the entry page must be remembered
	// for a re-run: an invalidation or the hook.
	st.rec.Complete = r.gate == nil && (r.cf == nil || len(st.changes.Invalidate) == 0)
	if err := r.putRecord(ctx, st); err != nil {
		return err
	}
	return r.checkAlone(ctx, st)
}

// checkAlone stops the run before its release goes live when another
// publish wrote a record since this run listed the prefix. Each run writes
// its record and then lists the records, and S3 lists what was written
// before, so of two runs that list the bucket before either writes, at
// least one sees the other and stops: neither deletes files the other's live
// page references. It is a check, not a lock (a lock would cost writes on
// every run): a run that starts after another wrote its record, while that
// one is still deleting, is not caught. Serialise publishes to one prefix
// (a CI concurrency group).
func (r *runner) checkAlone(ctx context.Context, st *state) error {
	ids, err := r.sess.listReleases(ctx)
	if err != nil {
		return err
	}
	known := map[string]bool{st.rec.ID: true}
	for _, id := range st.listing.releases {
		known[id] = true
	}
	for _, id := range ids {
		if known[id] {
			continue
		}
		// Nothing of this release is live: its record protects nothing.
		_ = r.deleteKeys(ctx, []string{recordKey(r.sess.prefix, st.rec.ID)})
		return &concurrentError{fmt.Sprintf("s3://%s/%s: another publish wrote release %s while this one ran: "+
			"stopped before release %s went live (the site is unchanged); run again once the other publish has finished",
			r.o.Bucket, r.sess.prefix, id, st.rec.ID)}
	}
	return nil
}

// concurrentError: another publish runs on the same prefix.
type concurrentError struct{ msg string }

func (e *concurrentError) Error() string { return e.msg }

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
	r.rep.startUploads(phase, len(ups), size)
	defer r.rep.endUploads()
	states := make([]ObjectState, len(ups))
	err := forEach(ctx, r.o.Concurrency, len(ups), func(ctx context.Context, i int) error {
		var err error
		states[i], err = r.put(ctx, st.files[ups[i].Path])
		if err == nil {
			r.rep.uploaded(ups[i])
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

func (r *runner) put(ctx context.Context, f *LocalFile) (ObjectState, error) {
	key := r.sess.prefix + f.Path
	body, err := f.open()
	if err != nil {
		return ObjectState{}, fmt.Errorf("upload %s: %w", key, err)
	}
	defer body.Close()
	out, err := r.sess.store.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &r.sess.bucket, Key: &key, Body: body, ContentLength: aws.Int64(f.Size),
		ContentType: aws.String(f.ContentType), CacheControl: aws.String(f.CacheControl),
		Metadata: map[string]string{metaSHA256: f.SHA256, metaPrefix: prefixMark(r.sess.prefix)},
	})
	if err != nil {
		return ObjectState{}, fmt.Errorf("upload: %w", describeS3Error(r.sess.bucket, key, err))
	}
	return ObjectState{ETag: cleanETag(aws.ToString(out.ETag)), Size: f.Size, SHA256: f.SHA256,
		ContentType: f.ContentType, CacheControl: f.CacheControl}, nil
}

func (r *runner) putRecord(ctx context.Context, st *state) error {
	st.rec.Objects = st.objects
	b, err := st.rec.encode()
	if err != nil {
		return err
	}
	key := recordKey(r.sess.prefix, st.rec.ID)
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
		r.rep.linef("waiting for invalidation %s", id)
		return r.cf.Wait(ctx, id)
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
		out, err := r.sess.store.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &r.sess.bucket,
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
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
	res, err := cdn.Run(ctx, r.cdn, *r.gate, r.o.Stderr)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(r.o.Stderr, res.Summary(r.gate.Name))
	return err
}
