package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var versions = []struct {
	dir, base string
}{
	{"v0.18", ""},
	{"v1.0", "/agents"},
	{"v1.10", "/agents"},
	{"v1.31", "/agents"},
}

// bakeTestTree bakes testdata/studio/<dir> into a fresh directory.
func bakeTestTree(t *testing.T, dir, base string, mod func(*Options)) (*Result, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "dist")
	values := fullValues()
	values["MASTRA_STUDIO_BASE_PATH"] = base
	o := Options{
		Source: &Source{Dir: filepath.Join("..", "testdata", "studio", dir), Version: "", Origin: "dir " + dir},
		Out:    out, Values: values, BasePath: base, Version: "test",
		APIEndpoint: "https://api.example.com:443/api", APIOrigin: "https://api.example.com:443",
		API: API{Mode: APIDirect, Prefix: "/api", Probe: "https://api.example.com:443/"},
	}
	if mod != nil {
		mod(&o)
	}
	r, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("bake %s: %v", dir, err)
	}
	return r, out
}

// TestGolden compares the baked index.html and manifest of each test tree to
// testdata/golden; UPDATE_SNAPSHOTS=1 rewrites them.
func TestGolden(t *testing.T) {
	for _, v := range versions {
		t.Run(v.dir, func(t *testing.T) {
			_, out := bakeTestTree(t, v.dir, v.base, nil)
			for _, g := range []struct{ file, golden string }{
				{filepath.Join(out, SiteDir, EntryFile), v.dir + ".index.html"},
				{filepath.Join(out, ManifestFile), v.dir + ".manifest.json"},
			} {
				got, err := os.ReadFile(g.file)
				must(t, err)
				golden(t, g.golden, got)
			}
		})
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("..", "testdata", "golden", name)
	if os.Getenv("UPDATE_SNAPSHOTS") != "" {
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, got, 0o644))
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with UPDATE_SNAPSHOTS=1 to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (UPDATE_SNAPSHOTS=1 to accept):\n%s", name, lineDiff(string(want), string(got)))
	}
}

// lineDiff shows the first differing lines, enough to read a failure.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 8; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("line " + strconv.Itoa(i+1) + "\n- " + wl + "\n+ " + gl + "\n")
			shown++
		}
	}
	return b.String()
}

// TestBakeTrees checks what must hold for every supported Studio shape.
func TestBakeTrees(t *testing.T) {
	for _, v := range versions {
		t.Run(v.dir, func(t *testing.T) {
			r, out := bakeTestTree(t, v.dir, v.base, nil)
			CheckBake(t, filepath.Join("..", "testdata", "studio", v.dir), out, r.Manifest)
			page, err := os.ReadFile(filepath.Join(out, SiteDir, EntryFile))
			must(t, err)
			run := runPage(t, page)
			if run.eventSources != 0 {
				t.Errorf("baked page opens %d EventSource connections", run.eventSources)
			}
			if got := run.window["MASTRA_SERVER_HOST"]; got != "api.example.com" {
				t.Errorf("window.MASTRA_SERVER_HOST = %v", got)
			}
			if v.base != "" && !bytes.Contains(page, []byte(`<base href="`+v.base+`/"`)) {
				t.Errorf("no <base href=%q/> in the baked page", v.base)
			}
		})
	}
}

// CheckBake asserts the properties every bake must have: no placeholder left;
// every Vite-hashed file byte-identical to the source; every other file but
// the kept names renamed with a content hash; every local reference of
// index.html and CSS resolving; SRI on local scripts and stylesheets matching
// the bytes; the manifest listing exactly the files with correct digests.
func CheckBake(t testing.TB, srcDir, out string, m *Manifest) {
	t.Helper()
	site := filepath.Join(out, SiteDir)
	onDisk := map[string][]byte{}
	must(t, filepath.WalkDir(site, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(site, p)
		b, err := os.ReadFile(p)
		onDisk[filepath.ToSlash(rel)] = b
		return err
	}))
	if len(onDisk) != len(m.Files) {
		t.Errorf("site has %d files, manifest lists %d", len(onDisk), len(m.Files))
	}
	for _, f := range m.Files {
		b, ok := onDisk[f.Path]
		if !ok {
			t.Errorf("manifest lists %s, not in site/", f.Path)
			continue
		}
		checkEntry(t, srcDir, f, b)
	}
	page := onDisk[EntryFile]
	if left := tokenRE.Find(page); left != nil {
		t.Errorf("placeholder %s left in index.html", left)
	}
	checkRefs(t, m, onDisk)
}

