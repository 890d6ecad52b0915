package npm

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// Limits against decompression bombs and hostile tarballs. mastra 1.31.0
// unpacks to about 40 MB in about 1,000 entries, so these leave ample room.
// Variables so tests can lower them instead of writing 512 MiB.
var (
	// Both the decompressed tar stream and the bytes written to disk (each
	// on its own: a sparse entry would write more than the stream carries).
	maxExtractBytes int64 = 512 << 20
	maxEntries            = 200_000
)

const maxPackageJSON = 4 << 20

// ErrNoStudio is matched (errors.Is) by the error for a tarball that has none
// of the wanted subdirectories.
var ErrNoStudio = errors.New("no Studio tree in tarball")

// NoStudioError names the package and the subdirectories that were missing.
type NoStudioError struct {
	Name, Version string   // from package/package.json, when present
	Subdirs       []string // as given to ExtractTarball
}

func (e *NoStudioError) Error() string {
	var names []string
	for _, s := range e.Subdirs {
		names = append(names, strings.TrimPrefix(path.Clean(s), "package/"))
	}
	who := "tarball"
	if e.Name != "" {
		who = e.Name + "@" + e.Version
	}
	return fmt.Sprintf("%s has no %s: studiobake supports mastra 0.18 to 1.x", who, strings.Join(names, " or "))
}

func (e *NoStudioError) Is(target error) bool { return target == ErrNoStudio }

var errTooBig = errors.New("tarball expands past the size limit (decompression bomb?)")

// ExtractTarball extracts the first of subdirs found in a gzipped npm tarball
// into dest, which must not exist or be empty. It refuses absolute paths, "..",
// links and special files anywhere in the tarball, and caps the expanded size.
// It returns the subdir found and package/package.json's "version" if present.
// On error nothing is left at dest.
func ExtractTarball(r io.Reader, subdirs []string, dest string) (subdir, version string, err error) {
	if len(subdirs) == 0 {
		return "", "", errors.New("extract tarball: no subdirectories asked for")
	}
	if err := checkDest(dest); err != nil {
		return "", "", err
	}
	parent := filepath.Dir(filepath.Clean(dest))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", "", fmt.Errorf("extract tarball: %w", err)
	}
	// Everything lands in a sibling temp dir first: the wanted subdir is known
	// only at the end of the stream, and a failure must leave nothing behind.
	tmp, err := os.MkdirTemp(parent, ".studiobake-extract-")
	if err != nil {
		return "", "", fmt.Errorf("extract tarball: %w", err)
	}
	defer os.RemoveAll(tmp)
	x := &extractor{root: tmp, found: make([]bool, len(subdirs)), data: capReader{left: maxExtractBytes}}
	for _, s := range subdirs {
		x.subdirs = append(x.subdirs, path.Clean(strings.Trim(s, "/")))
	}
	if err := x.run(r); err != nil {
		return "", x.version, err
	}
	for i, ok := range x.found {
		if !ok {
			continue
		}
		if err := os.Remove(dest); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", x.version, fmt.Errorf("extract tarball: %w", err)
		}
		if err := os.Rename(filepath.Join(tmp, strconv.Itoa(i)), dest); err != nil {
			return "", x.version, fmt.Errorf("extract tarball: %w", err)
		}
		return subdirs[i], x.version, nil
	}
	return "", x.version, &NoStudioError{Name: x.name, Version: x.version, Subdirs: subdirs}
}

func checkDest(dest string) error {
	entries, err := os.ReadDir(dest)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("extract tarball: destination %s: %w", dest, err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("extract tarball: destination %s is not empty", dest)
	}
	return nil
}

type extractor struct {
	root          string
	subdirs       []string
	found         []bool
	name, version string
	data          capReader // every entry's data is read through it: the budget of bytes written
}

func (x *extractor) run(r io.Reader) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("corrupt tarball: %w", err)
	}
	defer zr.Close()
	capped := &capReader{r: zr, left: maxExtractBytes}
	tr := tar.NewReader(capped)
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return corrupt(err)
		}
		if n >= maxEntries {
			return fmt.Errorf("tarball has more than %d entries", maxEntries)
		}
		if err := x.entry(hdr, tr); err != nil {
			return err
		}
	}
	// Read to the end so that gzip checks its CRC and length trailer: tar stops
	// at its end-of-archive blocks and would miss a truncated or altered tail.
	if _, err := io.Copy(io.Discard, capped); err != nil {
		return corrupt(err)
	}
	return nil
}

