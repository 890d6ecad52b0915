package publish

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/studiobake/studiobake/build"
)

// openPrefix validates o and connects to the prefix of an existing site:
// --prefix, else the base path of the bake in o.Dir when there is one, else
// the bucket root.
func openPrefix(ctx context.Context, o *Options, op string) (*runner, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if err := ResolveStack(ctx, o); err != nil {
		return nil, err
	}
	if op == "releases" {
		o.DistributionID = "" // the stack's: a listing needs no CloudFront access
	}
	base := ""
	if o.Prefix == "" && o.Dir != "" {
		if m, err := build.ReadManifest(o.Dir); err == nil {
			base = m.BasePath
		}
	}
	return connect(ctx, o, o.prefixFor(base), op)
}

// Release states, told by the object at the entry key (live.go).
const (
	StateLive      = "live"
	StateWasLive   = "was live"        // in the live release's chain
	StateNeverLive = "never went live" // an attempt that stopped before its entry page
	StateInFlight  = "in flight"       // a run in flight is publishing it
	StateExpired   = "expired"         // older than the kept releases: the next run deletes it
	StateNotLive   = "not live"        // no release is live (see Drift)
)

// ReleaseInfo is one line of `studiobake releases`.
type ReleaseInfo struct {
	ID           string    `json:"id"`
	Time         time.Time `json:"time"`
	State        string    `json:"state"`
	Live         bool      `json:"live"`
	Complete     bool      `json:"complete"`
	Studio       string    `json:"studioVersion"`
	Studiobake   string    `json:"studiobakeVersion"`
	Commit       string    `json:"commit,omitempty"`
	RollbackOf   string    `json:"rollbackOf,omitempty"`
	Target       string    `json:"target,omitempty"`
	Page         string    `json:"page"`
	Files        int       `json:"files"`
	Invalidation string    `json:"invalidation,omitempty"`
}

// RunInfo is a run in flight on the prefix, as its claim says.
type RunInfo struct {
	claimBody
	Renewed time.Time `json:"renewed"`
	// Gone: the claim names a process of this machine that has ended; the
	// next run removes the claim.
	Gone bool `json:"gone,omitempty"`
}

// ReleasesReport is what `studiobake releases` shows.
type ReleasesReport struct {
	Bucket string `json:"bucket"`
	Prefix string `json:"prefix"`
	Live   string `json:"live,omitempty"`
	// Drift says why no release is live when none is: no entry page, or a
	// page that is no release's.
	Drift    string        `json:"drift,omitempty"`
	InFlight []RunInfo     `json:"inFlight,omitempty"`
	Releases []ReleaseInfo `json:"releases"` // newest first
}

// Releases lists the releases under the prefix, newest first, each with
// its state: which one is live is read from the entry page itself.
func Releases(ctx context.Context, o Options) (*ReleasesReport, error) {
	r, err := openPrefix(ctx, &o, "releases")
	if err != nil {
		return nil, err
	}
	l, err := r.sess.list(ctx)
	if err != nil {
		return nil, err
	}
	recs, err := r.allRecords(ctx, l)
	if err != nil {
		return nil, err
	}
	var newest *Release
	if len(recs) > 0 {
		newest = recs[0]
	}
	if _, err := r.sess.inventory(ctx, l, newest, nil); err != nil {
		return nil, err
	}
	lv := findLive(l, entryOfRecords(recs), recordCandidates(recs))
	rep := &ReleasesReport{Bucket: o.Bucket, Prefix: r.sess.prefix, Live: lv.id, Releases: []ReleaseInfo{}}
	if lv.id == "" && len(recs) > 0 {
		rep.Drift = lv.note
	}
	if rep.InFlight, err = r.runsInFlight(ctx, l); err != nil {
		return nil, err
	}
	flying := map[string]bool{}
	for _, run := range rep.InFlight {
		flying[run.Run] = !run.Gone
	}
	for _, rec := range recs {
		rep.Releases = append(rep.Releases, ReleaseInfo{ID: rec.ID, Time: rec.Time, State: stateOf(rec, lv, flying),
			Live: rec.ID == lv.id, Complete: rec.Complete, Studio: rec.Studio, Studiobake: rec.Studiobake,
			Commit: rec.Commit, RollbackOf: rec.RollbackOf, Target: rec.Target, Page: rec.Page,
			Files: len(rec.Files), Invalidation: rec.Invalidation})
	}
	if o.JSON {
		return rep, nil // the command layer prints it in its --json document
	}
	printReleases(r.rep, rep)
	return rep, nil
}

