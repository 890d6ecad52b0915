package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// checkVariants asserts that f has a variant per encoding exactly when it
// is compressible and they are smaller, each decoding to f's bytes.
func checkVariants(t testing.TB, f File, data []byte, onDisk map[string][]byte) {
	t.Helper()
	if !Compressible(f.Path) && len(f.Variants) > 0 {
		t.Errorf("%s is not compressible but has variants %+v", f.Path, f.Variants)
	}
	if len(f.Variants) != 0 && len(f.Variants) != len(Encodings) {
		t.Errorf("%s has %d variants, want all %d or none", f.Path, len(f.Variants), len(Encodings))
	}
	for i, v := range f.Variants {
		b, ok := onDisk[v.Path]
		sum := sha256.Sum256(b)
		switch {
		case !ok:
			t.Errorf("manifest lists variant %s, not in site/", v.Path)
		case v.Encoding != Encodings[i].Name || v.Path != f.Path+Encodings[i].Ext:
			t.Errorf("%s: variant %d is %+v, want %s at %s", f.Path, i, v, Encodings[i].Name, f.Path+Encodings[i].Ext)
		case v.Size != int64(len(b)) || v.SHA256 != hex.EncodeToString(sum[:]):
			t.Errorf("%s: manifest size/sha256 %d/%s do not match the file", v.Path, v.Size, v.SHA256)
		case len(b) >= len(data):
			t.Errorf("%s is %d bytes, not smaller than %s (%d)", v.Path, len(b), f.Path, len(data))
		case !bytes.Equal(decode(t, v.Encoding, b), data):
			t.Errorf("%s does not decode to %s", v.Path, f.Path)
		}
	}
}

func decode(t testing.TB, enc string, b []byte) []byte {
	t.Helper()
	r, err := NewDecoder(enc, bytes.NewReader(b))
	if err == nil {
		b, err = io.ReadAll(r)
	}
	if err != nil {
		t.Errorf("%s: %v", enc, err)
	}
	return b
}

// TestPrecompressLevels bakes the 1.31-shaped tree at each level: variants
// for the files that shrink (its other files are a few dozen bytes), none
// for woff2, nothing at all when off; the manifest says the level.
func TestPrecompressLevels(t *testing.T) {
	for _, p := range []Precompress{PrecompressBest, PrecompressFast, PrecompressOff} {
		t.Run(p.String(), func(t *testing.T) {
			r, out := bakeTestTree(t, "v1.31", "/agents", func(o *Options) { o.Precompress, o.CacheDir = p, t.TempDir() })
			CheckBake(t, filepath.Join("..", "testdata", "studio", "v1.31"), out, r.Manifest)
			var with []string
			for _, f := range r.Manifest.Files {
				if len(f.Variants) > 0 {
					with = append(with, f.Path)
				}
			}
			want := "assets/main-W2e3R4t5.js,index.html"
			if p == PrecompressOff {
				want = ""
			}
			if got := strings.Join(with, ","); got != want {
				t.Errorf("files with variants: %s, want %s", got, want)
			}
			level := p.String()
			if p == PrecompressOff {
				level = ""
			}
			if r.Manifest.Precompress != level || r.Precompressed.Variants != 2*len(with) {
				t.Errorf("manifest level %q, %d variants reported", r.Manifest.Precompress, r.Precompressed.Variants)
			}
		})
	}
}

// TestPrecompressOnlyWhereSmaller: a file too small to shrink gets no
// variants, and a file that brotli shrinks but gzip does not gets none
// either (every file has all encodings or none).
func TestPrecompressOnlyWhereSmaller(t *testing.T) {
	src := copyTestTree(t, "v1.31")
	must(t, os.WriteFile(filepath.Join(src, "assets", "tiny-Aa11Bb22.json"), []byte(`{"a":1}`), 0o644))
	// 20 repeated bytes: brotli makes 10 bytes of them, gzip (18 bytes of
	// header and trailer) 27.
	must(t, os.WriteFile(filepath.Join(src, "assets", "rep-Cc33Dd44.txt"), bytes.Repeat([]byte("a"), 20), 0o644))
	r, out := bakeTestTree(t, "", "/agents", func(o *Options) { o.Source.Dir, o.CacheDir = src, t.TempDir() })
	CheckBake(t, src, out, r.Manifest)
	for _, name := range []string{"assets/tiny-Aa11Bb22.json", "assets/rep-Cc33Dd44.txt"} {
		if f := r.Manifest.File(name); f == nil || len(f.Variants) != 0 {
			t.Errorf("%s: %+v, want no variants", name, f)
		}
	}
	if br, _ := brotliEncode(bytes.Repeat([]byte("a"), 20), 11); len(br) >= 20 {
		t.Errorf("the fixture no longer shrinks with brotli (%d bytes): the both-or-none case is not tested", len(br))
	}
}

