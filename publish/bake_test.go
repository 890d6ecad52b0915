package publish

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/studiobake/studiobake/build"
	"github.com/studiobake/studiobake/templates"
)

// testBake describes a fake bake: a few hashed assets, unhashed files and an
// index.html that references every asset, the way Studio's does.
type testBake struct {
	basePath string
	version  string            // goes into index.html and the main chunk
	shared   string            // content of a chunk that stays the same across versions
	extra    map[string]string // more files (path to content); hashed when under assets/
	favicon  string
	gate     bool                        // write edge/cloudfront/ (build --edge cloudfront)
	auth     templates.CloudFrontOptions // the gate's auth settings
	api      build.API                   // how the page reaches the API (one-origin: the gate passes it)
}

func hashName(stem, ext, content string) string {
	sum := sha256.Sum256([]byte(content))
	return fmt.Sprintf("assets/%s-%s%s", stem, hex.EncodeToString(sum[:])[:8], ext)
}

// files returns path to content for the bake.
func (b testBake) files() map[string]string {
	shared := b.shared
	if shared == "" {
		shared = "export const vendor = 1;\n"
	}
	fav := b.favicon
	if fav == "" {
		fav = "<svg xmlns=\"http://www.w3.org/2000/svg\"/>\n"
	}
	main := "import './vendor.js'; console.log('studio " + b.version + "');\n"
	fs := map[string]string{
		hashName("index", ".js", main):       main,
		hashName("vendor", ".js", shared):    shared,
		hashName("style", ".css", b.version): "body{--v:'" + b.version + "'}\n",
		"mastra-dark-tile.svg":               fav,
		"routes-manifest.json":               "[\"agents\",\"workflows\"]\n",
	}
	for p, c := range b.extra {
		fs[p] = c
	}
	var refs []string
	for p := range fs {
		if strings.HasPrefix(p, "assets/") {
			refs = append(refs, fmt.Sprintf("<script type=\"module\" src=\"./%s\"></script>", p))
		}
	}
	sort.Strings(refs)
	fs["index.html"] = "<!doctype html><html><head><base href=\"" + b.basePath + "/\" />\n" +
		strings.Join(refs, "\n") + "\n<!-- studio " + b.version + " --></head></html>\n"
	return fs
}

// write writes the bake into a new directory and returns it.
func (b testBake) write(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	m := build.Manifest{Schema: build.ManifestSchema, BasePath: b.basePath, Entry: build.EntryFile,
		Studio: build.StudioInfo{Version: "1.31.0", Layout: "studio"}, API: b.api}
	for p, c := range b.files() {
		full := filepath.Join(dir, build.SiteDir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(c))
		class := build.Revalidate
		if strings.HasPrefix(p, "assets/") {
			class = build.Immutable
		}
		m.Files = append(m.Files, build.File{Path: p, Size: int64(len(c)), SHA256: hex.EncodeToString(sum[:]),
			ContentType: contentTypeFor(p), Cache: class})
	}
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Path < m.Files[j].Path })
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, build.ManifestFile), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if b.gate {
		if err := templates.WriteEdge(dir, &m, templates.EdgeOptions{Hosts: []templates.Host{templates.CloudFront}, Auth: b.auth}); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var assetRef = regexp.MustCompile(`\./(assets/[^"']+)`)

// referenced lists the assets an index.html references.
func referenced(index []byte) []string {
	var out []string
	for _, m := range assetRef.FindAllSubmatch(index, -1) {
		out = append(out, string(m[1]))
	}
	return out
}
