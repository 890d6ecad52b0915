package serve

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/studiobake/studiobake/build"
	"github.com/studiobake/studiobake/build/buildtest"
)

// TestServeEncoding: serve negotiates as the gate does and answers like the
// bucket publish fills: the variant with its Content-Encoding and the
// file's Content-Type and Cache-Control, Vary on every answer, a body that
// decodes to the file, 406 only when nothing is acceptable.
func TestServeEncoding(t *testing.T) {
	dir, m := buildtest.PrecompressedBake(t)
	h, err := NewHandler(dir, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	main := m.File("assets/main-W2e3R4t5.js")
	font := m.File("assets/mono-Gg7Hh8Jj.woff2")
	if main == nil || len(main.Variants) != 2 || font == nil || len(font.Variants) != 0 {
		t.Fatalf("test tree: main %+v, font %+v", main, font)
	}
	cases := []struct {
		uri, accept, encoding string
		file                  *build.File
		status                int
	}{
		{"/agents/assets/main-W2e3R4t5.js", "gzip, deflate, br, zstd", "br", main, 200},
		{"/agents/assets/main-W2e3R4t5.js", "gzip, deflate", "gzip", main, 200},
		{"/agents/assets/main-W2e3R4t5.js", "", "", main, 200},
		{"/agents/assets/main-W2e3R4t5.js", "br;q=0, gzip;q=0", "", main, 200},
		{"/agents/assets/main-W2e3R4t5.js", "identity;q=0", "", nil, 406},
		{"/agents/assets/mono-Gg7Hh8Jj.woff2", "br, gzip", "", font, 200},
		{"/agents/tools", "br", "br", m.File(build.EntryFile), 200},
	}
	for _, c := range cases {
		resp, body := buildtest.Get(t, srv.URL+c.uri, map[string]string{"Accept-Encoding": c.accept})
		label := c.uri + " with Accept-Encoding " + c.accept
		if resp.StatusCode != c.status || resp.Header.Get("Vary") != "Accept-Encoding" {
			t.Errorf("%s: %d, Vary %q", label, resp.StatusCode, resp.Header.Get("Vary"))
			continue
		}
		if c.file == nil {
			continue
		}
		want, _ := os.ReadFile(filepath.Join(dir, build.SiteDir, c.file.Path))
		ce := resp.Header.Get("Content-Encoding")
		if ce != c.encoding || resp.Header.Get("Content-Type") != c.file.ContentType ||
			resp.Header.Get("Cache-Control") != c.file.Cache.CacheControl() {
			t.Errorf("%s: Content-Encoding %q, Content-Type %q, Cache-Control %q", label, ce,
				resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
		}
		if got := decodeBody(t, ce, body); !bytes.Equal(got, want) {
			t.Errorf("%s: body (%s, %d bytes) does not decode to %s", label, ce, len(body), c.file.Path)
		}
	}

	// Each variant has its own ETag, so a revalidation never mixes them.
	url := srv.URL + "/agents/assets/main-W2e3R4t5.js"
	br, _ := buildtest.Get(t, url, map[string]string{"Accept-Encoding": "br"})
	if again, _ := buildtest.Get(t, url, map[string]string{"Accept-Encoding": "br", "If-None-Match": br.Header.Get("ETag")}); again.StatusCode != 304 {
		t.Errorf("revalidating the brotli variant: %d", again.StatusCode)
	}
	if other, _ := buildtest.Get(t, url, map[string]string{"Accept-Encoding": "gzip", "If-None-Match": br.Header.Get("ETag")}); other.StatusCode != 200 {
		t.Errorf("the brotli ETag validated the gzip variant: %d", other.StatusCode)
	}
}

// TestServeEncodingVariantMissing: a variant gone from site/ is a 404, as a
// variant missing from the bucket is on CloudFront: never the file's bytes
// under a Content-Encoding, nor a variant's without one.
func TestServeEncodingVariantMissing(t *testing.T) {
	dir, _ := buildtest.PrecompressedBake(t)
	if err := os.Remove(filepath.Join(dir, build.SiteDir, "assets", "main-W2e3R4t5.js.br")); err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(dir, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/agents/assets/main-W2e3R4t5.js", nil)
	req.Header.Set("Accept-Encoding", "br")
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotFound || rec.Header().Get("Content-Encoding") != "" {
		t.Errorf("%d, Content-Encoding %q", rec.Code, rec.Header().Get("Content-Encoding"))
	}
}

func decodeBody(t *testing.T, encoding string, b []byte) []byte {
	t.Helper()
	r, err := build.NewDecoder(encoding, bytes.NewReader(b))
	if err == nil {
		b, err = io.ReadAll(r)
	}
	if err != nil {
		t.Errorf("%s: %v", encoding, err)
	}
	return b
}
