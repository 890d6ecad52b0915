package npm

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/studiobake/studiobake/build/npm/tartest"
)

var studioSubdirs = []string{"package/dist/studio", "package/dist/playground"}

func TestExtractTarballLayouts(t *testing.T) {
	tests := []struct {
		desc    string
		subdir  string // layout inside the tarball
		wantSub string
	}{
		{"1.x layout: dist/studio", "dist/studio", "package/dist/studio"},
		{"0.18 layout: dist/playground found when dist/studio is absent", "dist/playground", "package/dist/playground"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "out")
			tgz := makeTarball(t, packageEntries("1.31.0", tc.subdir))
			sub, version, err := ExtractTarball(bytes.NewReader(tgz), studioSubdirs, dest)
			if err != nil {
				t.Fatal(err)
			}
			if sub != tc.wantSub || version != "1.31.0" {
				t.Errorf("got subdir %q version %q, want %q 1.31.0", sub, version, tc.wantSub)
			}
			// Only the Studio tree: no package.json, README or CLI code.
			sameTree(t, readTree(t, dest), studioFiles("1.31.0"))
		})
	}
}

func TestExtractTarballFirstSubdirWins(t *testing.T) {
	es := append(packageEntries("1.31.0", "dist/playground"), tarEntry{Name: "package/dist/studio/index.html", Body: "studio"})
	dest := filepath.Join(t.TempDir(), "out")
	sub, _, err := ExtractTarball(bytes.NewReader(makeTarball(t, es)), studioSubdirs, dest)
	if err != nil {
		t.Fatal(err)
	}
	if sub != "package/dist/studio" {
		t.Errorf("subdir %q, want package/dist/studio (listed first)", sub)
	}
	sameTree(t, readTree(t, dest), map[string]string{"index.html": "studio"})
}

func TestExtractTarballRefuses(t *testing.T) {
	ok := packageEntries("1.31.0", "dist/studio")
	tests := []struct {
		desc  string
		extra tarEntry
		want  string
	}{
		{"absolute path", tarEntry{Name: "/etc/evil", Body: "x"}, `unsafe tar entry "/etc/evil": absolute path`},
		{"dot-dot inside the subdir", tarEntry{Name: "package/dist/studio/../../../evil", Body: "x"}, `unsafe tar entry "package/dist/studio/../../../evil": ".." in path`},
		{"dot-dot elsewhere", tarEntry{Name: "package/../evil", Body: "x"}, `".." in path`},
		{"backslash", tarEntry{Name: `package\..\evil`, Body: "x"}, "backslash"},
		{"symlink", tarEntry{Name: "package/dist/studio/assets/link.js", Type: tar.TypeSymlink, Link: "/etc/passwd"}, `unsafe tar entry "package/dist/studio/assets/link.js": symlink not allowed`},
		{"hard link", tarEntry{Name: "package/dist/studio/hard", Type: tar.TypeLink, Link: "package/package.json"}, `unsafe tar entry "package/dist/studio/hard": hard link not allowed`},
		{"char device", tarEntry{Name: "package/dist/studio/null", Type: tar.TypeChar}, "character device not allowed"},
		{"fifo", tarEntry{Name: "package/dist/studio/pipe", Type: tar.TypeFifo}, "fifo not allowed"},
		{"block device outside the subdir", tarEntry{Name: "package/sda", Type: tar.TypeBlock}, `unsafe tar entry "package/sda": block device not allowed`},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			es := append(append([]tarEntry{}, ok...), tc.extra)
			assertRefused(t, makeTarball(t, es), tc.want)
		})
	}
}

// assertRefused extracts tgz, expects an error containing want, and nothing
// left behind.
func assertRefused(t *testing.T, tgz []byte, want string) {
	t.Helper()
	dest := filepath.Join(t.TempDir(), "out")
	_, _, err := ExtractTarball(bytes.NewReader(tgz), studioSubdirs, dest)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want it to contain %q", err, want)
	}
	assertNothingWritten(t, dest)
}

func assertNothingWritten(t *testing.T, dest string) {
	t.Helper()
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Errorf("%s exists after a failed extract", dest)
	}
	left, _ := os.ReadDir(filepath.Dir(dest))
	for _, e := range left {
		t.Errorf("left behind: %s", e.Name())
	}
}

