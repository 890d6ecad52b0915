package publish

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/studiobake/studiobake/build"
)

// openPrefix validates o and connects to the prefix of an existing site:
// --prefix, else the base path of the bake in o.Dir when there is one, else
// the bucket root.
func openPrefix(ctx context.Context, o *Options) (*runner, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	base := ""
	if o.Prefix == "" && o.Dir != "" {
		if m, err := build.ReadManifest(o.Dir); err == nil {
			base = m.BasePath
		}
	}
	return connect(ctx, o, o.prefixFor(base))
}

// ReleaseInfo is one line of `studiobake releases`.
type ReleaseInfo struct {
	ID           string    `json:"id"`
	Time         time.Time `json:"time"`
	Live         bool      `json:"live"`
	Complete     bool      `json:"complete"`
	Studio       string    `json:"studioVersion"`
	Studiobake   string    `json:"studiobakeVersion"`
	Commit       string    `json:"commit,omitempty"`
	RollbackOf   string    `json:"rollbackOf,omitempty"`
	Files        int       `json:"files"`
	Invalidation string    `json:"invalidation,omitempty"`
}

// Releases lists the releases under the prefix, newest (live) first.
func Releases(ctx context.Context, o Options) ([]ReleaseInfo, error) {
	r, err := openPrefix(ctx, &o)
	if err != nil {
		return nil, err
	}
	recs, err := r.allReleases(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ReleaseInfo, len(recs))
	for i, rec := range recs {
		out[i] = ReleaseInfo{ID: rec.ID, Time: rec.Time, Live: i == 0, Complete: rec.Complete, Studio: rec.Studio,
			Studiobake: rec.Studiobake, Commit: rec.Commit, RollbackOf: rec.RollbackOf, Files: len(rec.Files),
			Invalidation: rec.Invalidation}
	}
	if o.JSON {
		return out, writeJSON(o.Stdout, out)
	}
	printReleases(r.rep, out)
	if len(out) == 0 {
		r.rep.linef("no releases under s3://%s/%s (is --prefix right?)", o.Bucket, r.sess.prefix)
	}
	return out, nil
}

func printReleases(rep *reporter, rs []ReleaseInfo) {
	for _, ri := range rs {
		status := []string{}
		if ri.Live {
			status = append(status, "live")
		}
		if !ri.Complete {
			status = append(status, "incomplete")
		}
		if ri.RollbackOf != "" {
			status = append(status, "rollback to "+ri.RollbackOf)
		}
		commit := ri.Commit
		if len(commit) > 12 {
			commit = commit[:12]
		}
		rep.linef("%s  %s  studio %-8s  %3d files  %-12s  %s", ri.ID, ri.Time.Format(time.RFC3339),
			orDash(ri.Studio), ri.Files, orDash(commit), strings.Join(status, ", "))
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// allReleases reads every record, newest first.
func (r *runner) allReleases(ctx context.Context) ([]*Release, error) {
	l, err := r.sess.list(ctx)
	if err != nil {
		return nil, err
	}
	recs := make([]*Release, len(l.releases))
	err = forEach(ctx, r.o.Concurrency, len(recs), func(ctx context.Context, i int) error {
		var err error
		recs[i], err = r.sess.getRelease(ctx, l.releases[i])
		return err
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].ID > recs[j].ID })
	return recs, nil
}

// Rollback makes an earlier release live again: its assets are still there
// (retention kept them); its entry files come from its record. The rollback
// is itself a release, so retention and a later rollback treat it as such.
func Rollback(ctx context.Context, o Options) (*Report, error) {
	r, err := openPrefix(ctx, &o)
	if err != nil {
		return nil, err
	}
	recs, err := r.allReleases(ctx)
	if err != nil {
		return nil, err
	}
	target, err := rollbackTarget(recs, o.To)
	if err != nil {
		return nil, fmt.Errorf("rollback s3://%s/%s: %w", o.Bucket, r.sess.prefix, err)
	}
	r.rep.linef("rolling back to release %s (%s)", target.ID, target.Time.Format(time.RFC3339))
	m, origin := target.Manifest, target.ID
	if m == nil {
		m = &build.Manifest{}
	}
	if target.RollbackOf != "" {
		origin = target.RollbackOf
	}
	return r.publish(ctx, filesOf(target), m, origin)
}

// rollbackTarget is --to (an id or a unique start of one), else the release
// before the one that is live (before its original, when the live one is
// itself a rollback), skipping other rollbacks, copies of the live files and
// releases whose publish never completed.
func rollbackTarget(recs []*Release, to string) (*Release, error) {
	if len(recs) == 0 {
		return nil, fmt.Errorf("no releases")
	}
	if to != "" {
		var found []*Release
		for _, rec := range recs {
			if rec.ID == to {
				return rec, nil
			}
			if strings.HasPrefix(rec.ID, to) {
				found = append(found, rec)
			}
		}
		if len(found) != 1 {
			return nil, fmt.Errorf("--to %q matches %d releases (see studiobake releases)", to, len(found))
		}
		return found[0], nil
	}
	live, base := recs[0], recs[0].ID
	if live.RollbackOf != "" {
		base = live.RollbackOf
	}
	for _, rec := range recs {
		if rec.ID < base && rec.RollbackOf == "" && rec.Complete && rec.Digest != live.Digest {
			return rec, nil
		}
	}
	return nil, fmt.Errorf("no earlier release to roll back to (releases kept: %d)", len(recs))
}

// filesOf rebuilds a release's file list: assets by reference (they must
// still exist), unhashed files with their recorded content.
func filesOf(rec *Release) []LocalFile {
	out := make([]LocalFile, len(rec.Files))
	for i, f := range rec.Files {
		out[i] = LocalFile{Path: f.Path, Size: f.Size, SHA256: f.SHA256, ContentType: f.ContentType,
			CacheControl: f.CacheControl, ContentEncoding: f.ContentEncoding, Phase: f.Phase, data: rec.Entries[f.Path]}
	}
	return out
}