func checkEntry(t testing.TB, srcDir string, f File, b []byte) {
	t.Helper()
	s384, s256 := sha512.Sum384(b), sha256.Sum256(b)
	want := "sha256-" + base64.StdEncoding.EncodeToString(s256[:])
	if strings.HasPrefix(f.Integrity, "sha384-") {
		want = "sha384-" + base64.StdEncoding.EncodeToString(s384[:])
	}
	if f.Integrity != want || f.Size != int64(len(b)) || f.SHA256 != hex.EncodeToString(s256[:]) {
		t.Errorf("%s: manifest integrity/size/sha256 %s/%d/%s, file has %s/%d", f.Path, f.Integrity, f.Size, f.SHA256, want, len(b))
	}
	if f.Path == EntryFile || keepNames[f.Path] {
		if f.Cache != Revalidate {
			t.Errorf("%s: cache %s, want revalidate", f.Path, f.Cache)
		}
		return
	}
	orig := f.Path
	if f.Original != "" {
		orig = f.Original
	}
	src, err := os.ReadFile(filepath.Join(srcDir, filepath.FromSlash(orig)))
	if err != nil {
		t.Errorf("%s: no source file %s: %v", f.Path, orig, err)
		return
	}
	if !bytes.Equal(src, b) {
		t.Errorf("%s is not byte-identical to %s", f.Path, orig)
	}
	if f.Cache == Immutable && !viteHashRE.MatchString(path.Base(f.Path)) {
		t.Errorf("%s is immutable but has no content hash in its name", f.Path)
	}
}

var refRE = regexp.MustCompile(`(?:src|href)="([^"]+)"|url\(([^)]+)\)`)

// checkRefs resolves every local reference in index.html and the CSS files,
// and checks SRI wherever the page carries integrity attributes.
func checkRefs(t testing.TB, m *Manifest, onDisk map[string][]byte) {
	t.Helper()
	for name, b := range onDisk {
		if name != EntryFile && path.Ext(name) != ".css" {
			continue
		}
		for _, mm := range refRE.FindAllSubmatch(b, -1) {
			ref := string(mm[1]) + strings.Trim(string(mm[2]), `"'`)
			if name != EntryFile && !strings.HasPrefix(ref, "/") {
				ref = path.Join(path.Dir(name), ref)
			}
			if strings.HasSuffix(ref, "/") && name == EntryFile {
				continue // <base href>
			}
			if target := localRef(ref, m.BasePath); target != "" {
				if _, ok := onDisk[target]; !ok {
					t.Errorf("%s references %s (%s), which is not in site/", name, ref, target)
				}
			}
		}
	}
	tags := regexp.MustCompile(`<(?:script|link)[^>]*\b(?:src|href)="([^"]+)"[^>]*>`).FindAllSubmatch(onDisk[EntryFile], -1)
	sri := 0
	for _, tag := range tags {
		if !bytes.Contains(tag[0], []byte(`rel="icon"`)) {
			f := m.File(localRef(string(tag[1]), m.BasePath))
			if f == nil || !strings.HasPrefix(f.Integrity, "sha384-") || !bytes.Contains(tag[0], []byte(`integrity="`+f.Integrity+`"`)) {
				t.Errorf("tag %s lacks the right integrity", tag[0])
			}
			sri++
		}
	}
	if sri == 0 {
		t.Errorf("no script or stylesheet with SRI in index.html")
	}
}

