package npm

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
			dest := filepath.Join(t.TempDir(), "out")
			es := append(append([]tarEntry{}, ok...), tc.extra)
			_, _, err := ExtractTarball(bytes.NewReader(makeTarball(t, es)), studioSubdirs, dest)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			assertNothingWritten(t, dest)
		})
	}
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
		{"one entry over the cap", []tarEntry{{Name: "package/dist/studio/a", Body: big + big}}, `tar entry "package/dist/studio/a": 81920 bytes is over`},
		{"entries adding up past the cap", []tarEntry{
			{Name: "package/dist/studio/a", Body: big},
			{Name: "package/dist/studio/b", Body: big},
			{Name: "package/dist/studio/c", Body: big},
		}, "expands past the size limit"},
		{"skipped entries count too", []tarEntry{
			{Name: "package/other/a", Body: big},
			{Name: "package/other/b", Body: big},
			{Name: "package/dist/studio/index.html", Body: "x"},
		}, "expands past the size limit"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "out")
			_, _, err := ExtractTarball(bytes.NewReader(makeTarball(t, tc.entries)), studioSubdirs, dest)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			assertNothingWritten(t, dest)
		})
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
			dest := filepath.Join(t.TempDir(), "out")
			_, _, err := ExtractTarball(bytes.NewReader(tc.data), studioSubdirs, dest)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			assertNothingWritten(t, dest)
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
