package build

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/studiobake/studiobake/env"
)

// realSource fetches the pinned mastra package from the npm registry that
// npm is configured with (cached under the test cache directory). Locally the
// test skips when the registry cannot be reached; under CI=true it fails.
func realSource(t *testing.T) *Source {
	t.Helper()
	return realVersion(t, DefaultMastraVersion)
}

func realVersion(t *testing.T, version string) *Source {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping the real mastra package")
	}
	cache := os.Getenv("STUDIOBAKE_TEST_CACHE")
	if cache == "" {
		if d, err := os.UserCacheDir(); err == nil {
			cache = filepath.Join(d, "studiobake-test")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	src, err := FindSource(ctx, SourceOptions{MastraVersion: version, Dir: t.TempDir(), Environ: os.Environ(), CacheDir: cache})
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("fetch mastra@%s (CI needs the npm registry): %v", version, err)
		}
		t.Skipf("the npm registry is not reachable, skipping the real mastra package: %v", err)
	}
	t.Cleanup(src.Close)
	return src
}

// TestRealPackage bakes the real Studio of the pinned mastra release end to
// end: configuration from a .env file holding secrets, no placeholder left,
// every local reference resolving, SRI matching the bytes, Vite-hashed files
// byte-identical, two bakes identical, and no secret anywhere in the output.
func TestRealPackage(t *testing.T) {
	src := realSource(t)
	if src.Version != DefaultMastraVersion {
		t.Fatalf("fetched version %q, want %s", src.Version, DefaultMastraVersion)
	}
	work := t.TempDir()
	secrets := []string{"sk-test-9f8e7d6c5b4a", "jwt-secret-0a1b2c3d"}
	dotenv := "MASTRA_SERVER_HOST=api.example.com\nMASTRA_SERVER_PROTOCOL=https\nMASTRA_STUDIO_BASE_PATH=/agents\n" +
		"OPENAI_API_KEY=" + secrets[0] + "\nMASTRA_JWT_SECRET=" + secrets[1] + "\n"
	must(t, os.WriteFile(filepath.Join(work, ".env"), []byte(dotenv), 0o600))
	cfg, _, err := env.Load(env.Sources{Dir: work})
	must(t, err)
	bakeOnce := func(name string) (*Result, string) {
		out := filepath.Join(work, name)
		r, err := Run(context.Background(), Options{
			Source: src, Out: out, Values: cfg.Values, BasePath: cfg.BasePath,
			APIEndpoint: cfg.APIEndpoint, APIOrigin: cfg.APIOrigin, Version: "test",
		})
		must(t, err)
		return r, out
	}
	r, a := bakeOnce("a")
	_, b := bakeOnce("b")
	CheckBake(t, src.Dir, a, r.Manifest)
	if d := DiffTrees(a, b); d != "" {
		t.Errorf("two bakes of mastra %s differ: %s", src.Version, d)
	}
	if r.Files != 35 || r.Manifest.APIEndpoint != "https://api.example.com:443/api" || r.Manifest.BasePath != "/agents" {
		t.Errorf("bake: %d files, endpoint %q, base %q", r.Files, r.Manifest.APIEndpoint, r.Manifest.BasePath)
	}
	if len(r.Manifest.Routes) == 0 {
		t.Errorf("no routes read from routes-manifest.json")
	}
	page, _ := os.ReadFile(filepath.Join(a, SiteDir, EntryFile))
	if run := runPage(t, page); run.eventSources != 0 || run.window["MASTRA_SERVER_PORT"] != "443" {
		t.Errorf("baked page: %d EventSource connections, port %v", run.eventSources, run.window["MASTRA_SERVER_PORT"])
	}
	assertAbsent(t, a, secrets)
}

func assertAbsent(t *testing.T, dir string, secrets []string) {
	t.Helper()
	must(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		for _, s := range secrets {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("secret %q from .env found in %s", s, p)
			}
		}
		return err
	}))
}

// TestRealOlderStudios bakes the real Studio of older supported releases, one
// of each shape (0.18's dist/playground, 1.0, 1.10 with routes): every
// placeholder filled, references and SRI right, no refresh-events
// connection, and the values read back from the page.
func TestRealOlderStudios(t *testing.T) {
	for _, c := range []struct{ version, base string }{{"0.18.9", ""}, {"1.0.1", "/agents"}, {"1.10.0", "/agents"}} {
		t.Run(c.version, func(t *testing.T) {
			src := realVersion(t, c.version)
			values := fullValues()
			values["MASTRA_STUDIO_BASE_PATH"] = c.base
			out := filepath.Join(t.TempDir(), "dist")
			// Compression is not the subject here: the fast level spares CI
			// a brotli 11 run over each version's chunks.
			r, err := Run(context.Background(), Options{Source: src, Out: out, Values: values, BasePath: c.base, Precompress: PrecompressFast})
			must(t, err)
			CheckBake(t, src.Dir, out, r.Manifest)
			page, _ := os.ReadFile(filepath.Join(out, SiteDir, EntryFile))
			run := runPage(t, page)
			if run.eventSources != 0 || run.window["MASTRA_SERVER_HOST"] != "api.example.com" {
				t.Errorf("mastra %s: %d EventSource connections, host %v", c.version, run.eventSources, run.window["MASTRA_SERVER_HOST"])
			}
		})
	}
}
