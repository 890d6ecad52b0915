package build

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
)

// Encoding is a content coding the bake precompresses with.
type Encoding struct {
	Name string // the Content-Encoding value
	Ext  string // appended to the file's path
}

// Encodings are the variants every compressible file gets, best first:
// brotli for the viewers that accept it (every current browser over
// HTTPS), gzip for the rest.
var Encodings = []Encoding{{Name: "br", Ext: ".br"}, {Name: "gzip", Ext: ".gz"}}

// Precompress is the level of the variants a bake writes. The zero value is
// the default.
type Precompress int

const (
	// PrecompressBest is brotli 11 and gzip 9: the smallest files, at the
	// cost of about 20 s of CPU for Studio's 7 MB chunk. The variants are
	// cached by content, so only the first bake of a Studio version pays.
	PrecompressBest Precompress = iota
	// PrecompressFast is brotli 5 and gzip 6: about a second, and the main
	// chunk 16% larger than at best.
	PrecompressFast
	// PrecompressOff writes no variants.
	PrecompressOff
)

var precompressNames = []string{"best", "fast", "off"}

func (p Precompress) String() string {
	if int(p) < len(precompressNames) {
		return precompressNames[p]
	}
	return fmt.Sprintf("Precompress(%d)", int(p))
}

// ParsePrecompress reads "best", "fast" or "off".
func ParsePrecompress(s string) (Precompress, error) {
	for i, n := range precompressNames {
		if strings.EqualFold(strings.TrimSpace(s), n) {
			return Precompress(i), nil
		}
	}
	return 0, fmt.Errorf("want best, fast or off")
}

// codec is one encoding at one level.
type codec struct {
	Encoding
	level  int
	encode func(data []byte, level int) ([]byte, error)
}

// tag names the codec in the cache: "br11", "gzip9".
func (c codec) tag() string { return fmt.Sprintf("%s%d", c.Name, c.level) }

func (p Precompress) codecs() []codec {
	br := codec{Encoding: Encodings[0], encode: brotliEncode}
	gz := codec{Encoding: Encodings[1], encode: gzipEncode}
	switch p {
	case PrecompressOff:
		return nil
	case PrecompressFast:
		br.level, gz.level = 5, 6
	default:
		br.level, gz.level = 11, 9
	}
	return []codec{br, gz}
}

// brotliEncode uses the smallest window that holds the whole input (at most
// brotli's 16 MB): the result is what the largest window gives, with less
// memory in the encoder and in the browser's decoder.
func brotliEncode(data []byte, level int) ([]byte, error) {
	lgwin := 10
	for lgwin < 24 && (1<<lgwin)-16 < len(data) {
		lgwin++
	}
	var b bytes.Buffer
	w := brotli.NewWriterOptions(&b, brotli.WriterOptions{Quality: level, LGWin: lgwin})
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	err := w.Close()
	return b.Bytes(), err
}

// gzipEncode writes a header without name or time, so the same input gives
// the same bytes.
func gzipEncode(data []byte, level int) ([]byte, error) {
	var b bytes.Buffer
	w, err := gzip.NewWriterLevel(&b, level)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	err = w.Close()
	return b.Bytes(), err
}

// Encode compresses data as the variant of the given Content-Encoding
// ("br", "gzip") at the best level, the bytes a bake writes for it.
func Encode(encoding string, data []byte) ([]byte, error) {
	for _, c := range PrecompressBest.codecs() {
		if c.Name == encoding {
			return c.encode(data, c.level)
		}
	}
	return nil, fmt.Errorf("unknown content encoding %q", encoding)
}

// NewDecoder reads the bytes of a variant of the given Content-Encoding
// ("br", "gzip"; "" or "identity" for none) as the file they encode.
func NewDecoder(encoding string, r io.Reader) (io.Reader, error) {
	switch encoding {
	case "br":
		return brotli.NewReader(r), nil
	case "gzip":
		return gzip.NewReader(r)
	case "", "identity":
		return r, nil
	}
	return nil, fmt.Errorf("unknown content encoding %q", encoding)
}

// compressible are the extensions worth compressing: text, and fonts and
// icons that are not compressed already (woff2, png, jpg, webp are).
var compressible = map[string]bool{
	".html": true, ".htm": true, ".js": true, ".mjs": true, ".css": true, ".json": true, ".map": true,
	".webmanifest": true, ".txt": true, ".xml": true, ".svg": true, ".wasm": true,
	".ttf": true, ".otf": true, ".eot": true, ".ico": true,
}

// Compressible reports whether the bake writes variants of a file of this
// name (when they come out smaller).
func Compressible(name string) bool { return compressible[strings.ToLower(path.Ext(name))] }

// PrecompressStats says what precompression did in one bake.
type PrecompressStats struct {
	Variants   int   `json:"variants"`   // variant files written to site/
	Bytes      int64 `json:"bytes"`      // their total size
	Compressed int   `json:"compressed"` // contents x codecs compressed in this bake
	Cached     int   `json:"cached"`     // contents x codecs taken from the cache
}

