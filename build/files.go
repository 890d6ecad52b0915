package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
)

// viteHashRE matches Vite's content-hashed names: name-XXXXXXXX.ext, with an
// 8-character base64url hash (main-BU75WpCq.js, style-B8hWA7ar.css,
// MonaSans-VariableFont_wdth-wght-CX-7s9jm.ttf, x-AbCd1234.js.map).
var viteHashRE = regexp.MustCompile(`^.+-[A-Za-z0-9_-]{8}(\.[A-Za-z0-9]+)+$`)

// keepNames are files that must keep their names: the entry page, data read
// by hosts and edge functions, and names browsers or crawlers ask for by
// convention. They are served with revalidation.
var keepNames = map[string]bool{
	EntryFile:      true,
	RoutesManifest: true,
	"favicon.ico":  true,
	"robots.txt":   true,
}

// listTree lists the regular files under dir as sorted slash paths.
func listTree(dir string) ([]string, error) {
	var rels []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("studio tree %s: %s is not a regular file (links and special files are refused)", dir, p)
		}
		rel, _ := filepath.Rel(dir, p)
		rels = append(rels, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("studio tree %w", err)
	}
	sort.Strings(rels)
	return rels, nil
}

// copier is one pass over the Studio tree: each file is read once, then
// written and hashed at the same time. Files whose output name is not known
// yet (fingerprint candidates) and data files the bake reads are held in
// memory; everything else is dropped once written, which keeps a bake's
// memory near the size of its largest file.
type copier struct {
	mu         sync.Mutex
	files      []File            // written files
	held       map[string][]byte // candidates and routes-manifest.json
	candidates []string          // files to fingerprint, if no bundle names them
	named      map[string]bool   // candidates that a JS or CSS file names
}

func copyTree(ctx context.Context, src, site string, rels []string) (*copier, error) {
	c := &copier{held: map[string][]byte{}, named: map[string]bool{}}
	for _, rel := range rels {
		if !keepNames[rel] && !isViteHashed(rel) {
			c.candidates = append(c.candidates, rel)
		}
	}
	if err := makeDirs(site, rels); err != nil {
		return nil, err
	}
	err := parallel(len(rels), func(i int) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return c.copyFile(src, site, rels[i])
	})
	return c, err
}

func (c *copier) copyFile(src, site, rel string) error {
	data, err := os.ReadFile(filepath.Join(src, filepath.FromSlash(rel)))
	if err != nil {
		return fmt.Errorf("studio tree: %w", err)
	}
	if isCode(rel) {
		c.scanNames(data)
	}
	if rel == EntryFile {
		return nil // bake fills and writes it last
	}
	if rel == RoutesManifest || slices.Contains(c.candidates, rel) {
		c.mu.Lock()
		c.held[rel] = data
		c.mu.Unlock()
		if rel != RoutesManifest {
			return nil
		}
	}
	cache := Immutable
	if keepNames[rel] {
		cache = Revalidate
	}
	f, err := writeDescribed(filepath.Join(site, filepath.FromSlash(rel)), rel, data, cache)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.files = append(c.files, f)
	c.mu.Unlock()
	return nil
}

// scanNames marks the candidates a bundle or stylesheet names.
func (c *copier) scanNames(data []byte) {
	for _, cand := range c.candidates {
		if bytes.Contains(data, []byte(path.Base(cand))) {
			c.mu.Lock()
			c.named[cand] = true
			c.mu.Unlock()
		}
	}
}

// fingerprint writes the held candidates: under a content-hashed name, or
// under their own name (revalidated) when a JS or CSS file names them, since
// those files are never rewritten. It returns original -> new names.
func (c *copier) fingerprint(site string) (map[string]string, error) {
	renamed := map[string]string{}
	for _, rel := range c.candidates {
		data, name, cache := c.held[rel], rel, Immutable
		if c.named[rel] {
			cache = Revalidate
		} else {
			name = hashedName(rel, data)
			renamed[rel] = name
		}
		f, err := writeDescribed(filepath.Join(site, filepath.FromSlash(name)), name, data, cache)
		if err != nil {
			return nil, err
		}
		if name != rel {
			f.Original = rel
		}
		c.files = append(c.files, f)
	}
	return renamed, nil
}

func makeDirs(site string, rels []string) error {
	made := map[string]bool{}
	for _, rel := range rels {
		d := path.Dir(rel)
		if !made[d] {
			if err := os.MkdirAll(filepath.Join(site, filepath.FromSlash(d)), 0o755); err != nil {
				return err
			}
			made[d] = true
		}
	}
	return nil
}

// writeDescribed writes data to p while hashing it: for big files the write
// and the two digests run at once, on the spare core.
func writeDescribed(p, rel string, data []byte, cache CacheClass) (File, error) {
	if len(data) < 1<<20 {
		f := describe(rel, data, cache)
		return f, os.WriteFile(p, data, 0o644)
	}
	var werr error
	done := make(chan struct{})
	go func() { werr = os.WriteFile(p, data, 0o644); close(done) }()
	f := describe(rel, data, cache)
	<-done
	return f, werr
}

// parallel runs fn(0..n-1) on up to GOMAXPROCS goroutines and returns the
// first error.
func parallel(n int, fn func(i int) error) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		next int
		err  error
	)
	workers := min(runtime.GOMAXPROCS(0), n)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				stop := err != nil
				mu.Unlock()
				if i >= n || stop {
					return
				}
				if e := fn(i); e != nil {
					mu.Lock()
					if err == nil {
						err = e
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return err
}

func isViteHashed(rel string) bool {
	return strings.HasPrefix(rel, "assets/") && viteHashRE.MatchString(path.Base(rel))
}

func isCode(rel string) bool {
	switch path.Ext(rel) {
	case ".js", ".mjs", ".css":
		return true
	}
	return false
}

// hashedName puts 8 base64url characters of the content's SHA-256 in the
// name, in Vite's style: mastra-dark-tile.svg -> mastra-dark-tile-Ab3_x9Qz.svg.
func hashedName(rel string, data []byte) string {
	sum := sha256.Sum256(data)
	h := base64.RawURLEncoding.EncodeToString(sum[:6])
	dir, base := path.Split(rel)
	ext := path.Ext(base)
	return dir + strings.TrimSuffix(base, ext) + "-" + h + ext
}

// describe computes a file's manifest entry.
func describe(rel string, data []byte, cache CacheClass) File {
	var s256 [sha256.Size]byte
	var s384 [sha512.Size384]byte
	if len(data) > 1<<20 {
		// Hash big files on two cores: this is most of a bake's CPU time.
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { s384 = sha512.Sum384(data); wg.Done() }()
		s256 = sha256.Sum256(data)
		wg.Wait()
	} else {
		s256, s384 = sha256.Sum256(data), sha512.Sum384(data)
	}
	return File{
		Path:        rel,
		Size:        int64(len(data)),
		SHA256:      hex.EncodeToString(s256[:]),
		ContentType: ContentType(rel),
		Cache:       cache,
		Integrity:   "sha384-" + base64.StdEncoding.EncodeToString(s384[:]),
	}
}