// TestPrecompressCache: the first bake compresses each content once (two
// files with the same bytes share the work), a second bake with the same
// cache compresses nothing and gives the same bytes, and concurrent bakes
// with an empty cache compress each content once between them.
func TestPrecompressCache(t *testing.T) {
	src := copyTestTree(t, "v1.31")
	main, err := os.ReadFile(filepath.Join(src, "assets", "main-W2e3R4t5.js"))
	must(t, err)
	must(t, os.WriteFile(filepath.Join(src, "assets", "same-Ee55Ff66.js"), main, 0o644))
	cache := t.TempDir()
	mod := func(o *Options) { o.Source.Dir, o.CacheDir = src, cache }
	first, a := bakeTestTree(t, "", "/agents", mod)
	// index.html, the favicon, routes-manifest.json and 4 scripts and
	// styles, main twice; main (twice) and index.html shrink.
	contents := 7
	if p := first.Precompressed; p.Compressed != contents*len(Encodings) || p.Cached != 0 || p.Variants != 3*len(Encodings) {
		t.Errorf("first bake: %+v, want %d compressed", p, contents*len(Encodings))
	}
	second, b := bakeTestTree(t, "", "/agents", mod)
	if p := second.Precompressed; p.Compressed != 0 || p.Cached != contents*len(Encodings) {
		t.Errorf("second bake: %+v, want everything from the cache", p)
	}
	if d := DiffTrees(a, b); d != "" {
		t.Errorf("a bake from the cache differs from the first: %s", d)
	}
	// The second bake linked the cached bytes; editing them in place
	// through its site/ must not reach a third bake.
	variant := filepath.Join(b, SiteDir, "assets", "main-W2e3R4t5.js.br")
	sum := second.Manifest.File("assets/main-W2e3R4t5.js").SHA256
	linked, err1 := os.Stat(variant)
	entry, err2 := os.Stat(filepath.Join(cache, filepath.FromSlash(variantCacheDir), sum[:2], sum+".br11"))
	if err1 != nil || err2 != nil || !os.SameFile(linked, entry) {
		t.Errorf("%s is not linked to its cache entry: %v %v", variant, err1, err2)
	}
	f, err := os.OpenFile(variant, os.O_WRONLY|os.O_APPEND, 0)
	must(t, err)
	_, err = f.Write([]byte("edited"))
	must(t, errors.Join(err, f.Close()))
	third, c := bakeTestTree(t, "", "/agents", mod)
	CheckBake(t, src, c, third.Manifest)
	if p := third.Precompressed; p.Compressed != 1 {
		t.Errorf("after an edit through a link: %+v, want that one entry compressed again", p)
	}

	cache = t.TempDir()
	var wg sync.WaitGroup
	results := make([]*Result, 3)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := Options{Source: &Source{Dir: src}, Out: filepath.Join(t.TempDir(), "dist"), Values: fullValues(),
				BasePath: "/agents", CacheDir: cache}
			r, err := Run(context.Background(), o)
			if err != nil {
				t.Error(err)
				return
			}
			results[i] = r
		}()
	}
	wg.Wait()
	total := 0
	for _, r := range results {
		if r != nil {
			total += r.Precompressed.Compressed
		}
	}
	if total != contents*len(Encodings) {
		t.Errorf("3 concurrent bakes compressed %d times, want %d (each content and codec once)", total, contents*len(Encodings))
	}
}

// TestPrecompressWithoutCache: a cache directory that cannot be written
// costs a warning and the compression time, never the bake.
func TestPrecompressWithoutCache(t *testing.T) {
	blocked := filepath.Join(t.TempDir(), "file")
	must(t, os.WriteFile(blocked, nil, 0o644))
	var warnings []string
	r, out := bakeTestTree(t, "v1.31", "/agents", func(o *Options) {
		o.CacheDir = blocked
		o.Warn = func(s string) { warnings = append(warnings, s) }
	})
	CheckBake(t, filepath.Join("..", "testdata", "studio", "v1.31"), out, r.Manifest)
	if r.Precompressed.Variants == 0 || len(warnings) != 1 || !strings.Contains(warnings[0], "not cached") {
		t.Errorf("variants %d, warnings %q", r.Precompressed.Variants, warnings)
	}
}

func TestParsePrecompress(t *testing.T) {
	for in, want := range map[string]Precompress{"best": PrecompressBest, "FAST": PrecompressFast, " off ": PrecompressOff} {
		if got, err := ParsePrecompress(in); err != nil || got != want {
			t.Errorf("ParsePrecompress(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "11", "max"} {
		if _, err := ParsePrecompress(in); err == nil {
			t.Errorf("ParsePrecompress(%q) accepted", in)
		}
	}
}
