package npm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Cache layout, under <CacheDir>/npm/:
//
//	mastra@1.31.0/
//	  studiobake-cache.json   name, version, verified integrity, subdir, and
//	                          the size and sha256 of every file below
//	  studio/                 the Studio tree (Fetched.Dir)
//	mastra@1.31.0.lock        held while the entry is being written
//	.tmp-mastra@1.31.0-*/     an entry being built, renamed into place whole
//
// An entry is used only if its metadata parses and every file still matches
// its recorded digest, so a half-written, truncated or edited entry is
// fetched again instead of baked.
const (
	cacheMetaFile = "studiobake-cache.json"
	cacheStudio   = "studio"
	cacheSchema   = 1
)

type cacheMeta struct {
	Schema    int                `json:"schema"`
	Name      string             `json:"name"`
	Version   string             `json:"version"`
	Integrity string             `json:"integrity"`
	Subdir    string             `json:"subdir"`
	Warnings  []string           `json:"warnings,omitempty"`
	Files     map[string]fileSum `json:"files"`
}

type fileSum struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// MTime (Unix nanoseconds) lets a later load skip re-hashing a file
	// whose size and modification time are as recorded, as git's index
	// does; 0 (entries written before it) means always hash.
	MTime int64 `json:"mtime,omitempty"`
}

// entryKey names a cache entry; a scoped name's "/" can't be in a path component.
func entryKey(name, version string) string {
	return strings.ReplaceAll(name, "/", "+") + "@" + version
}

func (o FetchOptions) entryDir(version string) string {
	return filepath.Join(o.CacheDir, "npm", entryKey(o.Name, version))
}

// loadEntry returns the cached tree if it is whole and unchanged.
func loadEntry(dir, name, version string, subdirs []string) (*Fetched, error) {
	data, err := os.ReadFile(filepath.Join(dir, cacheMetaFile))
	if err != nil {
		return nil, err
	}
	var m cacheMeta
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("cache entry %s: %w", dir, err)
	}
	if m.Schema != cacheSchema || m.Name != name || m.Version != version || !slices.Contains(subdirs, m.Subdir) {
		return nil, fmt.Errorf("cache entry %s: stale metadata", dir)
	}
	studio := filepath.Join(dir, cacheStudio)
	if err := verifyTree(studio, m.Files); err != nil {
		return nil, fmt.Errorf("cache entry %s: %w", dir, err)
	}
	return &Fetched{Dir: studio, Version: version, Integrity: m.Integrity, Subdir: m.Subdir, Cached: true, Warnings: m.Warnings}, nil
}

// verifyTree checks that root holds exactly the recorded files with their
// contents: a file whose size and modification time are as recorded is
// taken as unchanged (every bake would otherwise read the 11 MB tree twice),
// any other is hashed.
func verifyTree(root string, want map[string]fileSum) error {
	seen := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		w, ok := want[filepath.ToSlash(rel)]
		if !ok || !d.Type().IsRegular() {
			return fmt.Errorf("%s is not one of its files", p)
		}
		seen++
		info, err := d.Info()
		if err != nil {
			return err
		}
		if w.MTime != 0 && info.Size() == w.Size && info.ModTime().UnixNano() == w.MTime {
			return nil
		}
		got, err := sumFile(p)
		if err != nil {
			return err
		}
		if got.Size != w.Size || got.SHA256 != w.SHA256 {
			return fmt.Errorf("%s differs from its metadata", p)
		}
		return nil
	})
	if err == nil && seen != len(want) {
		err = fmt.Errorf("%d of its %d files are missing", len(want)-seen, len(want))
	}
	return err
}

// sumTree records every file's size, sha256 and modification time;
// anything but plain files and directories makes the tree unusable.
func sumTree(root string) (map[string]fileSum, error) {
	files := map[string]fileSum{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file", p)
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		s, err := sumFile(p)
		if err != nil {
			return err
		}
		if info, err := d.Info(); err == nil {
			s.MTime = info.ModTime().UnixNano()
		}
		files[filepath.ToSlash(rel)] = s
		return nil
	})
	return files, err
}

func sumFile(p string) (fileSum, error) {
	f, err := os.Open(p)
	if err != nil {
		return fileSum{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return fileSum{}, err
	}
	return fileSum{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// fetchCached builds the entry under a per-entry lock, so two concurrent
// builds download once: the second finds the first one's entry when it gets
// the lock.
func fetchCached(ctx context.Context, client *http.Client, o FetchOptions, version string, dist distInfo) (*Fetched, error) {
	npmDir := filepath.Join(o.CacheDir, "npm")
	if err := os.MkdirAll(npmDir, 0o755); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	key := entryKey(o.Name, version)
	unlock, err := lockFile(ctx, filepath.Join(npmDir, key+".lock"))
	if err != nil {
		return nil, fmt.Errorf("cache: lock %s: %w", key, err)
	}
	defer unlock()
	if haveLock {
		removeStale(npmDir, key)
	}
	final := filepath.Join(npmDir, key)
	if f, err := loadEntry(final, o.Name, version, o.Subdirs); err == nil {
		return f, nil
	}
	tmp, err := os.MkdirTemp(npmDir, ".tmp-"+key+"-")
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed into place
	f, err := downloadAndExtract(ctx, client, o, version, dist, tmp, filepath.Join(tmp, cacheStudio))
	if err != nil {
		return nil, err
	}
	if err := writeMeta(tmp, o.Name, f); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	if err := os.Rename(tmp, final); err == nil {
		f.Dir = filepath.Join(final, cacheStudio)
		return f, nil
	}
	// Without flock (see lock_other.go) another build may have just installed
	// the same entry: use it rather than replace it under a reader.
	if cached, err := loadEntry(final, o.Name, version, o.Subdirs); err == nil {
		return cached, nil
	}
	if err := replace(tmp, final, key); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	f.Dir = filepath.Join(final, cacheStudio)
	return f, nil
}

func writeMeta(entry, name string, f *Fetched) error {
	files, err := sumTree(f.Dir)
	if err != nil {
		return err
	}
	m := cacheMeta{Schema: cacheSchema, Name: name, Version: f.Version, Integrity: f.Integrity,
		Subdir: f.Subdir, Warnings: f.Warnings, Files: files}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(entry, cacheMetaFile), data, 0o644); err != nil {
		return err
	}
	return os.Chmod(entry, 0o755) // MkdirTemp made it private
}

// replace swaps a corrupt entry (loadEntry refused it) for a finished one.
// The old one is moved aside first, since rename can't replace a non-empty
// directory.
func replace(tmp, final, key string) error {
	trash, err := os.MkdirTemp(filepath.Dir(final), ".old-"+key+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(trash)
	if err := os.Rename(final, filepath.Join(trash, "entry")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.Rename(tmp, final)
}

// removeStale deletes temp dirs of this entry left by a build that was
// killed mid-way. Only called under the entry's lock: no live build can own
// them then.
func removeStale(npmDir, key string) {
	for _, prefix := range []string{".tmp-", ".old-"} {
		stale, _ := filepath.Glob(filepath.Join(npmDir, prefix+key+"-*"))
		for _, p := range stale {
			os.RemoveAll(p)
		}
	}
}
