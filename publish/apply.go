package publish

import (
	"bytes"
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// deleteBatch is the most keys one DeleteObjects request takes.
const deleteBatch = 1000

// state is one publish in progress: the plan and what it needs to apply it.
type state struct {
	rec      *Release
	fresh    bool // rec is not on the remote yet
	complete bool // rec was already complete: nothing to finish but the plan
	files    map[string]*LocalFile
	changes  *Changes
	listing  *listing
	expired  []string               // release records beyond retention
	objects  map[string]ObjectState // studiobake's objects, kept current while applying
}

// apply carries out a plan in the order that keeps the site whole at every
// step: assets, the pending record, mutable files, the entry page, the hook,
// invalidation, deletions, expired records, the completed record.
func (r *runner) apply(ctx context.Context, st *state) error {
	for phase := PhaseAsset; phase <= PhaseEntry; phase++ {
		if phase == PhaseMutable && st.fresh {
			// Before any reader can see the release, so that a later run's
			// retention already protects its files.
			if err := r.putRecord(ctx, st); err != nil {
				return err
			}
		}
		if err := r.uploadPhase(ctx, st, phase); err != nil {
			return err
		}
	}
	if r.o.BeforeInvalidate != nil {
		if err := r.o.BeforeInvalidate(ctx, r.cfg, st.rec.Manifest); err != nil {
			return err
		}
	}
	if err := r.invalidate(ctx, st); err != nil {
		return err
	}
	if err := r.deleteObjects(ctx, st); err != nil {
		return err
	}
	if !st.complete || len(st.changes.Uploads) > 0 {
		st.rec.Complete = true
		return r.putRecord(ctx, st)
	}
	return nil
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
	return nil
}

func (r *runner) invalidate(ctx context.Context, st *state) error {
	paths := st.changes.Invalidate
	if r.cf == nil || len(paths) == 0 {
		return nil
	}
	id, err := r.cf.invalidate(ctx, st.rec.ID, paths)
	if err != nil {
		return err
	}
	st.rec.Invalidation = id
	r.result.Invalidation, r.result.Invalidated = id, paths
	r.rep.verbosef("invalidation %s: %v", id, paths)
	if r.o.Wait {
		r.rep.linef("waiting for invalidation %s", id)
		return r.cf.waitDone(ctx, id)
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