func TestExtractTarballSizeCap(t *testing.T) {
	old := maxExtractBytes
	maxExtractBytes = 64 << 10
	t.Cleanup(func() { maxExtractBytes = old })
	big := strings.Repeat("0", 40<<10) // each under the cap, together over it
	tests := []struct {
		desc    string
		entries []tarEntry
		want    string
	}{
		{"one entry over the cap", []tarEntry{{Name: "package/dist/studio/a", Body: big + big}}, `tar entry "package/dist/studio/a": 81920 bytes: tarball expands past the size limit`},
		{"entries adding up past the cap", []tarEntry{
			{Name: "package/dist/studio/a", Body: big},
			{Name: "package/dist/studio/b", Body: big},
			{Name: "package/dist/studio/c", Body: big},
		}, `tar entry "package/dist/studio/b": 40960 bytes: tarball expands past the size limit`},
		{"skipped entries count too", []tarEntry{
			{Name: "package/other/a", Body: big},
			{Name: "package/other/b", Body: big},
			{Name: "package/dist/studio/index.html", Body: "x"},
		}, "expands past the size limit"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			assertRefused(t, makeTarball(t, tc.entries), tc.want)
		})
	}
}

// TestExtractTarballHostile: tarballs made to fill the disk. Sparse entries
// would each write far more than the stream carries, and together more than
// the cap, while their tarball stays tiny: the old counter on the stream let
// them all through.
func TestExtractTarballHostile(t *testing.T) {
	oldBytes, oldEntries := maxExtractBytes, maxEntries
	maxExtractBytes, maxEntries = 1<<20, 100
	t.Cleanup(func() { maxExtractBytes, maxEntries = oldBytes, oldEntries })
	type test struct {
		desc string
		tgz  []byte
		want string
	}
	var tests []test
	for _, f := range tartest.SparseFormats {
		w := tartest.Package("1.31.0")
		for _, n := range []string{"a", "b", "c"} {
			w.Sparse(f, "package/dist/studio/assets/"+n+".js", 900<<10)
		}
		tests = append(tests, test{"sparse " + f, w.Gzip(), `unsafe tar entry "package/dist/studio/assets/a.js": sparse file not allowed`})
		w = tartest.Package("1.31.0")
		w.Sparse(f, "package/other/skipped.bin", 1000)
		tests = append(tests, test{"small sparse " + f + " outside the Studio tree", w.Gzip(), `unsafe tar entry "package/other/skipped.bin": sparse file not allowed`})
	}
	huge := tartest.Package("1.31.0")
	huge.Declared("package/dist/studio/assets/huge.js", 1<<40)
	tests = append(tests, test{"huge declared size (PAX)", huge.Gzip(), `tar entry "package/dist/studio/assets/huge.js": 1099511627776 bytes: tarball expands past the size limit`})
	octal := tartest.Package("1.31.0")
	octal.Declared("package/dist/studio/assets/big.js", 1<<33-1)
	tests = append(tests, test{"huge declared size (octal)", octal.Gzip(), `tar entry "package/dist/studio/assets/big.js": 8589934591 bytes: tarball expands past`})
	many := tartest.Package("1.31.0")
	for i := range 100 {
		many.File(fmt.Sprintf("package/dist/studio/assets/f%d.js", i), "")
	}
	tests = append(tests, test{"many entries", many.Gzip(), "tarball has more than 100 entries"})
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			if len(tc.tgz) > 4<<10 {
				t.Fatalf("the crafted tarball is %d bytes: it should be tiny", len(tc.tgz))
			}
			assertRefused(t, tc.tgz, tc.want)
		})
	}
}

// TestSparseTarballsExpand proves the crafted sparse entries are what they
// claim: archive/tar reads each as size bytes from a stream of a few blocks.
func TestSparseTarballsExpand(t *testing.T) {
	for _, f := range tartest.SparseFormats {
		w := &tartest.Tar{}
		w.Sparse(f, "package/big.bin", 5<<20)
		zr, err := gzip.NewReader(bytes.NewReader(w.Gzip()))
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(zr)
		hdr, err := tr.Next()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		n, err := io.Copy(io.Discard, tr)
		if err != nil || n != 5<<20 || hdr.Name != "package/big.bin" || !isSparse(hdr) {
			t.Errorf("%s: read %d bytes of %q (sparse %v), err %v; want 5 MiB of package/big.bin", f, n, hdr.Name, isSparse(hdr), err)
		}
	}
}

