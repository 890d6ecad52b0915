package npm

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// tarEntry is one entry of a test tarball; Type 0 means a regular file.
type tarEntry struct {
	Name string
	Body string
	Type byte
	Link string
}

func makeTarball(t *testing.T, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		typ := e.Type
		if typ == 0 {
			typ = tar.TypeReg
		}
		hdr := &tar.Header{Name: e.Name, Typeflag: typ, Mode: 0o644, Linkname: e.Link, Format: tar.FormatPAX}
		if typ == tar.TypeReg {
			hdr.Size = int64(len(e.Body))
		}
		if typ == tar.TypeDir {
			hdr.Mode = 0o755
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("write header %s: %v", e.Name, err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write([]byte(e.Body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// studioFiles is the Studio tree the test tarballs carry, relative to the subdir.
func studioFiles(version string) map[string]string {
	return map[string]string{
		"index.html":                "<!doctype html><base href=\"%%MASTRA_STUDIO_BASE_PATH%%/\" /><!-- " + version + " -->",
		"assets/index-AbCd1234.js":  strings.Repeat("console.log('studio');\n", 200),
		"assets/style-EfGh5678.css": "body{margin:0}",
		"mastra-dark-tile.svg":      "<svg/>",
		"routes-manifest.json":      `["agents","workflows"]`,
	}
}

// packageEntries lays out an npm tarball with the Studio tree under subdir
// ("dist/studio", "dist/playground" or "" for none) and files Studio must not get.
func packageEntries(version, subdir string) []tarEntry {
	es := []tarEntry{
		{Name: "package/package.json", Body: `{"name":"mastra","version":"` + version + `"}`},
		{Name: "package/README.md", Body: "readme"},
		{Name: "package/dist/index.js", Body: "cli"},
	}
	if subdir == "" {
		return es
	}
	files := studioFiles(version)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	es = append(es, tarEntry{Name: "package/" + subdir + "/", Type: tar.TypeDir})
	for _, n := range names {
		es = append(es, tarEntry{Name: "package/" + subdir + "/" + n, Body: files[n]})
	}
	return es
}

func sri512(b []byte) string {
	s := sha512.Sum512(b)
	return "sha512-" + b64(s[:])
}

// fakeRegistry serves a packument and tarballs from 127.0.0.1 (httptest's default).
type fakeRegistry struct {
	*httptest.Server
	mu       sync.Mutex
	tarballs map[string][]byte // version -> tgz as served
	dists    map[string]map[string]string
	distTags map[string]string
	status   int    // non-zero: every request answers this
	token    string // non-empty: requests must carry it as Bearer
	hits     atomic.Int64
	tarHits  atomic.Int64
	authSeen []string
}

func newFakeRegistry(t *testing.T) *fakeRegistry {
	t.Helper()
	r := &fakeRegistry{tarballs: map[string][]byte{}, dists: map[string]map[string]string{}, distTags: map[string]string{}}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

// add publishes a version whose integrity is computed over tgz.
func (r *fakeRegistry) add(version string, tgz []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tarballs[version] = tgz
	sha := sha1.Sum(tgz)
	r.dists[version] = map[string]string{
		"tarball":   r.URL + "/mastra/-/mastra-" + version + ".tgz",
		"integrity": sri512(tgz),
		"shasum":    hex.EncodeToString(sha[:]),
	}
}

func (r *fakeRegistry) serve(w http.ResponseWriter, req *http.Request) {
	r.hits.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.authSeen = append(r.authSeen, req.Header.Get("Authorization"))
	if r.status != 0 {
		http.Error(w, "boom", r.status)
		return
	}
	if r.token != "" && req.Header.Get("Authorization") != "Bearer "+r.token {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if req.URL.Path == "/mastra" {
		versions := map[string]any{}
		for v, d := range r.dists {
			versions[v] = map[string]any{"name": "mastra", "version": v, "dist": d}
		}
		w.Header().Set("Content-Type", "application/vnd.npm.install-v1+json")
		json.NewEncoder(w).Encode(map[string]any{"name": "mastra", "dist-tags": r.distTags, "versions": versions})
		return
	}
	for v, tgz := range r.tarballs {
		if req.URL.Path == "/mastra/-/mastra-"+v+".tgz" {
			r.tarHits.Add(1)
			w.Write(tgz)
			return
		}
	}
	http.NotFound(w, req)
}

// readTree returns every file under root by slash path.
func readTree(t *testing.T, root string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		got[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatalf("read %s: %v", root, err)
	}
	return got
}

func sameTree(t *testing.T, got, want map[string]string) {
	t.Helper()
	for n, w := range want {
		if g, ok := got[n]; !ok {
			t.Errorf("missing %s", n)
		} else if g != w {
			t.Errorf("%s differs: got %d bytes, want %d", n, len(g), len(w))
		}
	}
	for n := range got {
		if _, ok := want[n]; !ok {
			t.Errorf("unexpected file %s", n)
		}
	}
}

func mustGzip(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