func corrupt(err error) error {
	if errors.Is(err, errTooBig) {
		return tooBig()
	}
	return fmt.Errorf("corrupt tarball: %w", err)
}

func tooBig() error { return fmt.Errorf("%w: over %d MiB", errTooBig, maxExtractBytes>>20) }

// isSparse reports a sparse entry, old GNU ('S') or PAX (GNU.sparse.* records
// of formats 0.0, 0.1 and 1.0). archive/tar expands its holes into zeros that
// never pass through the stream's cap: a 1 KB tarball can write gigabytes.
// npm never packs a sparse file, so refusing them costs nothing; the budget
// on bytes written (extractor.data) stays as the second line.
func isSparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

func (x *extractor) entry(hdr *tar.Header, r io.Reader) error {
	name, err := safeName(hdr.Name)
	if err != nil {
		return fmt.Errorf("unsafe tar entry %q: %w", hdr.Name, err)
	}
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil // pax metadata for the whole archive, not a file
	}
	if isSparse(hdr) {
		return fmt.Errorf("unsafe tar entry %q: sparse file not allowed (npm never packs one)", hdr.Name)
	}
	isDir := hdr.Typeflag == tar.TypeDir
	// '\x00' is the pre-POSIX regular file flag (tar.TypeRegA, deprecated name).
	if !isDir && hdr.Typeflag != tar.TypeReg && hdr.Typeflag != '\x00' {
		return fmt.Errorf("unsafe tar entry %q: %s not allowed", hdr.Name, typeName(hdr.Typeflag))
	}
	// Refused before a byte is written: the declared size is the most this
	// entry can write, as sparse entries are refused above.
	if hdr.Size > x.data.left {
		return fmt.Errorf("tar entry %q: %d bytes: %w", hdr.Name, hdr.Size, tooBig())
	}
	x.data.r = r
	r = &x.data
	if name == "package/package.json" && !isDir {
		return x.readPackageJSON(r)
	}
	i, rel := x.match(name)
	if i < 0 {
		return nil
	}
	dst := filepath.Join(x.root, strconv.Itoa(i), filepath.FromSlash(rel))
	if isDir {
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return fmt.Errorf("extract %s: %w", hdr.Name, err)
		}
		return nil
	}
	if err := writeFile(dst, r); err != nil {
		return fmt.Errorf("extract %s: %w", hdr.Name, err)
	}
	x.found[i] = true
	return nil
}

// match says which wanted subdir (index) holds name, and name relative to it.
func (x *extractor) match(name string) (int, string) {
	for i, s := range x.subdirs {
		if rel, ok := strings.CutPrefix(name, s+"/"); ok {
			return i, rel
		}
	}
	return -1, ""
}

func (x *extractor) readPackageJSON(r io.Reader) error {
	data, err := io.ReadAll(io.LimitReader(r, maxPackageJSON))
	if err != nil {
		return corrupt(err)
	}
	var pj struct{ Name, Version string }
	if err := json.Unmarshal(data, &pj); err != nil {
		return fmt.Errorf("corrupt tarball: package/package.json: %w", err)
	}
	x.name, x.version = pj.Name, pj.Version
	return nil
}

func writeFile(dst string, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return corrupt(err)
	}
	return f.Close()
}

// safeName cleans a tar entry name and refuses any that could land outside
// the destination. Backslashes are refused too: on Windows "..\x" escapes.
func safeName(name string) (string, error) {
	switch {
	case name == "":
		return "", errors.New("empty name")
	case strings.HasPrefix(name, "/"):
		return "", errors.New("absolute path")
	case strings.Contains(name, `\`):
		return "", errors.New("backslash in name")
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == ".." {
			return "", errors.New(`".." in path`)
		}
	}
	clean := path.Clean(name)
	if !filepath.IsLocal(filepath.FromSlash(clean)) {
		return "", errors.New("not a relative path")
	}
	return clean, nil
}

func typeName(t byte) string {
	switch t {
	case tar.TypeSymlink:
		return "symlink"
	case tar.TypeLink:
		return "hard link"
	case tar.TypeChar:
		return "character device"
	case tar.TypeBlock:
		return "block device"
	case tar.TypeFifo:
		return "fifo"
	}
	return fmt.Sprintf("entry type %q", t)
}

// capReader fails once more than left bytes have come through.
type capReader struct {
	r    io.Reader
	left int64
}

func (c *capReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return n, errTooBig
	}
	return n, err
}