// job is one content (by digest) and one codec: each is compressed once
// per bake, however many files share the content, and once per cache.
type job struct {
	sum   string // SHA-256 of the input
	src   string // a site file with this content
	size  int64
	codec codec

	done    bool   // the result is known: compressed now, or from the cache
	gain    bool   // the result is smaller than the input
	out     []byte // compressed in this bake
	entry   string // else the cache entry holding it
	outSum  string // SHA-256 of the result
	outSize int64
}

// precompress writes the variants of site's compressible files beside them
// and records them in files. A file gets every encoding or none: the gate
// and hosts then only need to know which files have variants, and a codec
// fails to shrink only files of a few dozen bytes.
func precompress(ctx context.Context, site string, files []File, p Precompress, cacheDir string, warn func(string)) (PrecompressStats, error) {
	var st PrecompressStats
	codecs := p.codecs()
	if len(codecs) == 0 {
		return st, nil
	}
	cache := openVariantCache(cacheDir, warn)
	jobs := planJobs(files, codecs, cache)
	if err := cache.fill(ctx, site, jobs, &st); err != nil {
		return st, err
	}
	bySum := map[string][]*job{}
	for _, j := range jobs {
		bySum[j.sum] = append(bySum[j.sum], j)
	}
	var mu sync.Mutex
	err := parallel(len(files), func(i int) error {
		f := &files[i]
		js := bySum[f.SHA256]
		if !Compressible(f.Path) || len(js) == 0 {
			return nil
		}
		for _, j := range js {
			if !j.gain {
				return nil
			}
		}
		for _, j := range js {
			v, err := writeVariant(site, f.Path, j)
			if err != nil {
				return err
			}
			f.Variants = append(f.Variants, v)
			mu.Lock()
			st.Variants++
			st.Bytes += v.Size
			mu.Unlock()
		}
		return nil
	})
	return st, err
}

// planJobs lists each compressible content once per codec, largest first so
// that the slowest job starts first, and finds what the cache holds.
func planJobs(files []File, codecs []codec, cache *variantCache) []*job {
	seen := map[string]bool{}
	var jobs []*job
	for _, f := range files {
		if !Compressible(f.Path) || f.Size == 0 || seen[f.SHA256] {
			continue
		}
		seen[f.SHA256] = true
		for _, c := range codecs {
			j := &job{sum: f.SHA256, src: f.Path, size: f.Size, codec: c}
			cache.lookup(j)
			jobs = append(jobs, j)
		}
	}
	sort.SliceStable(jobs, func(a, b int) bool { return jobs[a].size > jobs[b].size })
	return jobs
}

// writeVariant writes f's variant from the job's bytes or cache entry and
// describes it. A cached entry is hard-linked, not copied: a bake from the
// cache then costs a directory entry per variant instead of 5 MB of writes
// (the cache notices a linked file edited in place: see lookup).
func writeVariant(site, rel string, j *job) (Variant, error) {
	v := Variant{Encoding: j.codec.Name, Path: rel + j.codec.Ext, Size: j.outSize, SHA256: j.outSum}
	to := filepath.Join(site, filepath.FromSlash(v.Path))
	var err error
	if j.out != nil {
		err = os.WriteFile(to, j.out, 0o644)
	} else if err = os.Link(j.entry, to); err != nil {
		// Another file system, or a cache that is not ours to link.
		err = copyFile(j.entry, to)
	}
	if err != nil {
		return v, fmt.Errorf("precompress %s: %w", v.Path, err)
	}
	return v, nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	bp := chunks.Get().(*[]byte)
	defer chunks.Put(bp)
	_, err = io.CopyBuffer(struct{ io.Writer }{out}, struct{ io.Reader }{in}, *bp)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// compress runs one job and checks that the result decodes to the input:
// whatever the encoder does, a variant never serves other bytes.
func (j *job) compress(site string) error {
	data, err := os.ReadFile(filepath.Join(site, filepath.FromSlash(j.src)))
	if err != nil {
		return err
	}
	out, err := j.codec.encode(data, j.codec.level)
	if err != nil {
		return fmt.Errorf("%s %s: %w", j.codec.Name, j.src, err)
	}
	r, err := NewDecoder(j.codec.Name, bytes.NewReader(out))
	if err != nil {
		return fmt.Errorf("%s %s: decode: %w", j.codec.Name, j.src, err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil || hex.EncodeToString(h.Sum(nil)) != j.sum {
		return fmt.Errorf("%s %s: the compressed bytes do not decode to the file (%v)", j.codec.Name, j.src, err)
	}
	sum := sha256.Sum256(out)
	j.done, j.gain, j.out = true, len(out) < len(data), out
	j.outSum, j.outSize = hex.EncodeToString(sum[:]), int64(len(out))
	return nil
}
