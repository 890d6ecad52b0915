package publish

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/studiobake/studiobake/build"
)

// Phase orders uploads: every file of a phase is confirmed before the next
// phase starts, so a reader never gets an entry page whose assets are missing.
type Phase int

const (
	PhaseAsset   Phase = iota // content-hashed files: new names, nothing references them yet
	PhaseMutable              // unhashed files other than the entry page
	PhaseEntry                // the entry page (index.html): switches readers to the release
)

func (p Phase) String() string {
	return [...]string{"asset", "mutable", "entry"}[p]
}

// LocalFile is one file the release needs at Path (relative to the prefix).
type LocalFile struct {
	Path         string `json:"path"`
	Size         int64  `json:"size"`
	SHA256       string `json:"sha256"`
	ContentType  string `json:"contentType"`
	CacheControl string `json:"cacheControl"`
	// ContentEncoding is set on precompressed variants ("br", "gzip"),
	// which otherwise carry the headers of the file they encode.
	ContentEncoding string `json:"contentEncoding,omitempty"`
	Phase           Phase  `json:"-"`

	file string // where the content is on disk, or
	data []byte // the content itself (rollback restores entry files from a record)
	md5  string // hex MD5 of a file on disk: the ETag of a single-part upload
}

// etag is the ETag S3 gives a single-part upload of f without SSE-KMS, or ""
// when unknown.
func (f *LocalFile) etag() string {
	if f.data != nil {
		sum := md5.Sum(f.data)
		return hex.EncodeToString(sum[:])
	}
	return f.md5
}

// open returns the content as a seekable stream: the SDK rewinds it to sign
// and retry, and a file is streamed from disk rather than held in memory.
func (f *LocalFile) open() (io.ReadSeekCloser, error) {
	if f.file != "" {
		return os.Open(f.file)
	}
	if f.data != nil {
		return nopCloser{bytes.NewReader(f.data)}, nil
	}
	return nil, fmt.Errorf("%s: no content available (the release's copy is gone)", f.Path)
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// Bake is a bake output directory read for publishing.
type Bake struct {
	Dir      string
	Manifest *build.Manifest
	Files    []LocalFile
	Warnings []string
}

// LoadBake reads dir's manifest and checks every file of site/ against it:
// the plan trusts the manifest's digests, so a file edited after the bake
// must stop the publish instead of being skipped as unchanged.
func LoadBake(dir string) (*Bake, error) {
	m, err := build.ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	b := &Bake{Dir: dir, Manifest: m}
	site := filepath.Join(dir, build.SiteDir)
	seen := map[string]bool{}
	err = filepath.WalkDir(site, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file (links are not published)", p)
		}
		rel, _ := filepath.Rel(site, p)
		rel = filepath.ToSlash(rel)
		if strings.HasPrefix(rel, build.StateDir+"/") {
			return fmt.Errorf("%s: %s/ is where publish keeps its records", p, build.StateDir)
		}
		seen[rel] = true
		f, err := b.localFile(rel, p)
		if err != nil {
			return err
		}
		b.Files = append(b.Files, f)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read bake %s: %w", dir, err)
	}
	for _, mf := range m.Files {
		for _, v := range append([]build.Variant{{Path: mf.Path}}, mf.Variants...) {
			if !seen[v.Path] {
				return nil, fmt.Errorf("read bake %s: %s is in %s but not in %s/ (rebuild)", dir, v.Path, build.ManifestFile, build.SiteDir)
			}
		}
	}
	sort.Slice(b.Files, func(i, j int) bool { return b.Files[i].Path < b.Files[j].Path })
	return b, nil
}

func (b *Bake) localFile(rel, p string) (LocalFile, error) {
	sum, md, size, err := hashFile(p)
	if err != nil {
		return LocalFile{}, err
	}
	f := LocalFile{Path: rel, Size: size, SHA256: sum, file: p, md5: md}
	entry := b.Manifest.Entry
	if entry == "" {
		entry = build.EntryFile
	}
	class, of := build.Revalidate, rel
	mf := b.Manifest.File(rel)
	var wantSum string
	var wantSize int64
	if mf != nil {
		wantSum, wantSize = mf.SHA256, mf.Size
	} else if orig, v := b.Manifest.Variant(rel); v != nil {
		// A precompressed variant: its own Content-Encoding, the headers
		// of the file it encodes, and that file's phase, so that the entry
		// page's variants switch readers with it.
		mf, of, f.ContentEncoding = orig, orig.Path, v.Encoding
		wantSum, wantSize = v.SHA256, v.Size
	}
	if mf != nil {
		if wantSum != sum || wantSize != size {
			return f, fmt.Errorf("%s changed after the bake (manifest sha256 %.12s…, file %.12s…): rebuild", rel, wantSum, sum)
		}
		f.ContentType, class = mf.ContentType, mf.Cache
	} else {
		// Not in the manifest (e.g. a file added to site/ by hand): publish it,
		// revalidated, and say so.
		b.Warnings = append(b.Warnings, fmt.Sprintf("%s is not in %s: published with revalidation", rel, build.ManifestFile))
	}
	if f.ContentType == "" {
		f.ContentType = contentTypeFor(rel)
	}
	f.CacheControl = class.CacheControl()
	switch {
	case of == entry:
		f.Phase = PhaseEntry
	case class == build.Immutable:
		f.Phase = PhaseAsset
	default:
		f.Phase = PhaseMutable
	}
	return f, nil
}

// hashFile returns the SHA-256 (the file's identity) and the MD5 (its
// predicted ETag) of a file, read once.
func hashFile(p string) (sha, md string, size int64, err error) {
	fh, err := os.Open(p)
	if err != nil {
		return "", "", 0, err
	}
	defer fh.Close()
	h, m := sha256.New(), md5.New()
	n, err := io.Copy(io.MultiWriter(h, m), fh)
	if err != nil {
		return "", "", 0, fmt.Errorf("read %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), hex.EncodeToString(m.Sum(nil)), n, nil
}

// contentTypeFor is the fallback for files the manifest does not describe;
// text gets a charset so browsers do not guess.
func contentTypeFor(name string) string {
	ext := strings.ToLower(path.Ext(name))
	known := map[string]string{".js": "text/javascript", ".mjs": "text/javascript", ".json": "application/json",
		".svg": "image/svg+xml", ".html": "text/html", ".css": "text/css", ".map": "application/json",
		".txt": "text/plain", ".webmanifest": "application/manifest+json", ".wasm": "application/wasm"}
	ct := known[ext]
	if ct == "" {
		ct = mime.TypeByExtension(ext)
	}
	if ct == "" {
		return "application/octet-stream"
	}
	if !strings.Contains(ct, "charset") && (strings.HasPrefix(ct, "text/") || strings.HasSuffix(ct, "json") ||
		strings.HasSuffix(ct, "+xml") || ct == "image/svg+xml") {
		ct += "; charset=utf-8"
	}
	return ct
}