func TestBakeIsDeterministic(t *testing.T) {
	_, a := bakeTestTree(t, "v1.31", "/agents", nil)
	_, b := bakeTestTree(t, "v1.31", "/agents", nil)
	if d := DiffTrees(a, b); d != "" {
		t.Errorf("two bakes of the same inputs differ: %s", d)
	}
}

// DiffTrees returns "" when two directories hold the same files and bytes.
func DiffTrees(a, b string) string {
	read := func(root string) map[string][]byte {
		m := map[string][]byte{}
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel(root, p)
				m[rel], _ = os.ReadFile(p)
			}
			return nil
		})
		return m
	}
	ma, mb := read(a), read(b)
	if len(ma) != len(mb) {
		return "file counts differ"
	}
	for k, v := range ma {
		if !bytes.Equal(v, mb[k]) {
			return k + " differs"
		}
	}
	return ""
}

func TestFingerprintRenamesUnhashedFiles(t *testing.T) {
	r, out := bakeTestTree(t, "v1.31", "/agents", nil)
	f := fileByOriginal(r.Manifest, "mastra-dark-tile.svg")
	if f == nil || f.Path == "mastra-dark-tile.svg" || f.Cache != Immutable {
		t.Fatalf("favicon entry %+v: want a content-hashed, immutable name", f)
	}
	page, _ := os.ReadFile(filepath.Join(out, SiteDir, EntryFile))
	if !bytes.Contains(page, []byte(`href="./`+f.Path+`"`)) {
		t.Errorf("index.html does not reference the renamed favicon %s", f.Path)
	}
	if rm := r.Manifest.File(RoutesManifest); rm == nil || rm.Cache != Revalidate {
		t.Errorf("routes-manifest.json must keep its name and revalidate: %+v", rm)
	}
	if strings.Join(r.Manifest.Routes, ",") != "agents,mcps,settings,tools,traces,workflows" {
		t.Errorf("routes = %v", r.Manifest.Routes)
	}
}

func fileByOriginal(m *Manifest, orig string) *File {
	for i := range m.Files {
		if m.Files[i].Original == orig {
			return &m.Files[i]
		}
	}
	return nil
}

// TestReferencedFromCodeKeepsName: a file that a (never rewritten) JS bundle
// names must keep its name, or the bundle would point at nothing.
func TestReferencedFromCodeKeepsName(t *testing.T) {
	src := copyTestTree(t, "v1.31")
	must(t, os.WriteFile(filepath.Join(src, "assets", "main-W2e3R4t5.js"), []byte(`const logo = "mastra-dark-tile.svg";`), 0o644))
	r, _ := bakeTestTree(t, "v1.31", "/agents", func(o *Options) { o.Source.Dir = src })
	if f := r.Manifest.File("mastra-dark-tile.svg"); f == nil || f.Cache != Revalidate {
		t.Errorf("favicon named by the bundle: entry %+v, want its own name, revalidated", f)
	}
}

func copyTestTree(t *testing.T, dir string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), dir)
	src := filepath.Join("..", "testdata", "studio", dir)
	must(t, filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	}))
	return dst
}

func TestUnknownPlaceholder(t *testing.T) {
	src := copyTestTree(t, "v1.31")
	p := filepath.Join(src, EntryFile)
	b, _ := os.ReadFile(p)
	b = bytes.Replace(b, []byte("<script>\n"), []byte("<script>\n      window.MASTRA_FUTURE = '%%MASTRA_FUTURE%%';\n"), 1)
	must(t, os.WriteFile(p, b, 0o644))
	r, _ := bakeTestTree(t, "v1.31", "", func(o *Options) { o.Source.Dir = src })
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "MASTRA_FUTURE") {
		t.Errorf("warnings %q, want one naming MASTRA_FUTURE", r.Warnings)
	}
	o := Options{Source: &Source{Dir: src}, Out: filepath.Join(t.TempDir(), "d"), Values: fullValues(), Strict: true}
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "MASTRA_FUTURE") {
		t.Errorf("--strict: err = %v, want an error naming MASTRA_FUTURE", err)
	}
	if _, err := os.Stat(o.Out); !os.IsNotExist(err) {
		t.Errorf("failed bake left %s behind", o.Out)
	}
}

