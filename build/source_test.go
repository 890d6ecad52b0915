package build

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// packageTarball builds an npm tarball of a mastra package whose Studio tree
// is testdata/studio/<tree>, the way npm packs it (package/...).
func packageTarball(t *testing.T, version, tree string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	add := func(name string, data []byte) {
		must(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}))
		_, err := tw.Write(data)
		must(t, err)
	}
	add("package/package.json", []byte(`{"name":"mastra","version":"`+version+`"}`))
	root := filepath.Join("..", "testdata", "studio", tree)
	must(t, filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		data, err := os.ReadFile(p)
		add("package/dist/studio/"+filepath.ToSlash(rel), data)
		return err
	}))
	must(t, tw.Close())
	must(t, gz.Close())
	return buf.Bytes()
}

// fakeRegistry serves one version of mastra on 127.0.0.1 and counts tarball
// downloads.
func fakeRegistry(t *testing.T, version string, tgz []byte) (*httptest.Server, *int) {
	t.Helper()
	sum := sha512.Sum512(tgz)
	downloads := 0
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/mastra":
			json.NewEncoder(w).Encode(map[string]any{
				"name": "mastra", "dist-tags": map[string]string{"latest": version},
				"versions": map[string]any{version: map[string]any{"version": version, "dist": map[string]string{
					"tarball":   srv.URL + "/mastra/-/mastra-" + version + ".tgz",
					"integrity": "sha512-" + base64.StdEncoding.EncodeToString(sum[:]),
				}}},
			})
		case strings.HasSuffix(r.URL.Path, ".tgz"):
			downloads++
			w.Write(tgz)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &downloads
}

// TestFindSourcePrecedence: --studio, then node_modules/mastra found walking
// up from the working directory (unless a version is asked for), then the
// registry.
func TestFindSourcePrecedence(t *testing.T) {
	srv, _ := fakeRegistry(t, "1.31.0", packageTarball(t, "1.31.0", "v1.31"))
	project := t.TempDir()
	nm := filepath.Join(project, "node_modules", "mastra")
	must(t, os.MkdirAll(filepath.Join(nm, "dist"), 0o755))
	must(t, os.WriteFile(filepath.Join(nm, "package.json"), []byte(`{"name":"mastra","version":"1.10.0"}`), 0o644))
	must(t, os.Symlink(mustAbs(t, filepath.Join("..", "testdata", "studio", "v1.10")), filepath.Join(nm, "dist", "studio")))
	deep := filepath.Join(project, "apps", "web")
	must(t, os.MkdirAll(deep, 0o755))
	tgz := filepath.Join(t.TempDir(), "mastra-1.0.1.tgz")
	must(t, os.WriteFile(tgz, packageTarball(t, "1.0.1", "v1.0"), 0o644))

	cases := []struct {
		desc, studio, dir, version, wantOrigin, wantVersion string
	}{
		{"--studio directory beats node_modules", filepath.Join("..", "testdata", "studio", "v1.31"), deep, "", "dir ", ""},
		{"--studio package .tgz", tgz, deep, "", "tarball ", "1.0.1"},
		{"node_modules found walking up", "", deep, "", "node_modules ", "1.10.0"},
		{"--mastra-version skips node_modules", "", deep, "1.31.0", "npm mastra@1.31.0", "1.31.0"},
		{"registry when nothing is found", "", t.TempDir(), "", "npm mastra@" + DefaultMastraVersion, DefaultMastraVersion},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			src, err := FindSource(context.Background(), SourceOptions{
				Studio: c.studio, Dir: c.dir, MastraVersion: c.version,
				Registry: srv.URL + "/", CacheDir: t.TempDir(),
			})
			must(t, err)
			defer src.Close()
			if !strings.HasPrefix(src.Origin, c.wantOrigin) || src.Version != c.wantVersion {
				t.Errorf("origin %q version %q; want origin %q..., version %q", src.Origin, src.Version, c.wantOrigin, c.wantVersion)
			}
			out := filepath.Join(t.TempDir(), "dist")
			if _, err := Run(context.Background(), Options{Source: src, Out: out, Values: fullValues()}); err != nil {
				t.Errorf("bake from %s: %v", src.Origin, err)
			}
		})
	}
}

func TestFindSourceErrors(t *testing.T) {
	corrupt := filepath.Join(t.TempDir(), "mastra.tgz")
	must(t, os.WriteFile(corrupt, []byte("not a gzip stream"), 0o644))
	noStudio := t.TempDir()
	must(t, os.WriteFile(filepath.Join(noStudio, "README.md"), []byte("x"), 0o644))
	cases := []struct{ desc, studio, want string }{
		{"missing tree", "/nonexistent/studio", "studio tree /nonexistent/studio"},
		{"directory without Studio", noStudio, "no index.html"},
		{"corrupt tarball", corrupt, "studio tarball " + corrupt},
	}
	for _, c := range cases {
		_, err := FindSource(context.Background(), SourceOptions{Studio: c.studio, Dir: t.TempDir()})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.desc, err, c.want)
		}
	}
	// A closed port: the registry cannot be reached.
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := FindSource(context.Background(), SourceOptions{MastraVersion: "1.31.0", Registry: url + "/", CacheDir: t.TempDir(), Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "mastra@1.31.0") {
		t.Errorf("unreachable registry: err = %v, want one naming mastra@1.31.0", err)
	}
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	must(t, err)
	return a
}
