package publish

import (
	"net/url"
	"sort"
	"strings"
	"time"
)

// Reason says why the plan does something with a path.
type Reason string

const (
	ReasonNew            Reason = "new"
	ReasonContentChanged Reason = "content changed"
	ReasonHeadersChanged Reason = "headers changed"
	ReasonUnchanged      Reason = "unchanged"
	ReasonKept           Reason = "kept for an older release"
	ReasonExpired        Reason = "in no kept release"
	ReasonForeign        Reason = "not uploaded by studiobake"
	// ReasonReplaceForeign: --force overwrites an object studiobake did not upload.
	ReasonReplaceForeign Reason = "replaces an object studiobake did not upload"
	// ReasonRecent: uploaded after the newest release record the run read,
	// by a run it knows nothing of: never deleted (a later run may).
	ReasonRecent Reason = "uploaded after the newest release record"
	// ReasonInFlight: a file of the release a run in flight publishes.
	ReasonInFlight Reason = "a run in flight publishes it"
	// ReasonUnknownLive: the live page is no release's, so what it
	// references is unknown: nothing is deleted until a release is live.
	ReasonUnknownLive Reason = "the live page is no release's"
)

// RemoteObject is one object under the prefix, by path relative to it.
type RemoteObject struct {
	Path            string
	Size            int64
	ETag            string
	SHA256          string // from studiobake's metadata; "" when not ours
	ContentType     string
	CacheControl    string
	ContentEncoding string
	Owned           bool      // uploaded by studiobake for this prefix
	Modified        time.Time // as the listing says
}

// Remote is the state publish plans against.
type Remote struct {
	Objects map[string]RemoteObject
	// Keep maps the paths of the earlier releases that stay to the newest
	// such release, so that open tabs keep loading their lazy chunks.
	Keep map[string]string
	// Hold maps objects of no kept release that must not be deleted either
	// to the reason (ReasonRecent, ReasonUnknownLive).
	Hold map[string]Reason
}

// PlanOptions tune Plan.
type PlanOptions struct {
	BasePath   string // URL path of the site ("" or "/agents"), for invalidation paths
	MaxDeletes int    // deletions beyond it are deferred
	Force      bool   // overwrite objects studiobake did not upload
}

// Action is one path and what the plan does with it.
type Action struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	Reason  Reason `json:"reason"`
	Release string `json:"release,omitempty"` // the release that keeps it (Kept)
	Phase   Phase  `json:"-"`
}

// Changes is a plan: what to upload (in phase order), what stays, what to
// delete and which URL paths CloudFront may hold stale.
type Changes struct {
	Uploads   []Action `json:"uploads"`
	Unchanged []Action `json:"unchanged"`
	Kept      []Action `json:"kept"`
	Deletes   []Action `json:"deletes"`
	// Deferred deletions exceed MaxDeletes and wait for a later run.
	Deferred []Action `json:"deferred"`
	Foreign  []Action `json:"foreign"`
	// Conflicts are objects studiobake did not upload that the release
	// would overwrite: publishing stops unless forced.
	Conflicts  []Action `json:"conflicts"`
	Invalidate []string `json:"invalidate"`
}

// maxExactPaths: above this many stale paths one wildcard is invalidated
// instead. Each path is billed (a wildcard counts as one), but a wildcard also
// evicts the cached immutable assets, so exact paths win while they are few.
const maxExactPaths = 5

