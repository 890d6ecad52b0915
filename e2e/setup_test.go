// Package e2e holds studiobake's end-to-end tests: the real Studio baked,
// served with the CDN's routing, and driven in headless Chromium.
package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/studiobake/studiobake/build"
	"github.com/studiobake/studiobake/env"
)

// need skips a test whose prerequisite is missing, except in CI, where the
// prerequisite is part of the setup and its absence is a failure.
func need(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and "+format, args...)
	}
	t.Skipf(format, args...)
}

// chromiumPath finds the browser: STUDIOBAKE_CHROMIUM, else Debian's chromium.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("STUDIOBAKE_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			need(t, "STUDIOBAKE_CHROMIUM=%s: %v", p, err)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	need(t, "no chromium found (install Debian's chromium or set STUDIOBAKE_CHROMIUM)")
	return ""
}

// studioSource finds the real mastra Studio tree: STUDIOBAKE_STUDIO_DIR (a
// Studio tree, a mastra package directory or its .tgz), else mastra
// 1.31.0 from the npm registry through build's cache (STUDIOBAKE_CACHE_DIR,
// else the user cache directory; skipped with -short).
func studioSource(t *testing.T) *build.Source {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	o := build.SourceOptions{MastraVersion: build.DefaultMastraVersion, Environ: os.Environ(),
		CacheDir: os.Getenv("STUDIOBAKE_CACHE_DIR")}
	if dir := os.Getenv("STUDIOBAKE_STUDIO_DIR"); dir != "" {
		o = build.SourceOptions{Studio: dir}
	} else if testing.Short() {
		need(t, "-short: not fetching mastra %s; set STUDIOBAKE_STUDIO_DIR to a Studio tree", build.DefaultMastraVersion)
	}
	src, err := build.FindSource(ctx, o)
	if err != nil {
		need(t, "no Studio tree (set STUDIOBAKE_STUDIO_DIR to mastra's dist/studio): %v", err)
	}
	t.Cleanup(src.Close)
	return src
}

// bake bakes src for the base path and API the way `studiobake build` does:
// values through env's validation, then build.Run.
func bake(t *testing.T, src *build.Source, flags map[string]string) string {
	t.Helper()
	cfg, _, err := env.Load(env.Sources{Flags: flags})
	if err != nil {
		t.Fatalf("env: %v", err)
	}
	out := filepath.Join(t.TempDir(), "dist")
	_, err = build.Run(context.Background(), build.Options{
		Source: src, Out: out, Values: cfg.Values, BasePath: cfg.BasePath,
		APIEndpoint: cfg.APIEndpoint, APIOrigin: cfg.APIOrigin, TelemetryEnabled: cfg.TelemetryEnabled,
		Version: "e2e",
		// The cache the CLI uses too: brotli 11 runs once per machine.
		CacheDir: os.Getenv("STUDIOBAKE_CACHE_DIR"),
	})
	if err != nil {
		t.Fatalf("bake: %v", err)
	}
	return out
}

// artifactsDir is STUDIOBAKE_ARTIFACTS, else testdata/artifacts at the
// module root (gitignored).
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("STUDIOBAKE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "testdata", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifacts: %v", err)
	}
	return dir
}
