package publish

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/studiobake/studiobake/build"
)

// recordSchema 2: the record is written before anything else of its run,
// names its page, and a run claims the prefix first (claim.go). A
// studiobake that reads only schema 1 knows no claims: it refuses schema 2
// records instead of running beside a claimed run.
const recordSchema = 2

// releasesDir holds one record per release, relative to the prefix. The edge
// gates refuse to serve build.StateDir, so records are never public.
const releasesDir = build.StateDir + "/releases/"

// Release is the record of one publish (or rollback), stored as JSON at
// <prefix>_studiobake/releases/<id>.json. It is the first thing its run
// writes, before any object, and names the run's target (the file set and
// the entry page's digest), so that the same command run again finishes
// the same release, and the next run knows whose objects it finds. Whether
// a release is live is not recorded: it is the object at the entry key
// (live.go). The record is written a second time only when the run has
// something after the entry page to remember: an invalidation or the deploy
// hook (Complete is false until they are done), or objects whose ETags
// differ from the predicted ones. The newest record also caches the remote
// inventory, so that a publish with nothing to do costs one LIST and one GET.
type Release struct {
	Schema     int       `json:"schema"`
	ID         string    `json:"id"`
	Time       time.Time `json:"time"`
	Studiobake string    `json:"studiobakeVersion"`
	Studio     string    `json:"studioVersion"`
	Commit     string    `json:"commit,omitempty"`
	// RollbackOf is the original release a rollback restores (the origin of
	// Target when Target is itself a rollback); Target is the release the
	// rollback command named or chose.
	RollbackOf string `json:"rollbackOf,omitempty"`
	Target     string `json:"target,omitempty"`
	// Run is the claim (claim.go) of the run that wrote the record.
	Run string `json:"run,omitempty"`
	// Page is the SHA-256 of the entry page: the release is live while the
	// object at the entry key has it.
	Page string `json:"page"`
	// Complete: nothing is left that a re-run could only learn from this
	// record. A re-run of the same bake finishes an incomplete release.
	Complete bool `json:"complete"`
	// Digest identifies the file set (paths, contents, headers): a publish
	// of the same bake finds the same digest and makes no new release.
	Digest       string      `json:"digest"`
	Files        []FileState `json:"files"`
	Invalidate   []string    `json:"invalidate,omitempty"`
	Invalidation string      `json:"invalidation,omitempty"`
	// Entries hold the content of the unhashed files: they are overwritten
	// by later releases, and a rollback must be able to write them back.
	Entries  map[string][]byte `json:"entries"`
	Manifest *build.Manifest   `json:"manifest,omitempty"`
	// Retained lists the earlier releases whose files are kept, newest first.
	Retained []RetainedRelease `json:"retained,omitempty"`
	// Objects caches what studiobake knows about its objects (by path), as
	// of the record's writing; an entry is trusted only while the listed ETag
	// and size still match.
	Objects map[string]ObjectState `json:"objects,omitempty"`
	// Foreign caches objects known not to be studiobake's (path to ETag).
	Foreign map[string]string `json:"foreign,omitempty"`
}

// FileState is one file of a release.
type FileState struct {
	Path            string `json:"path"`
	Size            int64  `json:"size"`
	SHA256          string `json:"sha256"`
	ContentType     string `json:"contentType"`
	CacheControl    string `json:"cacheControl"`
	ContentEncoding string `json:"contentEncoding,omitempty"`
	Phase           Phase  `json:"phase"`
}

// RetainedRelease names an earlier release that was live, its entry page
// and the paths it references.
type RetainedRelease struct {
	ID     string   `json:"id"`
	Digest string   `json:"digest"`
	Page   string   `json:"page,omitempty"`
	Paths  []string `json:"paths"`
}

// ObjectState is what studiobake last saw of one of its objects.
type ObjectState struct {
	ETag            string `json:"etag"`
	Size            int64  `json:"size"`
	SHA256          string `json:"sha256"`
	ContentType     string `json:"contentType"`
	CacheControl    string `json:"cacheControl"`
	ContentEncoding string `json:"contentEncoding,omitempty"`
}

func recordKey(prefix, id string) string { return prefix + releasesDir + id + ".json" }

// releaseIDFromKey returns the id of a record key (relative to the prefix).
func releaseIDFromKey(rel string) (string, bool) { return jsonName(rel, releasesDir) }

