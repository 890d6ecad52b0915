// Package buildtest bakes small Studio trees for the tests of the packages
// that consume bakes (serve, publish, e2e).
package buildtest

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/studiobake/studiobake/build"
)

// PrecompressedBake bakes the repository's 1.31-shaped test tree
// (testdata/studio/v1.31) under /agents into a temporary directory, with
// its own empty variant cache: its main chunk and page get precompressed
// variants.
func PrecompressedBake(t testing.TB) (dir string, m *build.Manifest) {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	out := filepath.Join(t.TempDir(), "dist")
	r, err := build.Run(context.Background(), build.Options{
		Source: &build.Source{Dir: filepath.Join(filepath.Dir(here), "..", "..", "testdata", "studio", "v1.31")},
		Out:    out, Values: map[string]string{"MASTRA_STUDIO_BASE_PATH": "/agents"}, BasePath: "/agents",
		CacheDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Precompressed.Variants == 0 {
		t.Fatal("the test tree has no precompressed variants")
	}
	return out, r.Manifest
}