func TestBadTrees(t *testing.T) {
	empty := t.TempDir()
	noTokens := t.TempDir()
	must(t, os.WriteFile(filepath.Join(noTokens, EntryFile), []byte("<html>baked already</html>"), 0o644))
	cases := []struct{ desc, dir, base, want string }{
		{"no index.html", empty, "", "no index.html"},
		{"no placeholders", noTokens, "", "no %%MASTRA_*%% placeholders"},
		{"base path on 0.18", filepath.Join("..", "testdata", "studio", "v0.18"), "/agents", `invalid MASTRA_STUDIO_BASE_PATH "/agents"`},
	}
	for _, c := range cases {
		out := filepath.Join(t.TempDir(), "dist")
		_, err := Run(context.Background(), Options{Source: &Source{Dir: c.dir}, Out: out, Values: fullValues(), BasePath: c.base})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.desc, err, c.want)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("%s: failed bake left %s behind", c.desc, out)
		}
	}
}

func TestCheckVersion(t *testing.T) {
	cases := []struct {
		v          string
		err, warns bool
	}{
		{"0.17.7", true, false}, {"0.18.0", false, false}, {"0.18.9", false, false}, {"1.0.1", false, false},
		{"1.31.0", false, false}, {"1.40.0-alpha.1", false, false}, {"2.0.0", false, true}, {"", false, false},
	}
	for _, c := range cases {
		w, err := checkVersion(c.v)
		if (err != nil) != c.err || (w != "") != c.warns {
			t.Errorf("checkVersion(%q) = %q, %v; want error %v, warning %v", c.v, w, err, c.err, c.warns)
		}
	}
}

func TestOutputSafety(t *testing.T) {
	src := filepath.Join("..", "testdata", "studio", "v1.31")
	run := func(out string, force bool, finish func(string, *Manifest) error) error {
		_, err := Run(context.Background(), Options{Source: &Source{Dir: src}, Out: out, Values: fullValues(), Force: force, Finish: finish})
		return err
	}
	foreign := t.TempDir()
	must(t, os.WriteFile(filepath.Join(foreign, "notes.txt"), []byte("keep me"), 0o644))
	wd, _ := os.Getwd()
	cases := []struct{ desc, out, want string }{
		{"foreign non-empty dir", foreign, "not an earlier studiobake output"},
		{"root", "/", "refusing output /"},
		{"working directory", wd, "refusing output"},
		{"inside the Studio tree", filepath.Join(src, "dist"), "overlaps the Studio tree"},
		{"an existing file", filepath.Join(foreign, "notes.txt"), "is a file"},
	}
	for _, c := range cases {
		if err := run(c.out, false, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.desc, err, c.want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(foreign, "notes.txt")); string(b) != "keep me" {
		t.Fatalf("a refused build changed %s", foreign)
	}
	if err := run(foreign, true, nil); err != nil {
		t.Errorf("--force on a foreign directory: %v", err)
	}

	out := filepath.Join(t.TempDir(), "dist")
	must(t, run(out, false, nil))
	before, _ := os.ReadFile(filepath.Join(out, ManifestFile))
	boom := errors.New("edge step failed")
	if err := run(out, false, func(string, *Manifest) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the Finish error", err)
	}
	after, _ := os.ReadFile(filepath.Join(out, ManifestFile))
	if !bytes.Equal(before, after) {
		t.Errorf("a failed build changed the previous output")
	}
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".dist.*")); len(leftovers) != 0 {
		t.Errorf("temporary directories left: %v", leftovers)
	}
	if err := run(out, false, nil); err != nil {
		t.Errorf("rebuilding over an earlier bake: %v", err)
	}
}

