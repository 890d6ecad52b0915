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

// BenchmarkBakeReal bakes the real Studio tree; compare with BenchmarkCopyReal
// (cp -r of the same tree, measured in the same run).
func BenchmarkBakeReal(b *testing.B) {
	src := realStudio(b)
	root := b.TempDir()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		out := filepath.Join(root, "dist")
		_, err := Run(context.Background(), Options{Source: &Source{Dir: src}, Out: out, Values: fullValues(), BasePath: "/agents", Warn: func(string) {}})
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
