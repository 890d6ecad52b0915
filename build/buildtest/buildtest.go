// Package buildtest bakes small Studio trees for the tests of the packages
// that consume bakes (serve, publish, e2e).
package buildtest

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/studiobake/studiobake/build"
)

// PrecompressedBake bakes the repository's 1.31-shaped test tree
// (testdata/studio/v1.31) under /agents into a temporary directory, with
// its own empty variant cache: its main chunk and page get precompressed
// variants.
func PrecompressedBake(t testing.TB) (dir string, m *build.Manifest) {
	t.Helper()
	return BakeTree(t, nil)
}

// BakeTree is PrecompressedBake of a copy of the tree that edit changes
// first (nil: the tree itself).
func BakeTree(t testing.TB, edit func(tree string)) (dir string, m *build.Manifest) {
	t.Helper()
	return BakeTreeAt(t, build.PrecompressBest, edit)
}

// BakeTreeAt is BakeTree at the given --precompress level; at off the bake
// has no variants, at the others it must have some.
func BakeTreeAt(t testing.TB, precompress build.Precompress, edit func(tree string)) (dir string, m *build.Manifest) {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	tree := filepath.Join(filepath.Dir(here), "..", "..", "testdata", "studio", "v1.31")
	if edit != nil {
		copied := filepath.Join(t.TempDir(), "studio")
		if err := os.CopyFS(copied, os.DirFS(tree)); err != nil {
			t.Fatal(err)
		}
		tree = copied
		edit(tree)
	}
	out := filepath.Join(t.TempDir(), "dist")
	r, err := build.Run(context.Background(), build.Options{
		Source: &build.Source{Dir: tree}, Out: out, BasePath: "/agents",
		Values:   map[string]string{"MASTRA_STUDIO_BASE_PATH": "/agents"},
		CacheDir: t.TempDir(), Precompress: precompress,
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Precompressed.Variants == 0 && precompress != build.PrecompressOff {
		t.Fatal("the test tree has no precompressed variants")
	}
	return out, r.Manifest
}

// Entry is the test tree's entry script, which its page loads with
// integrity.
const Entry = "assets/index-K9j8H7g6.js"

// EntryBake is BakeTree with an entry script long enough to get variants:
// the page then loads a precompressed file with integrity.
func EntryBake(t testing.TB) (dir string, m *build.Manifest) {
	t.Helper()
	return BakeTree(t, func(tree string) {
		js := strings.Repeat("document.title = 'Mastra Studio';\n", 40)
		if err := os.WriteFile(filepath.Join(tree, filepath.FromSlash(Entry)), []byte(js), 0o644); err != nil {
			t.Fatal(err)
		}
	})
}

// Get fetches url with the given request headers and returns the answer
// and its body as sent: no transparent gzip decoding, which would hide the
// Content-Encoding under test.
func Get(t testing.TB, url string, headers map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}