// jsonName returns the name of dir/<name>.json (rel is relative to the prefix).
func jsonName(rel, dir string) (string, bool) {
	name, ok := strings.CutPrefix(rel, dir)
	if !ok || strings.Contains(name, "/") {
		return "", false
	}
	return strings.CutSuffix(name, ".json")
}

// newReleaseID makes an id that sorts by time and after newest, so that the
// newest record is the greatest key even when the clock steps back.
func newReleaseID(now time.Time, newest string) string {
	const layout = "20060102T150405.000Z"
	// Compare at the id's precision: a clock a fraction of a millisecond
	// ahead would format to the same instant, and the random suffix would
	// then decide which record is the newest.
	t := now.UTC().Truncate(time.Millisecond)
	if newest != "" {
		if prev, err := time.Parse(layout, strings.SplitN(newest, "-", 2)[0]); err == nil && !t.After(prev) {
			t = prev.Add(time.Millisecond)
		}
	}
	var r [3]byte
	_, _ = rand.Read(r[:])
	return t.Format(layout) + "-" + hex.EncodeToString(r[:])
}

// fileStates describes local files as a release records them.
func fileStates(files []LocalFile) []FileState {
	out := make([]FileState, len(files))
	for i, f := range files {
		out[i] = FileState{Path: f.Path, Size: f.Size, SHA256: f.SHA256, ContentType: f.ContentType,
			CacheControl: f.CacheControl, ContentEncoding: f.ContentEncoding, Phase: f.Phase}
	}
	return out
}

// digestOf identifies a file set; order does not matter.
func digestOf(files []FileState) string {
	lines := make([]string, len(files))
	for i, f := range files {
		lines[i] = strings.Join([]string{f.Path, f.SHA256, f.ContentType, f.CacheControl}, "\t")
		if f.ContentEncoding != "" {
			// Only when set: releases recorded before variants keep their digest.
			lines[i] += "\t" + f.ContentEncoding
		}
	}
	sort.Strings(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(sum[:])
}

func (r *Release) encode() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return nil, fmt.Errorf("encode release %s: %w", r.ID, err)
	}
	return b, nil
}

func decodeRelease(key string, b []byte) (*Release, error) {
	var r Release
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("read release record %s: %w", key, err)
	}
	if r.Schema < 1 || r.Schema > recordSchema {
		return nil, fmt.Errorf("read release record %s: schema %d, this studiobake reads 1 to %d (upgrade studiobake)",
			key, r.Schema, recordSchema)
	}
	if r.Page == "" { // schema 1
		r.Page = pageOf(r.Files)
	}
	return &r, nil
}

// snapshot copies what recordStale compares, as it is now.
func (r *Release) snapshot() *Release {
	c := *r
	c.Objects, c.Foreign = maps.Clone(r.Objects), maps.Clone(r.Foreign)
	c.Retained = slices.Clone(r.Retained)
	return &c
}

// recordStale reports whether the stored record differs from st.rec in what
// a later run relies on: completion, the invalidation id, retention, the
// foreign objects and the object cache. Cache entries of objects deleted since do not matter: a
// listing no longer shows them.
func (st *state) recordStale() bool {
	s, r := st.stored, st.rec
	if s == nil || s.Complete != r.Complete || s.Invalidation != r.Invalidation || !maps.Equal(s.Foreign, r.Foreign) ||
		!slices.EqualFunc(s.Retained, r.Retained, func(a, b RetainedRelease) bool { return a.ID == b.ID }) {
		return true
	}
	for p, o := range st.objects {
		if s.Objects[p] != o {
			return true
		}
	}
	return false
}

// pageOf is the digest of the entry page among files.
func pageOf(files []FileState) string {
	for _, f := range files {
		if f.Phase == PhaseEntry && f.ContentEncoding == "" { // not its variants
			return f.SHA256
		}
	}
	return ""
}

// retainedEntry describes r as a later release's record keeps it.
func (r *Release) retainedEntry() RetainedRelease {
	return RetainedRelease{ID: r.ID, Digest: r.Digest, Page: r.Page, Paths: r.paths()}
}

// paths lists the paths of a release's files.
func (r *Release) paths() []string {
	out := make([]string, len(r.Files))
	for i, f := range r.Files {
		out[i] = f.Path
	}
	return out
}
