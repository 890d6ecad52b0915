package build

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// checkOutput refuses output directories whose replacement would destroy
// something: the file system root, the home or working directory or one of
// their parents, anything inside the Studio tree or holding it, and a
// non-empty directory that is not an earlier bake (unless force). It returns
// the absolute output path.
func checkOutput(out, source string, force bool) (string, error) {
	abs, err := filepath.Abs(out)
	if err != nil {
		return "", fmt.Errorf("output %s: %w", out, err)
	}
	src, err := filepath.Abs(source)
	if err != nil {
		return "", err
	}
	if real, err := filepath.EvalSymlinks(src); err == nil {
		src = real
	}
	realOut := abs
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		realOut = r
	} else if fi, lerr := os.Lstat(abs); lerr == nil && fi.Mode()&os.ModeSymlink != 0 {
		return "", fmt.Errorf("refusing output %s: it is a link to a missing directory", out)
	}
	if within(realOut, src) || within(src, realOut) {
		return "", fmt.Errorf("refusing output %s: it overlaps the Studio tree %s", out, source)
	}
	for _, keep := range protectedDirs() {
		if within(keep, realOut) {
			return "", fmt.Errorf("refusing output %s: replacing it would delete %s", out, keep)
		}
	}
	// A symlinked output is followed: the link stays, and what it names is
	// replaced (a container volume or a shared cache path).
	abs = realOut
	st, err := os.Stat(abs)
	switch {
	case os.IsNotExist(err):
		return abs, nil
	case err != nil:
		return "", fmt.Errorf("output %s: %w", out, err)
	case !st.IsDir():
		return "", fmt.Errorf("refusing output %s: it is a file, not a directory", out)
	}
	if force || isEarlierBake(abs) {
		return abs, nil
	}
	return "", fmt.Errorf("refusing output %s: the directory is not empty and is not an earlier studiobake output (use --force to replace it)", out)
}

// within reports whether p is dir or inside it.
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func protectedDirs() []string {
	dirs := []string{string(filepath.Separator)}
	if h, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, h)
	}
	if wd, err := os.Getwd(); err == nil {
		dirs = append(dirs, wd)
	}
	for i, d := range dirs {
		if r, err := filepath.EvalSymlinks(d); err == nil {
			dirs[i] = r
		}
	}
	return dirs
}

// isEarlierBake: empty, or only what a bake writes, with a readable manifest.
func isEarlierBake(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	if len(entries) == 0 {
		return true
	}
	for _, e := range entries {
		switch name := e.Name(); {
		case slices.Contains(bakeEntries(), name):
		case strings.HasPrefix(name, insideTemp) || strings.HasPrefix(name, insideOld):
		default:
			return false
		}
	}
	_, err = ReadManifest(dir)
	return err == nil
}

// writeOutput bakes into a temporary directory beside out, runs Finish on
// it, and only then swaps it in, so a failed or interrupted build leaves the
// previous output as it was.
func writeOutput(ctx context.Context, out string, o Options, warn func(string)) (m *Manifest, stats PrecompressStats, err error) {
	parent := filepath.Dir(out)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, stats, fmt.Errorf("output %s: %w", out, err)
	}
	// A mount point (a container volume) cannot be renamed: bake inside it
	// and swap its entries instead.
	inPlace := isDir(out) && isMountPoint(out)
	tmpDir, prefix := parent, "."+filepath.Base(out)+".tmp-"
	if inPlace {
		tmpDir, prefix = out, insideTemp
	}
	removeLeftovers(tmpDir, prefix)
	tmp, err := os.MkdirTemp(tmpDir, prefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return nil, stats, fmt.Errorf("output %s: %w", out, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, stats, err
	}
	if m, stats, err = bake(ctx, filepath.Join(tmp, SiteDir), o, warn); err != nil {
		return nil, stats, err
	}
	mb, err := m.encode()
	if err != nil {
		return nil, stats, err
	}
	if err := writeFile(filepath.Join(tmp, ManifestFile), mb); err != nil {
		return nil, stats, err
	}
	if o.PublicManifest {
		if err := writeFile(filepath.Join(tmp, SiteDir, PublicManifest), mb); err != nil {
			return nil, stats, err
		}
	}
	if o.Finish != nil {
		if err := o.Finish(tmp, m); err != nil {
			return nil, stats, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, stats, err
	}
	if inPlace {
		return m, stats, swapInside(tmp, out)
	}
	return m, stats, swap(tmp, out)
}

// Temporary entries of an in-place swap, inside the output directory.
const (
	insideTemp = ".studiobake.tmp-"
	insideOld  = ".studiobake.old-"
)

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// removeLeftovers deletes temporary directories of earlier bakes that were
// stopped at once (a second Ctrl-C, a killed container): their names carry
// the process id, and only those whose process is gone are removed, so a
// bake running beside this one keeps its own.
func removeLeftovers(dir, prefix string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			rest, ok = strings.CutPrefix(e.Name(), insideOld)
		}
		pid, _, _ := strings.Cut(rest, "-")
		if n, err := strconv.Atoi(pid); ok && err == nil && n != os.Getpid() && !processAlive(n) {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// swapInside moves the bake's entries into out, which cannot be renamed
// itself: the previous entries go aside first and come back if a move
// fails. Each rename stays on one file system.
func swapInside(tmp, out string) error {
	old, err := os.MkdirTemp(out, insideOld+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return fmt.Errorf("replace %s: %w", out, err)
	}
	var moved []string
	restore := func(err error) error {
		for _, name := range moved {
			os.Rename(filepath.Join(old, name), filepath.Join(out, name))
		}
		return fmt.Errorf("replace %s: %w", out, err)
	}
	for _, name := range bakeEntries() {
		if _, err := os.Lstat(filepath.Join(out, name)); err == nil {
			if err := os.Rename(filepath.Join(out, name), filepath.Join(old, name)); err != nil {
				return restore(err)
			}
			moved = append(moved, name)
		}
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return restore(err)
	}
	for _, e := range entries {
		if err := os.Rename(filepath.Join(tmp, e.Name()), filepath.Join(out, e.Name())); err != nil {
			return restore(err)
		}
	}
	os.RemoveAll(tmp)
	return os.RemoveAll(old)
}

// swap replaces out with tmp: two renames, with the old output put back if
// the second fails.
func swap(tmp, out string) error {
	if _, err := os.Lstat(out); os.IsNotExist(err) {
		return os.Rename(tmp, out)
	}
	old := tmp + ".old"
	if err := os.Rename(out, old); err != nil {
		return fmt.Errorf("replace %s: %w", out, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		if e := os.Rename(old, out); e != nil {
			return fmt.Errorf("replace %s: %w (the previous output is at %s)", out, err, old)
		}
		return fmt.Errorf("replace %s: %w", out, err)
	}
	return os.RemoveAll(old)
}
