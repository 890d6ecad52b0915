package templates

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/studiobake/studiobake/build"
	"github.com/studiobake/studiobake/build/buildtest"
	"github.com/studiobake/studiobake/templates/nginxtest"
)

// nginxBake bakes the test tree with variants and writes its nginx files,
// by name; root holds site/ under the base path.
func nginxBake(t *testing.T) (m *build.Manifest, site, root string, files map[string][]byte) {
	t.Helper()
	dir, m := buildtest.PrecompressedBake(t)
	edge, err := EdgeFiles(dir, m, EdgeOptions{Hosts: []Host{Nginx}})
	if err != nil {
		t.Fatal(err)
	}
	files = map[string][]byte{}
	for name, b := range edge {
		files[strings.TrimPrefix(name, "edge/"+string(Nginx)+"/")] = b
	}
	if files[NginxBrotliFile] == nil {
		t.Fatalf("no %s for a bake with variants", NginxBrotliFile)
	}
	site = filepath.Join(dir, build.SiteDir)
	root = t.TempDir()
	if err := os.Symlink(site, filepath.Join(root, strings.TrimPrefix(m.BasePath, "/"))); err != nil {
		t.Fatal(err)
	}
	return m, site, root, files
}

// TestNginxEncoding runs the generated configuration in a real nginx with
// Debian's brotli module: each viewer gets the best variant it accepts
// (q-values included), with the file's Content-Type and Cache-Control and
// Vary; and without the module the same configuration loads and serves
// gzip.
func TestNginxEncoding(t *testing.T) {
	exe := nginxExe(t)
	m, site, root, files := nginxBake(t)
	main, page := "/agents/assets/main-W2e3R4t5.js", "/agents/tools"
	t.Run("brotli module", func(t *testing.T) {
		if _, err := os.Stat(nginxtest.BrotliModule); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal("CI installs libnginx-mod-http-brotli-static")
			}
			t.Skip("no brotli module: apt-get install libnginx-mod-http-brotli-static")
		}
		base := nginxtest.Start(t, exe, nginxtest.Options{Files: files, Conf: NginxFile, Root: root, Modules: []string{nginxtest.BrotliModule}})
		for _, c := range []struct{ uri, accept, want string }{
			{main, "gzip, deflate, br, zstd", "br"},
			{main, "gzip, deflate", "gzip"},
			{main, "", ""},
			{main, "br;q=0, gzip", "gzip"},
			{page, "gzip, br", "br"},
			{"/agents/assets/mono-Gg7Hh8Jj.woff2", "br, gzip", ""},
		} {
			checkEncoded(t, m, site, base+c.uri, c.accept, c.want)
		}
	})
	t.Run("no brotli module", func(t *testing.T) {
		without := map[string][]byte{NginxFile: files[NginxFile]}
		base := nginxtest.Start(t, exe, nginxtest.Options{Files: without, Conf: NginxFile, Root: root})
		checkEncoded(t, m, site, base+main, "gzip, deflate, br, zstd", "gzip")
		checkEncoded(t, m, site, base+main, "", "")
	})
}

// checkEncoded gets url with Accept-Encoding accept and checks that the
// answer is in encoding want (none for ""), decodes to the file the URL
// stands for, and has the headers the file itself is served with.
func checkEncoded(t *testing.T, m *build.Manifest, site, url, accept, want string) {
	t.Helper()
	resp, body := buildtest.Get(t, url, map[string]string{"Accept-Encoding": accept})
	plain, _ := buildtest.Get(t, url, nil)
	f := m.File(strings.TrimPrefix(resp.Request.URL.Path, m.BasePath+"/"))
	if f == nil {
		f = m.File(build.EntryFile) // a deep link
	}
	label := resp.Request.URL.Path + " with Accept-Encoding " + accept
	ce := resp.Header.Get("Content-Encoding")
	if resp.StatusCode != 200 || ce != want {
		t.Errorf("%s: %d, Content-Encoding %q, want %q", label, resp.StatusCode, ce, want)
		return
	}
	for _, h := range []string{"Content-Type", "Cache-Control", "Content-Security-Policy"} {
		if resp.Header.Get(h) == "" || resp.Header.Get(h) != plain.Header.Get(h) {
			t.Errorf("%s: %s %q, the file itself has %q", label, h, resp.Header.Get(h), plain.Header.Get(h))
		}
	}
	if len(f.Variants) > 0 && (resp.Header.Get("Vary") != "Accept-Encoding" || plain.Header.Get("Vary") != "Accept-Encoding") {
		t.Errorf("%s: Vary %q, without Accept-Encoding %q", label, resp.Header.Get("Vary"), plain.Header.Get("Vary"))
	}
	r, err := build.NewDecoder(ce, bytes.NewReader(body))
	if err == nil {
		body, err = io.ReadAll(r)
	}
	orig, _ := os.ReadFile(filepath.Join(site, f.Path))
	if err != nil || !bytes.Equal(body, orig) {
		t.Errorf("%s: the body does not decode to %s (%v)", label, f.Path, err)
	}
}