// TestNameSplitAcrossChunks: a bundle that names a file exactly where the
// copy's chunks meet must still keep that file's name.
func TestNameSplitAcrossChunks(t *testing.T) {
	src := copyTestTree(t, "v1.31")
	js := append(bytes.Repeat([]byte("a"), chunkSize-5), []byte(`"mastra-dark-tile.svg";`)...)
	must(t, os.WriteFile(filepath.Join(src, "assets", "main-W2e3R4t5.js"), js, 0o644))
	r, out := bakeTestTree(t, "v1.31", "/agents", func(o *Options) { o.Source.Dir = src })
	if f := r.Manifest.File("mastra-dark-tile.svg"); f == nil || f.Cache != Revalidate {
		t.Errorf("favicon named across a chunk boundary: entry %+v, want its own name", f)
	}
	CheckBake(t, src, out, r.Manifest)
}

// TestInterruptedBake: a cancelled bake leaves the previous output and no
// temporary directory.
func TestInterruptedBake(t *testing.T) {
	_, out := bakeTestTree(t, "v1.31", "/agents", nil)
	before, _ := os.ReadFile(filepath.Join(out, ManifestFile))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, Options{Source: &Source{Dir: filepath.Join("..", "testdata", "studio", "v1.0")}, Out: out, Values: fullValues()})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("err = %v, want an interrupted bake", err)
	}
	after, _ := os.ReadFile(filepath.Join(out, ManifestFile))
	if !bytes.Equal(before, after) {
		t.Errorf("an interrupted bake changed the previous output")
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".dist.tmp-*")); len(left) > 0 {
		t.Errorf("temporary directories left: %v", left)
	}
}

// TestBadRoutesRefused: routes reach nginx locations and _redirects rules, so
// a route that is not a plain path segment fails the bake.
func TestBadRoutesRefused(t *testing.T) {
	src := copyTestTree(t, "v1.31")
	must(t, os.WriteFile(filepath.Join(src, RoutesManifest), []byte(`["agents", "x) { } location / { return 302 https://evil.example/; }"]`), 0o644))
	out := filepath.Join(t.TempDir(), "dist")
	_, err := Run(context.Background(), Options{Source: &Source{Dir: src}, Out: out, Values: fullValues()})
	if err == nil || !strings.Contains(err.Error(), "routes-manifest.json lists route") {
		t.Fatalf("err = %v, want the bad route refused", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a refused bake left %s", out)
	}
}

// TestAPIPrefixCollisions: with the API on the page's origin at the site
// root, a prefix that is a Studio page or a file of the tree is refused and
// nothing is written; a free prefix is recorded in the manifest.
func TestAPIPrefixCollisions(t *testing.T) {
	src := filepath.Join("..", "testdata", "studio", "v1.31")
	for _, c := range []struct{ prefix, want string }{
		{"/agents", `invalid MASTRA_API_PREFIX "/agents": /agents is a Studio page`},
		{"/workflows/api", `/workflows is a Studio page`},
		{"/assets", `/assets is a file of the Studio tree`},
		{"/mastra-dark-tile.svg", `is a file of the Studio tree`},
	} {
		out := filepath.Join(t.TempDir(), "dist")
		api := API{Mode: APIOneOrigin, Prefix: c.prefix, Upstream: "https://m.example.com", Probe: "(page origin)/"}
		_, err := Run(context.Background(), Options{Source: &Source{Dir: src}, Out: out, Values: fullValues(), API: api})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("prefix %s: err = %v, want %q", c.prefix, err, c.want)
		}
		if _, statErr := os.Stat(out); !os.IsNotExist(statErr) {
			t.Errorf("prefix %s: %s was written", c.prefix, out)
		}
	}
	api := API{Mode: APIOneOrigin, Prefix: "/api", Upstream: "https://m.example.com", Probe: "(page origin)/"}
	_, out := bakeTestTree(t, "v1.31", "", func(o *Options) { o.API, o.APIOrigin = api, "" })
	m, err := ReadManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	if m.API != api {
		t.Fatalf("manifest API = %+v, want %+v", m.API, api)
	}
	// A direct bake may use any prefix: its API is on another origin.
	bakeTestTree(t, "v1.31", "", func(o *Options) { o.API = API{Mode: APIDirect, Prefix: "/agents"} })
}