// TestExtractBudgetOnBytesWritten: whatever an entry declares, the bytes that
// reach the disk are counted; a reader yielding more than its header said (as
// a sparse entry does) stops at the cap.
func TestExtractBudgetOnBytesWritten(t *testing.T) {
	old := maxExtractBytes
	maxExtractBytes = 64 << 10
	t.Cleanup(func() { maxExtractBytes = old })
	x := &extractor{root: t.TempDir(), subdirs: []string{"package/dist/studio"}, found: []bool{false}, data: capReader{left: maxExtractBytes}}
	hdr := &tar.Header{Name: "package/dist/studio/a.js", Typeflag: tar.TypeReg, Size: 10}
	err := x.entry(hdr, bytes.NewReader(make([]byte, 1<<20)))
	if err == nil || !strings.Contains(err.Error(), "extract package/dist/studio/a.js: tarball expands past the size limit") {
		t.Fatalf("error %v, want the size limit for package/dist/studio/a.js", err)
	}
	fi, err := os.Stat(filepath.Join(x.root, "0", "a.js"))
	if err != nil || fi.Size() > maxExtractBytes+32<<10 {
		t.Errorf("wrote %v bytes (%v), want at most the cap plus one copy buffer", fi.Size(), err)
	}
}

func TestExtractTarballBadInput(t *testing.T) {
	good := makeTarball(t, packageEntries("1.31.0", "dist/studio"))
	truncated := good[:len(good)-10]
	flipped := bytes.Clone(good)
	flipped[len(flipped)-6] ^= 0xff // inside the gzip CRC trailer
	tests := []struct {
		desc string
		data []byte
		want string
	}{
		{"not gzip", []byte("<html>not a tarball</html>"), "corrupt tarball: gzip: invalid header"},
		{"truncated", truncated, "corrupt tarball"},
		{"bad gzip checksum", flipped, "corrupt tarball"},
		{"gzip of garbage", mustGzip(t, bytes.Repeat([]byte("garbage!"), 100)), "corrupt tarball"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			assertRefused(t, tc.data, tc.want)
		})
	}
}

func TestExtractTarballNoStudio(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "out")
	tgz := makeTarball(t, packageEntries("0.10.0", ""))
	_, version, err := ExtractTarball(bytes.NewReader(tgz), studioSubdirs, dest)
	want := "mastra@0.10.0 has no dist/studio or dist/playground: studiobake supports mastra 0.18 to 1.x"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
	if !errors.Is(err, ErrNoStudio) || version != "0.10.0" {
		t.Errorf("errors.Is(ErrNoStudio) = %v, version %q", errors.Is(err, ErrNoStudio), version)
	}
	assertNothingWritten(t, dest)
}

func TestExtractTarballDest(t *testing.T) {
	tgz := makeTarball(t, packageEntries("1.31.0", "dist/studio"))
	empty := t.TempDir()
	if _, _, err := ExtractTarball(bytes.NewReader(tgz), studioSubdirs, empty); err != nil {
		t.Errorf("empty existing dest: %v", err)
	}
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "keep"), []byte("x"), 0o644)
	_, _, err := ExtractTarball(bytes.NewReader(tgz), studioSubdirs, full)
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("non-empty dest: error %v, want 'not empty'", err)
	}
	if got := readTree(t, full); len(got) != 1 {
		t.Errorf("non-empty dest was changed: %v", got)
	}
}

func TestSafeName(t *testing.T) {
	tests := []struct {
		name, want string
		ok         bool
	}{
		{"package/dist/studio/index.html", "package/dist/studio/index.html", true},
		{"package/./dist//studio/", "package/dist/studio", true},
		{"./package/a", "package/a", true},
		{"/abs", "", false},
		{"a/../../b", "", false},
		{"..", "", false},
		{"", "", false},
		{`a\b`, "", false},
	}
	for _, tc := range tests {
		got, err := safeName(tc.name)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("safeName(%q) = %q, %v; want %q ok=%v", tc.name, got, err, tc.want, tc.ok)
		}
	}
}
