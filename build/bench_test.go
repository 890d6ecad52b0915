package build

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// realStudio is the real Studio tree the benchmarks bake: STUDIOBAKE_STUDIO_DIR
// (bench/build.sh fetches the pinned mastra package and sets it).
func realStudio(b *testing.B) string {
	dir := os.Getenv("STUDIOBAKE_STUDIO_DIR")
	if dir == "" {
		b.Skip("STUDIOBAKE_STUDIO_DIR is not set: run bench/build.sh, which fetches the real Studio tree")
	}
	return dir
}

// BenchmarkBakeReal bakes the real Studio tree as build does by default,
// its precompressed variants taken from the cache (filled before the clock
// starts); compare with BenchmarkCopyReal (cp -r of the same tree, measured
// in the same run).
func BenchmarkBakeReal(b *testing.B) {
	benchBake(b, PrecompressBest)
}

// BenchmarkBakeRealNoVariants is the bake without variants (--precompress off).
func BenchmarkBakeRealNoVariants(b *testing.B) {
	benchBake(b, PrecompressOff)
}

func benchBake(b *testing.B, p Precompress) {
	src := realStudio(b)
	root := b.TempDir()
	cache := os.Getenv("STUDIOBAKE_CACHE_DIR")
	o := Options{Source: &Source{Dir: src}, Values: fullValues(), BasePath: "/agents", Precompress: p, CacheDir: cache, Warn: func(string) {}}
	o.Out = filepath.Join(root, "warm")
	if _, err := Run(context.Background(), o); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out := filepath.Join(root, "dist")
		o.Out = out
		_, err := Run(context.Background(), o)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(out)
		b.StartTimer()
	}
}

// BenchmarkCopyReal is the baseline: cp -r of the same tree.
func BenchmarkCopyReal(b *testing.B) {
	src := realStudio(b)
	root := b.TempDir()
	for i := 0; i < b.N; i++ {
		out := filepath.Join(root, "copy")
		cmd := exec.Command("cp", "-r", src, out)
		cmd.Stderr = io.Discard
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(out)
		b.StartTimer()
	}
}
