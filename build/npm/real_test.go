package npm

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// requireNetwork resolves the registry npm is configured with and checks that
// it answers. Unreachable: skip locally, but fail under CI=true, where a
// skipped real-registry test would hide a broken fetch.
func requireNetwork(t *testing.T) Registry {
	t.Helper()
	fail := t.Skipf
	if os.Getenv("CI") == "true" {
		fail = t.Fatalf
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reg, err := ResolveRegistry(ctx, "", ".", os.Environ())
	if err != nil {
		fail("no npm registry configured (%v): this test needs the network", err)
		return reg
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, reg.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fail("npm registry %s (from %s) unreachable: %v: this test needs the network", reg, reg.Source, err)
		return reg
	}
	resp.Body.Close()
	return reg
}

// TestFetchRealRegistry fetches the real mastra 1.31.0 through the registry
// npm is configured with and checks it against what that release contains.
func TestFetchRealRegistry(t *testing.T) {
	reg := requireNetwork(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	f, err := Fetch(ctx, FetchOptions{Registry: reg, Name: "mastra", Version: "1.31.0",
		CacheDir: t.TempDir(), Subdirs: []string{"package/dist/studio", "package/dist/playground"}})
	if err != nil {
		t.Fatal(err)
	}
	// Published versions are immutable, so the tarball's digest is fixed.
	const integrity = "sha512-cEGsDuZGsHmhX/+R9JiTFiUhYIAe2BMdnUMGKOqvkUEZeThsV6pY+xUawuxI0Lg5fuzQ3fKMFJpduDpTz+KSyQ=="
	if f.Integrity != integrity || f.Version != "1.31.0" || f.Subdir != "package/dist/studio" || f.Cached || len(f.Warnings) > 0 {
		t.Errorf("got %+v, want 1.31.0 from package/dist/studio verified by %s", *f, integrity)
	}
	index, err := os.ReadFile(filepath.Join(f.Dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(index), "%%MASTRA_STUDIO_BASE_PATH%%") {
		t.Error("index.html has no base path token")
	}
	tree := readTree(t, f.Dir)
	assets := 0
	for name := range tree {
		if strings.HasPrefix(name, "assets/") {
			assets++
		}
	}
	// 1.31.0 ships 32 hashed files under assets/ plus index.html,
	// mastra-dark-tile.svg and routes-manifest.json.
	if assets != 32 || len(tree) != 35 {
		t.Errorf("%d files, %d under assets/; want 35 and 32", len(tree), assets)
	}
}
