package publish

import (
	"reflect"
	"testing"
)

func TestPlanReasons(t *testing.T) {
	const (
		js  = "text/javascript; charset=utf-8"
		imm = "public, max-age=31536000, immutable"
		rev = "public, max-age=0, must-revalidate"
	)
	asset := func(p, sum string) LocalFile {
		return LocalFile{Path: p, Size: 10, SHA256: sum, ContentType: js, CacheControl: imm, Phase: PhaseAsset}
	}
	entry := LocalFile{Path: "index.html", Size: 5, SHA256: "e1", ContentType: "text/html; charset=utf-8", CacheControl: rev, Phase: PhaseEntry}
	ours := func(p, sum, ct, cc string) RemoteObject {
		return RemoteObject{Path: p, Size: 10, SHA256: sum, ContentType: ct, CacheControl: cc, Owned: true}
	}
	tests := []struct {
		desc   string
		local  []LocalFile
		remote []RemoteObject
		keep   map[string]string
		opt    PlanOptions
		check  func(t *testing.T, c *Changes)
	}{
		{desc: "a file missing remotely is new and not stale",
			local: []LocalFile{asset("assets/a-1.js", "s1")},
			check: func(t *testing.T, c *Changes) {
				wantActions(t, "uploads", c.Uploads, "assets/a-1.js", ReasonNew)
				wantPaths(t, c.Invalidate)
			}},
		{desc: "same digest and headers is unchanged",
			local:  []LocalFile{asset("assets/a-1.js", "s1")},
			remote: []RemoteObject{ours("assets/a-1.js", "s1", js, imm)},
			check: func(t *testing.T, c *Changes) {
				wantActions(t, "unchanged", c.Unchanged, "assets/a-1.js", ReasonUnchanged)
				wantActions(t, "uploads", c.Uploads)
				if !c.Empty() {
					t.Error("plan not empty")
				}
			}},
		{desc: "another digest is content changed, and stale",
			local:  []LocalFile{asset("assets/a-1.js", "s2")},
			remote: []RemoteObject{ours("assets/a-1.js", "s1", js, imm)},
			check: func(t *testing.T, c *Changes) {
				wantActions(t, "uploads", c.Uploads, "assets/a-1.js", ReasonContentChanged)
				wantPaths(t, c.Invalidate, "/assets/a-1.js")
			}},
		{desc: "another Cache-Control is headers changed",
			local:  []LocalFile{asset("assets/a-1.js", "s1")},
			remote: []RemoteObject{ours("assets/a-1.js", "s1", js, rev)},
			check: func(t *testing.T, c *Changes) {
				wantActions(t, "uploads", c.Uploads, "assets/a-1.js", ReasonHeadersChanged)
			}},
		{desc: "another Content-Encoding is headers changed",
			local: []LocalFile{{Path: "assets/a-1.js.br", Size: 10, SHA256: "s1", ContentType: js, CacheControl: imm,
				ContentEncoding: "br", Phase: PhaseAsset}},
			remote: []RemoteObject{ours("assets/a-1.js.br", "s1", js, imm)},
			check: func(t *testing.T, c *Changes) {
				wantActions(t, "uploads", c.Uploads, "assets/a-1.js.br", ReasonHeadersChanged)
			}},
		{desc: "another Content-Type is headers changed",
			local:  []LocalFile{asset("assets/a-1.js", "s1")},
			remote: []RemoteObject{ours("assets/a-1.js", "s1", "application/octet-stream", imm)},
			check: func(t *testing.T, c *Changes) {
				wantActions(t, "uploads", c.Uploads, "assets/a-1.js", ReasonHeadersChanged)
			}},
		{desc: "an old asset of a kept release stays",
			remote: []RemoteObject{ours("assets/old-0.js", "s0", js, imm)},
			keep:   map[string]string{"assets/old-0.js": "R1"},
			check: func(t *testing.T, c *Changes) {
				wantActions(t, "kept", c.Kept, "assets/old-0.js", ReasonKept)
				if c.Kept[0].Release != "R1" {
					t.Errorf("kept for %q, want R1", c.Kept[0].Release)
				}
				wantActions(t, "deletes", c.Deletes)
			}},
		{desc: "an old asset of no kept release is deleted",
			remote: []RemoteObject{ours("assets/old-0.js", "s0", js, imm)},
			opt:    PlanOptions{MaxDeletes: 10},
			check: func(t *testing.T, c *Changes) {
				wantActions(t, "deletes", c.Deletes, "assets/old-0.js", ReasonExpired)
			}},
		{desc: "deletions over the cap are deferred, in path order",
			remote: []RemoteObject{ours("b", "", js, imm), ours("a", "", js, imm), ours("c", "", js, imm)},
			opt:    PlanOptions{MaxDeletes: 2},
			check: func(t *testing.T, c *Changes) {
				wantActions(t, "deletes", c.Deletes, "a", ReasonExpired, "b", ReasonExpired)
				wantActions(t, "deferred", c.Deferred, "c", ReasonExpired)
			}},
		{desc: "a foreign object is left alone and reported",
			remote: []RemoteObject{{Path: "robots.txt", Size: 3}},
			opt:    PlanOptions{MaxDeletes: 10},
			check: func(t *testing.T, c *Changes) {
				wantActions(t, "foreign", c.Foreign, "robots.txt", ReasonForeign)
				wantActions(t, "deletes", c.Deletes)
			}},
		{desc: "a foreign object at a release path is a conflict",
			local:  []LocalFile{entry},
			remote: []RemoteObject{{Path: "index.html", Size: 3}},
			check: func(t *testing.T, c *Changes) {
				wantActions(t, "conflicts", c.Conflicts, "index.html", ReasonForeign)
				wantActions(t, "uploads", c.Uploads)
			}},
		{desc: "--force replaces a foreign object",
			local:  []LocalFile{entry},
			remote: []RemoteObject{{Path: "index.html", Size: 3}},
			opt:    PlanOptions{Force: true, BasePath: "/agents"},
			check: func(t *testing.T, c *Changes) {
				wantActions(t, "uploads", c.Uploads, "index.html", ReasonReplaceForeign)
				wantPaths(t, c.Invalidate, "/agents", "/agents/", "/agents/index.html")
			}},
		{desc: "a changed entry page invalidates the base path and the page",
			local:  []LocalFile{entry, asset("assets/a-2.js", "s2")},
			remote: []RemoteObject{ours("index.html", "e0", entry.ContentType, rev)},
			opt:    PlanOptions{BasePath: "/agents"},
			check: func(t *testing.T, c *Changes) {
				// assets first, entry last
				wantActions(t, "uploads", c.Uploads, "assets/a-2.js", ReasonNew, "index.html", ReasonContentChanged)
				wantPaths(t, c.Invalidate, "/agents", "/agents/", "/agents/index.html")
			}},
		{desc: "at the root the entry page is / and /index.html",
			local:  []LocalFile{entry},
			remote: []RemoteObject{ours("index.html", "e0", entry.ContentType, rev)},
			check: func(t *testing.T, c *Changes) {
				wantPaths(t, c.Invalidate, "/", "/index.html")
			}},
		{desc: "many stale paths become one wildcard",
			local: []LocalFile{entry, mutable("a.svg"), mutable("b.svg"), mutable("c.svg"), mutable("d.svg")},
			remote: []RemoteObject{ours("index.html", "e0", entry.ContentType, rev), ours("a.svg", "x", "", ""),
				ours("b.svg", "x", "", ""), ours("c.svg", "x", "", ""), ours("d.svg", "x", "", "")},
			opt: PlanOptions{BasePath: "/agents"},
			check: func(t *testing.T, c *Changes) {
				wantPaths(t, c.Invalidate, "/agents/*")
			}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			remote := Remote{Objects: map[string]RemoteObject{}, Keep: tc.keep}
			for _, r := range tc.remote {
				remote.Objects[r.Path] = r
			}
			c := Plan(tc.local, remote, tc.opt)
			tc.check(t, c)
			if again := Plan(tc.local, remote, tc.opt); !reflect.DeepEqual(c, again) {
				t.Error("Plan is not deterministic")
			}
		})
	}
}

func mutable(p string) LocalFile {
	return LocalFile{Path: p, Size: 1, SHA256: "new", Phase: PhaseMutable}
}

// wantActions checks path, reason pairs.
func wantActions(t *testing.T, what string, got []Action, pairs ...any) {
	t.Helper()
	var want, have []string
	for i := 0; i < len(pairs); i += 2 {
		want = append(want, pairs[i].(string)+": "+string(pairs[i+1].(Reason)))
	}
	for _, a := range got {
		have = append(have, a.Path+": "+string(a.Reason))
	}
	if !reflect.DeepEqual(want, have) {
		t.Errorf("%s = %q, want %q", what, have, want)
	}
}

func wantPaths(t *testing.T, got []string, want ...string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("invalidate = %q, want %q", got, want)
	}
}
