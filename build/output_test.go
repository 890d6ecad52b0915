package build

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func bakeInto(t *testing.T, out string) {
	t.Helper()
	_, err := Run(context.Background(), Options{Source: &Source{Dir: filepath.Join("..", "testdata", "studio", "v1.31")}, Out: out, Values: fullValues()})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSymlinkedOutput: a link to a directory is followed; the link stays.
func TestSymlinkedOutput(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "volume", "dist")
	must(t, os.MkdirAll(real, 0o755))
	link := filepath.Join(dir, "dist")
	must(t, os.Symlink(real, link))
	bakeInto(t, link)
	bakeInto(t, link) // a second bake replaces the first through the link
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v %v", fi.Mode(), err)
	}
	if _, err := ReadManifest(real); err != nil {
		t.Fatalf("the bake is not in the link's target: %v", err)
	}
	must(t, os.Remove(link))
	must(t, os.Symlink(filepath.Join(dir, "missing"), link))
	_, err := Run(context.Background(), Options{Source: &Source{Dir: filepath.Join("..", "testdata", "studio", "v1.31")}, Out: link, Values: fullValues()})
	if err == nil {
		t.Fatal("a dangling link was accepted as output")
	}
}

// TestMountPointOutput: an output directory that cannot be renamed (a
// container volume) gets its entries swapped inside it; nothing else in it
// is touched, and no temporary entry is left.
func TestMountPointOutput(t *testing.T) {
	defer func(f func(string) bool) { isMountPoint = f }(isMountPoint)
	out := filepath.Join(t.TempDir(), "dist")
	bakeInto(t, out)
	isMountPoint = func(dir string) bool { return dir == out }
	before, err := os.Stat(out)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(out, "site", "stale.txt"), []byte("x"), 0o644))
	bakeInto(t, out)
	if _, err := os.Stat(filepath.Join(out, "site", "stale.txt")); !os.IsNotExist(err) {
		t.Fatal("the previous site/ survived the swap")
	}
	entries, err := os.ReadDir(out)
	must(t, err)
	if len(entries) != 2 { // site/ and manifest.json
		t.Fatalf("entries after an in-place swap: %v", entries)
	}
	if _, err := ReadManifest(out); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(out)
	must(t, err)
	if !os.SameFile(before, after) {
		t.Fatal("the output directory itself was replaced, which a mount point does not allow")
	}
}

// TestLeftoversRemoved: temporary directories of bakes stopped at once are
// removed by the next bake; one of a running process is kept.
func TestLeftoversRemoved(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "dist")
	dead := filepath.Join(dir, ".dist.tmp-999999999-abc")
	alive := filepath.Join(dir, ".dist.tmp-"+strconv.Itoa(os.Getppid())+"-abc")
	for _, d := range []string{dead, alive} {
		must(t, os.MkdirAll(filepath.Join(d, "site"), 0o755))
	}
	bakeInto(t, out)
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("leftover of a dead process kept: %s", dead)
	}
	if _, err := os.Stat(alive); err != nil {
		t.Errorf("temporary directory of a live process removed: %s", alive)
	}
}