// Plan compares the local files of a release with the remote objects. It is
// pure: the same inputs give the same plan, which can be printed and tested.
func Plan(local []LocalFile, remote Remote, opt PlanOptions) *Changes {
	// Empty, not nil: the JSON plan shows [] rather than null.
	c := &Changes{Uploads: []Action{}, Unchanged: []Action{}, Kept: []Action{}, Foreign: []Action{},
		Conflicts: []Action{}, Invalidate: []string{}}
	want := make(map[string]bool, len(local))
	for _, f := range local {
		want[f.Path] = true
		a := Action{Path: f.Path, Size: f.Size, Phase: f.Phase}
		r, ok := remote.Objects[f.Path]
		switch {
		case !ok:
			a.Reason = ReasonNew
		case !r.Owned && !opt.Force:
			a.Reason = ReasonForeign
			c.Conflicts = append(c.Conflicts, a)
			continue
		case !r.Owned:
			a.Reason = ReasonReplaceForeign
		case r.SHA256 != f.SHA256 || r.Size != f.Size:
			a.Reason = ReasonContentChanged
		case r.ContentType != f.ContentType || r.CacheControl != f.CacheControl || r.ContentEncoding != f.ContentEncoding:
			a.Reason = ReasonHeadersChanged
		default:
			a.Reason = ReasonUnchanged
			c.Unchanged = append(c.Unchanged, a)
			continue
		}
		c.Uploads = append(c.Uploads, a)
	}
	c.planRemote(remote, want, opt.MaxDeletes)
	sortActions(c)
	c.Invalidate = stalePaths(c.Uploads, opt.BasePath)
	return c
}

func (c *Changes) planRemote(remote Remote, want map[string]bool, maxDeletes int) {
	var deletes []Action
	for _, r := range remote.Objects {
		if want[r.Path] {
			continue
		}
		a := Action{Path: r.Path, Size: r.Size}
		switch id, kept := remote.Keep[r.Path]; {
		case !r.Owned:
			// Never delete what studiobake did not upload: report it.
			a.Reason = ReasonForeign
			c.Foreign = append(c.Foreign, a)
		case kept:
			a.Reason, a.Release = ReasonKept, id
			c.Kept = append(c.Kept, a)
		case remote.Hold[r.Path] != "":
			a.Reason = remote.Hold[r.Path]
			c.Kept = append(c.Kept, a)
		default:
			a.Reason = ReasonExpired
			deletes = append(deletes, a)
		}
	}
	sortByPath(deletes)
	deletes = append([]Action{}, deletes...)
	n := min(len(deletes), max(maxDeletes, 0))
	c.Deletes, c.Deferred = deletes[:n:n], deletes[n:]
}

func sortByPath(a []Action) { sort.Slice(a, func(i, j int) bool { return a[i].Path < a[j].Path }) }

func sortActions(c *Changes) {
	for _, a := range [][]Action{c.Unchanged, c.Kept, c.Foreign, c.Conflicts} {
		sortByPath(a)
	}
	sort.SliceStable(c.Uploads, func(i, j int) bool {
		if c.Uploads[i].Phase != c.Uploads[j].Phase {
			return c.Uploads[i].Phase < c.Uploads[j].Phase
		}
		return c.Uploads[i].Path < c.Uploads[j].Path
	})
}

// stalePaths are the URL paths a CDN may hold old copies of: every upload that
// replaces an object. New files (fresh hashed names) cannot be stale.
func stalePaths(uploads []Action, basePath string) []string {
	base := strings.TrimSuffix(basePath, "/")
	set := map[string]bool{}
	for _, u := range uploads {
		if u.Reason == ReasonNew {
			continue
		}
		if u.Phase == PhaseEntry {
			// The entry page is also served for the base path itself (and,
			// through the edge function's rewrite, for every SPA route).
			set[base+"/"] = true
			if base != "" {
				set[base] = true
			}
		}
		set[base+"/"+escapePath(u.Path)] = true
	}
	return invalidationPaths(set, base)
}

func invalidationPaths(set map[string]bool, base string) []string {
	if len(set) == 0 {
		return []string{}
	}
	if len(set) > maxExactPaths {
		return []string{base + "/*"}
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// Empty reports a plan with nothing to upload or delete.
func (c *Changes) Empty() bool { return len(c.Uploads) == 0 && len(c.Deletes) == 0 }

// UploadBytes is the size of all uploads.
func (c *Changes) UploadBytes() int64 {
	var n int64
	for _, u := range c.Uploads {
		n += u.Size
	}
	return n
}