// stateOf tells what became of a release.
func stateOf(rec *Release, lv liveView, flying map[string]bool) string {
	switch {
	case rec.ID == lv.id:
		return StateLive
	case lv.wasLive(rec.ID):
		return StateWasLive
	case rec.Run != "" && flying[rec.Run]:
		return StateInFlight
	case lv.id == "":
		return StateNotLive
	case rec.ID < lv.chain[len(lv.chain)-1].ID:
		return StateExpired
	}
	return StateNeverLive
}

// runsInFlight reads the claims listed.
func (r *runner) runsInFlight(ctx context.Context, l *listing) ([]RunInfo, error) {
	var out []RunInfo
	for run, o := range l.claims {
		body, _, err := r.claim.read(ctx, run)
		if err != nil {
			return nil, err
		}
		if body != nil {
			out = append(out, RunInfo{claimBody: *body, Renewed: o.Modified, Gone: body.processGone()})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Run < out[j].Run })
	return out, nil
}

func printReleases(rep *reporter, rr *ReleasesReport) {
	if len(rr.Releases) == 0 {
		rep.linef("no releases under s3://%s/%s (is --prefix right?)", rr.Bucket, rr.Prefix)
	}
	if rr.Drift != "" {
		rep.linef("no release is live: %s", rr.Drift)
	}
	for _, run := range rr.InFlight {
		if run.Gone {
			rep.linef("gone: %s ended without removing its claim; the next run removes it", run.describe())
			continue
		}
		rep.linef("in flight: %s, claim renewed %s", run.describe(), run.Renewed.Format(time.RFC3339))
	}
	for _, ri := range rr.Releases {
		status := []string{ri.State}
		if !ri.Complete && (ri.State == StateLive || ri.State == StateWasLive) {
			status = append(status, "incomplete")
		}
		if ri.RollbackOf != "" {
			status = append(status, "rollback to "+orDash(ri.Target))
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

// Rollback makes an earlier release live again: its assets are still there
// (retention kept them); its entry files come from its record. The rollback
// is itself a release, so retention and a later rollback treat it as such.
// A rollback that stopped before it finished is finished by the same
// command: its record, written first, names the release it restores.
func Rollback(ctx context.Context, o Options) (*Report, error) {
	r, err := openPrefix(ctx, &o, "rollback")
	if err != nil {
		return nil, err
	}
	told := ""
	return r.publish(ctx, func(ctx context.Context) (*state, error) {
		v, err := r.look(ctx, nil)
		if err != nil {
			return nil, err
		}
		recs, err := r.allRecords(ctx, v.l)
		if err != nil {
			return nil, err
		}
		lv := findLive(v.l, entryOfRecords(recs), recordCandidates(recs))
		t, err := rollbackTarget(recs, lv, v.l.claims, o.To)
		if err != nil {
			return nil, fmt.Errorf("rollback s3://%s/%s: %w", o.Bucket, r.sess.prefix, err)
		}
		if told != t.to {
			told = t.to
			r.rep.linef("rolling back to release %s", t.to)
		}
		if t.files, err = encodeStaleVariants(t.files, v.l.objects, recs); err != nil {
			return nil, err
		}
		r.claim.body.Digest = digestOf(fileStates(t.files))
		return r.prepare(ctx, v, lv, t)
	})
}

// rollbackTarget is, first, the target of a rollback that has not finished
// (the newest record, not both live and complete, or whose run's claim is
// still there: the run was killed), so that running the same command again
// completes it rather than going back one more release; else --to (an id or
// a unique start of one); else the release that was live before the live
// one (before its original, when the live one is itself a rollback),
// skipping rollbacks and copies of the live files.
func rollbackTarget(recs []*Release, lv liveView, claims map[string]RemoteObject, to string) (target, error) {
	if len(recs) == 0 {
		return target{}, fmt.Errorf("no releases")
	}
	n := recs[0]
	_, killed := claims[n.Run]
	unfinished := !(n.ID == lv.id && n.Complete) || killed && n.Run != ""
	if n.RollbackOf != "" && unfinished && (to == "" || strings.HasPrefix(n.Target, to)) {
		return rollbackTo(recs, n, orElse(n.Target, n.RollbackOf), n.RollbackOf), nil
	}
	var rec *Release
	var err error
	if to != "" {
		rec, err = releaseByID(recs, to)
	} else {
		rec, err = previousRelease(recs, lv)
	}
	if err != nil {
		return target{}, err
	}
	return rollbackTo(recs, rec, rec.ID, orElse(rec.RollbackOf, rec.ID)), nil
}

// rollbackTo makes the target from the record whose files it restores.
// Its digests are those of that record and of the releases it stands for
// (to, and the original release), which take no retention slot beside
// it: they differ when a rollback added variants.
func rollbackTo(recs []*Release, files *Release, to, origin string) target {
	m := files.Manifest
	if m == nil {
		m = &build.Manifest{}
	}
	t := target{files: filesOf(files), manifest: m, to: to, rollbackOf: origin, digests: []string{files.Digest}}
	for _, rec := range recs {
		if rec.ID == to || rec.ID == origin {
			t.digests = append(t.digests, rec.Digest)
		}
	}
	return t
}

func orElse(s, other string) string {
	if s == "" {
		return other
	}
	return s
}

func releaseByID(recs []*Release, to string) (*Release, error) {
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

// previousRelease is the newest release that was live before the live one
// (or before its original), is no rollback and has other files.
func previousRelease(recs []*Release, lv liveView) (*Release, error) {
	if lv.id == "" {
		return nil, fmt.Errorf("no release is live (%s): name the release to make live with --to", lv.note)
	}
	byID := map[string]*Release{}
	for _, rec := range recs {
		byID[rec.ID] = rec
	}
	live := byID[lv.id]
	base := orElse(live.RollbackOf, live.ID)
	for _, rr := range lv.chain[1:] {
		rec := byID[rr.ID]
		if rec != nil && rec.ID < base && rec.RollbackOf == "" && rec.Digest != live.Digest {
			return rec, nil
		}
	}
	return nil, fmt.Errorf("no earlier release to roll back to: none that was live before release %s is kept", base)
}

// encodeStaleVariants adds precompressed variants of the restored unhashed
// files where the bucket holds variants the target release has none of,
// uploaded by studiobake or at a path a release of it had (so that one
// replaced by hand is reported as a conflict, not served on): a
// rollback to a bake made without them (--precompress off, or before
// precompression) over one made with them. Left in place, the newer
// FILE.br and FILE.gz would go on being served, since the deployed gate
// sends viewers to them: the rollback would restore the page for no one
// whose browser accepts brotli or gzip. The variants encode the restored
// content at the best level; the rollback's record keeps them.
func encodeStaleVariants(files []LocalFile, objects map[string]RemoteObject, recs []*Release) ([]LocalFile, error) {
	have, released := map[string]bool{}, map[string]bool{}
	for _, f := range files {
		have[f.Path] = true
	}
	for _, rec := range recs {
		for _, f := range rec.Files {
			released[f.Path] = true
		}
	}
	out := append([]LocalFile(nil), files...)
	for _, f := range files {
		if f.Phase == PhaseAsset || f.ContentEncoding != "" || f.data == nil {
			continue
		}
		for _, enc := range build.Encodings {
			p := f.Path + enc.Ext
			if o, stale := objects[p]; !stale || !(o.Owned || released[p]) || have[p] {
				continue
			}
			b, err := build.Encode(enc.Name, f.data)
			if err != nil {
				return nil, fmt.Errorf("rollback: %s: %w", p, err)
			}
			sum := sha256.Sum256(b)
			out = append(out, LocalFile{Path: p, Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:]), ContentType: f.ContentType,
				CacheControl: f.CacheControl, ContentEncoding: enc.Name, Phase: f.Phase, data: b})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
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

// entryOfRecords is the entry path the newest record names.
func entryOfRecords(recs []*Release) string {
	if len(recs) > 0 {
		for _, f := range recs[0].Files {
			if f.Phase == PhaseEntry && f.ContentEncoding == "" { // not its variants
				return f.Path
			}
		}
	}
	return build.EntryFile
}
