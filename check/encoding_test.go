package check

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/studiobake/studiobake/build/buildtest"
	"github.com/studiobake/studiobake/serve"
)

// TestAssetAsBrowsersGetIt: the hashed-asset item asks as a browser does
// (br, gzip) and compares the decoded body with the page's integrity: a
// bake served with its variants passes; a FILE.br that lost its
// Content-Encoding in the bucket, or a Content-Encoding on bytes that are
// not so encoded, fails.
func TestAssetAsBrowsersGetIt(t *testing.T) {
	dir, _ := buildtest.EntryBake(t)
	h, err := serve.NewHandler(dir, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	entry := "/agents/" + buildtest.Entry
	cases := []struct {
		name   string
		wrap   func(w http.ResponseWriter, r *http.Request)
		pass   bool
		detail string
	}{
		{"as published", h.ServeHTTP, true, "br, "},
		{"variant without Content-Encoding", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == entry {
				w = dropHeader{w, "Content-Encoding"}
			}
			h.ServeHTTP(w, r)
		}, false, "does not match the page's integrity"},
		{"Content-Encoding on plain bytes", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == entry {
				r.Header.Del("Accept-Encoding")
				w.Header().Set("Content-Encoding", "gzip")
			}
			h.ServeHTTP(w, r)
		}, false, "does not decode"},
	}
	for _, c := range cases {
		srv := httptest.NewServer(http.HandlerFunc(c.wrap))
		rep := run(t, Options{URL: srv.URL + "/agents/"})
		srv.Close()
		var it Item
		for _, i := range rep.Items {
			if i.ID == IDAsset {
				it = i
			}
		}
		if (it.Status == Pass) != c.pass || !strings.Contains(it.Detail, c.detail) || !strings.Contains(it.Detail, buildtest.Entry) {
			t.Errorf("%s: %s %q, want pass=%v with %q", c.name, it.Status, it.Detail, c.pass, c.detail)
		}
	}
}

// dropHeader removes one header from an answer, as a misconfigured bucket
// would not have stored it.
type dropHeader struct {
	http.ResponseWriter
	name string
}

func (d dropHeader) WriteHeader(code int) {
	d.ResponseWriter.Header().Del(d.name)
	d.ResponseWriter.WriteHeader(code)
}

func (d dropHeader) Write(b []byte) (int, error) {
	d.ResponseWriter.Header().Del(d.name)
	return d.ResponseWriter.Write(b)
}
