package build

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/studiobake/studiobake/build/npm"
)

// DefaultMastraVersion is the Studio fetched when no tree is given or found:
// a known-good release that the tests bake end to end.
const DefaultMastraVersion = "1.31.0"

// studioSubdirs are where the mastra package keeps Studio: dist/studio since
// 1.0, dist/playground in 0.18.
var studioSubdirs = []string{"dist/studio", "dist/playground"}

// SourceOptions say where to look for a Studio tree.
type SourceOptions struct {
	Studio        string   // --studio: a Studio tree, a mastra package directory, or a .tgz of the package
	Dir           string   // where to start looking for node_modules/mastra (the working directory)
	MastraVersion string   // --mastra-version; set explicitly, it skips node_modules
	Registry      string   // --registry; "" means npm's own configuration
	Environ       []string // for npm_config_* settings
	CacheDir      string   // "" means the user cache directory
	Progress      func(done, total int64)
}

// Source is a Studio tree ready to bake.
type Source struct {
	Dir     string // holds index.html and assets/
	Version string // the mastra package version, "" when unknown
	Origin  string // how it was found, for people: "npm mastra@1.31.0", "dir ./studio"
	cleanup func()
}

// Close removes any temporary files the source needed (an extracted .tgz).
func (s *Source) Close() {
	if s != nil && s.cleanup != nil {
		s.cleanup()
	}
}

// FindSource locates a Studio tree, first found wins: --studio; then
// node_modules/mastra found walking up from Dir (unless --mastra-version was
// given); then the mastra package fetched from the npm registry.
func FindSource(ctx context.Context, o SourceOptions) (*Source, error) {
	if o.Studio != "" {
		if strings.HasSuffix(o.Studio, ".tgz") || strings.HasSuffix(o.Studio, ".tar.gz") {
			return fromTarball(o.Studio)
		}
		return fromDir(o.Studio, "dir "+o.Studio)
	}
	if o.MastraVersion == "" {
		if s, err := fromNodeModules(o.Dir); s != nil || err != nil {
			return s, err
		}
		o.MastraVersion = DefaultMastraVersion
	}
	return fromRegistry(ctx, o)
}

// fromDir accepts a Studio tree itself or a mastra package directory.
func fromDir(dir, origin string) (*Source, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("studio tree %s: %w", dir, errors.Unwrap(err))
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("studio tree %s: not a directory or a .tgz of the mastra package", dir)
	}
	tree := dir
	if !exists(filepath.Join(dir, EntryFile)) {
		tree = ""
		for _, sub := range studioSubdirs {
			if exists(filepath.Join(dir, sub, EntryFile)) {
				tree = filepath.Join(dir, sub)
				break
			}
		}
		if tree == "" {
			return nil, fmt.Errorf("studio tree %s: no index.html (give the Studio directory, e.g. node_modules/mastra/dist/studio)", dir)
		}
	}
	version := packageVersion(tree)
	// pnpm and workspaces link node_modules/mastra elsewhere: bake the real
	// directory, whose files are then plain files.
	if real, err := filepath.EvalSymlinks(tree); err == nil {
		tree = real
	}
	return &Source{Dir: tree, Version: version, Origin: origin}, nil
}

func fromNodeModules(start string) (*Source, error) {
	if start == "" {
		start = "."
	}
	dir, err := filepath.Abs(start)
	if err != nil {
		return nil, err
	}
	for {
		pkg := filepath.Join(dir, "node_modules", "mastra")
		for _, sub := range studioSubdirs {
			if exists(filepath.Join(pkg, sub, EntryFile)) {
				return fromDir(filepath.Join(pkg, sub), "node_modules "+pkg)
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil, nil
		}
		dir = parent
	}
}

func fromTarball(file string) (*Source, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("studio tarball %s: %w", file, errors.Unwrap(err))
	}
	defer f.Close()
	tmp, err := os.MkdirTemp("", "studiobake-tgz-")
	if err != nil {
		return nil, err
	}
	dest := filepath.Join(tmp, "studio")
	_, version, err := npm.ExtractTarball(f, packagePaths(), dest)
	if err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("studio tarball %s: %w", file, err)
	}
	return &Source{Dir: dest, Version: version, Origin: "tarball " + file, cleanup: func() { os.RemoveAll(tmp) }}, nil
}

func fromRegistry(ctx context.Context, o SourceOptions) (*Source, error) {
	cache := o.CacheDir
	if cache == "" {
		if d, err := os.UserCacheDir(); err == nil {
			cache = filepath.Join(d, "studiobake")
		}
	}
	fo := npm.FetchOptions{Name: "mastra", Version: o.MastraVersion, CacheDir: cache, Subdirs: packagePaths(), Progress: o.Progress}
	if got, ok := npm.FromCache(fo); ok {
		return &Source{Dir: got.Dir, Version: got.Version, Origin: "npm mastra@" + got.Version}, nil
	}
	reg, err := npm.ResolveRegistry(ctx, o.Registry, o.Dir, o.Environ)
	if err != nil {
		return nil, err
	}
	fo.Registry = reg
	got, err := npm.Fetch(ctx, fo)
	if err != nil {
		return nil, err
	}
	return &Source{Dir: got.Dir, Version: got.Version, Origin: "npm mastra@" + got.Version}, nil
}

// packagePaths are studioSubdirs as they appear in an npm tarball.
func packagePaths() []string {
	out := make([]string, len(studioSubdirs))
	for i, s := range studioSubdirs {
		out[i] = "package/" + s
	}
	return out
}

// packageVersion reads the mastra package.json two levels above a Studio tree
// (mastra/dist/studio), or "" when there is none.
func packageVersion(tree string) string {
	b, err := os.ReadFile(filepath.Join(tree, "..", "..", "package.json"))
	if err != nil {
		return ""
	}
	var p struct{ Name, Version string }
	if json.Unmarshal(b, &p) != nil || p.Name != "mastra" {
		return ""
	}
	return p.Version
}

// checkVersion refuses mastra versions whose Studio studiobake cannot bake.
// Before 0.18 the tree had other placeholders and paths; versions newer than
// the last tested major bake with a warning, since tokens are found by pattern.
func checkVersion(v string) (warning string, err error) {
	if v == "" {
		return "", nil
	}
	parts := strings.SplitN(strings.SplitN(v, "-", 2)[0], ".", 3)
	major, err1 := strconv.Atoi(parts[0])
	minor := 0
	if len(parts) > 1 {
		minor, _ = strconv.Atoi(parts[1])
	}
	switch {
	case err1 != nil:
		return "", nil
	case major == 0 && minor < 18:
		return "", fmt.Errorf("mastra %s is not supported: studiobake bakes the Studio of mastra 0.18 to 1.x", v)
	case major > 1:
		return fmt.Sprintf("mastra %s is newer than the Studio versions studiobake was tested with (0.18 to 1.x); check the result", v), nil
	}
	return "", nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
