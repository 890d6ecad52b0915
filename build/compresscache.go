package build

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/studiobake/studiobake/build/npm"
)

// Variant cache layout, under <CacheDir>/precompressed/v1/ (v1 changes with
// the encoders, so that a new encoder never mixes with an old one's bytes):
//
//	ab/abcdef...64 hex.br11       compressed bytes of the content with that SHA-256
//	ab/abcdef...64 hex.br11.sum   "SHA-256 size mtime" of those bytes, or "none":
//	                              brotli 11 does not make that content smaller
//	.lock                         held while a bake compresses what is missing
//
// Vite names Studio's files by their content, so a Studio version's
// variants are computed by its first bake and reused by every later one,
// which links them into its site/ and takes their digests from the .sum
// files instead of reading them. Entries are written under a temporary
// name and renamed, bytes first: a reader never sees half an entry, and
// each was checked to decode to its input when made. An entry whose size
// or modification time differ from its .sum was changed in place (through
// a bake's link, say) and counts as missing.
const variantCacheDir = "precompressed/v1"

// variantCache is nil-safe: without a cache directory every job is
// compressed. Jobs store their results in parallel; the first failure to
// write turns the cache off for the rest of the bake.
type variantCache struct {
	mu   sync.Mutex
	dir  string // "" once turned off
	warn func(string)
}

func openVariantCache(cacheDir string, warn func(string)) *variantCache {
	if cacheDir == "" {
		cacheDir = DefaultCacheDir()
	}
	if cacheDir == "" {
		return nil
	}
	return &variantCache{dir: filepath.Join(cacheDir, filepath.FromSlash(variantCacheDir)), warn: warn}
}

// root is the cache's directory, "" when there is no usable cache.
func (c *variantCache) root() string {
	if c == nil {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dir
}

func entryPath(root string, j *job) string {
	return filepath.Join(root, j.sum[:2], j.sum+"."+j.codec.tag())
}

// lookup takes j's result from the cache when the cache has it whole.
func (c *variantCache) lookup(j *job) {
	root := c.root()
	if root == "" {
		return
	}
	p := entryPath(root, j)
	b, err := os.ReadFile(p + ".sum")
	if err != nil {
		return
	}
	var sum string
	var size, mtime int64
	if strings.TrimSpace(string(b)) == "none" {
		j.done = true
		return
	}
	if _, err := fmt.Sscanf(string(b), "%64s %d %d", &sum, &size, &mtime); err != nil || len(sum) != 64 {
		return
	}
	if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Size() == size && st.ModTime().UnixNano() == mtime {
		j.done, j.gain, j.entry, j.outSum, j.outSize = true, size < j.size, p, sum, size
	}
}

// fill compresses the jobs the cache lacks, in parallel, under the cache's
// lock: a second bake started meanwhile waits, then finds them cached
// instead of compressing the same files again.
func (c *variantCache) fill(ctx context.Context, site string, jobs []*job, st *PrecompressStats) error {
	var todo []*job
	for _, j := range jobs {
		if !j.done {
			todo = append(todo, j)
		} else {
			st.Cached++
		}
	}
	if len(todo) == 0 {
		return nil
	}
	if unlock := c.lock(ctx); unlock != nil {
		defer unlock()
		var still []*job
		for _, j := range todo {
			if c.lookup(j); !j.done {
				still = append(still, j)
			} else {
				st.Cached++
			}
		}
		todo = still
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	st.Compressed += len(todo)
	return parallel(len(todo), func(i int) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		j := todo[i]
		if err := j.compress(site); err != nil {
			return fmt.Errorf("precompress: %w", err)
		}
		c.store(j)
		return nil
	})
}

// lock takes the cache's lock, or returns nil when there is no usable cache
// (the bake then compresses without one).
func (c *variantCache) lock(ctx context.Context) func() {
	root := c.root()
	if root == "" {
		return nil
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		c.disable(err)
		return nil
	}
	unlock, err := npm.LockFile(ctx, filepath.Join(root, ".lock"))
	if err != nil {
		if ctx.Err() == nil { // an interrupted wait is no fault of the cache
			c.disable(err)
		}
		return nil
	}
	return unlock
}

// store keeps a job's result: its bytes, then its .sum with the size and
// modification time they got. A cache that cannot be written costs only
// time.
func (c *variantCache) store(j *job) {
	root := c.root()
	if root == "" {
		return
	}
	p := entryPath(root, j)
	sum := "none\n"
	err := os.MkdirAll(filepath.Dir(p), 0o755)
	if err == nil && j.gain {
		if err = writeAtomic(p, j.out); err == nil {
			var st os.FileInfo
			if st, err = os.Stat(p); err == nil {
				sum = fmt.Sprintf("%s %d %d\n", j.outSum, st.Size(), st.ModTime().UnixNano())
			}
		}
	}
	if err == nil {
		err = writeAtomic(p+".sum", []byte(sum))
	}
	if err != nil {
		c.disable(err)
	}
}

func (c *variantCache) disable(err error) {
	c.mu.Lock()
	on := c.dir != ""
	c.dir = ""
	c.mu.Unlock()
	if on && c.warn != nil {
		c.warn(fmt.Sprintf("precompressed variants are not cached (%v): the next bake compresses again", err))
	}
}

// writeAtomic writes p under a temporary name in its directory and renames it.
func writeAtomic(p string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}
