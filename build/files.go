package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
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
	from, to := filepath.Join(src, filepath.FromSlash(rel)), filepath.Join(site, filepath.FromSlash(rel))
	if rel == EntryFile {
		return nil // bake fills and writes it last
	}
	if rel == RoutesManifest || slices.Contains(c.candidates, rel) {
		// Small files whose content or name the bake still needs.
		data, err := os.ReadFile(from)
		if err != nil {
			return fmt.Errorf("studio tree: %w", err)
		}
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
	f, err := c.stream(from, to, rel, cache)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.files = append(c.files, f)
	c.mu.Unlock()
	return nil
}

// chunks are the copy buffers. A bake streams every file through a few of
// them rather than reading files whole: on a virtual machine, faulting in
// fresh memory for 11 MB costs more than copying it.
const chunkSize = 256 << 10

var chunks = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

// stream copies from to to, computing the digests on the way, and scans
// JavaScript and CSS for the names of fingerprint candidates.
func (c *copier) stream(from, to, rel string, cache CacheClass) (File, error) {
	in, err := os.Open(from)
	if err != nil {
		return File{}, fmt.Errorf("studio tree: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return File{}, err
	}
	h := newDigests()
	sc := c.scanner(rel)
	bp := chunks.Get().(*[]byte)
	defer chunks.Put(bp)
	for {
		n, rerr := io.ReadFull(in, *bp)
		chunk := (*bp)[:n]
		if n > 0 {
			h.write(chunk, func() error { _, err := out.Write(chunk); return err })
			sc.scan(chunk)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil || h.err != nil {
			out.Close()
			return File{}, errors.Join(rerr, h.err)
		}
	}
	if err := errors.Join(h.err, out.Close()); err != nil {
		return File{}, fmt.Errorf("write %s: %w", to, err)
	}
	return h.file(rel, cache), nil
}

// digests hashes a stream for the manifest. The SHA-256 is the content
// digest; its SRI form ("sha256-...") is the file's integrity until the page
// loads the file with integrity, when bake replaces it with a SHA-384
// (sriFor). Hashing every file twice would double a bake's CPU time for
// files no browser checks: lazily imported chunks carry no integrity.
type digests struct {
	h256 hash.Hash
	size int64
	err  error
}

func newDigests() *digests { return &digests{h256: sha256.New()} }

func (d *digests) write(chunk []byte, sink func() error) {
	d.size += int64(len(chunk))
	if err := sink(); err != nil && d.err == nil {
		d.err = err
	}
	d.h256.Write(chunk)
}

func (d *digests) file(rel string, cache CacheClass) File {
	sum := d.h256.Sum(nil)
	return File{
		Path:        rel,
		Size:        d.size,
		SHA256:      hex.EncodeToString(sum),
		ContentType: ContentType(rel),
		Cache:       cache,
		Integrity:   "sha256-" + base64.StdEncoding.EncodeToString(sum),
	}
}

// sriFor gives a site file a SHA-384 integrity, the strength the page's
// integrity attributes use, and returns it.
func sriFor(site string, f *File) (string, error) {
	if strings.HasPrefix(f.Integrity, "sha384-") {
		return f.Integrity, nil
	}
	in, err := os.Open(filepath.Join(site, filepath.FromSlash(f.Path)))
	if err != nil {
		return "", err
	}
	defer in.Close()
	h := sha512.New384()
	if _, err := io.Copy(h, in); err != nil {
		return "", fmt.Errorf("integrity of %s: %w", f.Path, err)
	}
	f.Integrity = "sha384-" + base64.StdEncoding.EncodeToString(h.Sum(nil))
	return f.Integrity, nil
}

// nameScanner finds candidate names in a stream of chunks, including a name
// split across two chunks.
type nameScanner struct {
	c     *copier
	names [][]byte
	tail  []byte
	span  int
}

func (c *copier) scanner(rel string) *nameScanner {
	s := &nameScanner{c: c}
	if !isCode(rel) {
		return s
	}
	for _, cand := range c.candidates {
		s.names = append(s.names, []byte(path.Base(cand)))
		s.span = max(s.span, len(path.Base(cand)))
	}
	return s
}

func (s *nameScanner) scan(chunk []byte) {
	if len(s.names) == 0 {
		return
	}
	edge := append(s.tail, chunk[:min(len(chunk), s.span)]...)
	for i, name := range s.names {
		if bytes.Contains(chunk, name) || bytes.Contains(edge, name) {
			s.c.mu.Lock()
			s.c.named[s.c.candidates[i]] = true
			s.c.mu.Unlock()
		}
	}
	s.tail = append(s.tail[:0], chunk[max(0, len(chunk)-s.span):]...)
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

// writeDescribed writes a file held in memory and describes it.
func writeDescribed(p, rel string, data []byte, cache CacheClass) (File, error) {
	return describe(rel, data, cache), os.WriteFile(p, data, 0o644)
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

// describe computes the manifest entry of a file held in memory.
func describe(rel string, data []byte, cache CacheClass) File {
	d := newDigests()
	d.write(data, func() error { return nil })
	return d.file(rel, cache)
}
