package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/studiobake/studiobake/check"
	"github.com/studiobake/studiobake/check/checktest"
	"github.com/studiobake/studiobake/serve"
)

func runCheck(t *testing.T, siteURL string) check.Report {
	t.Helper()
	return runCheckWith(t, check.Options{URL: siteURL})
}

// runCheckWith runs check with a 10 s limit per request and logs the report.
func runCheckWith(t *testing.T, o check.Options) check.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o.Timeout = 10 * time.Second
	rep, err := check.Run(ctx, o)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	var b strings.Builder
	_ = rep.WriteText(&b)
	t.Logf("check report:\n%s", b.String())
	return rep
}

func failedIDs(rep check.Report) []string {
	var out []string
	for _, it := range rep.Items {
		if it.Status == check.Fail {
			out = append(out, it.ID)
		}
	}
	sort.Strings(out)
	return out
}

// allItems are the items every report must hold: "all pass" means these
// passed, not that a short report had no failures.
var allItems = []string{check.IDPage, check.IDIndexCache, check.IDAsset, check.IDDeepLink, check.IDMissingAsset,
	check.IDRefresh, check.IDSecurity, check.IDAPIRoot, check.IDAPIPreflight, check.IDAPICaps}

func wantFailed(t *testing.T, what string, rep check.Report, want ...string) {
	t.Helper()
	seen := map[string]bool{}
	for _, it := range rep.Items {
		seen[it.ID] = true
	}
	for _, id := range allItems {
		if !seen[id] {
			t.Errorf("%s: the report has no %s item", what, id)
		}
	}
	sort.Strings(want)
	if got := failedIDs(rep); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%s: failed items %v, want %v", what, got, want)
	}
}

// checkServed runs check against the served bake and the fake API: all
// pass; then the API without CORS, and a CDN that forces its own cache
// header, each fail exactly the items they break.
func checkServed(t *testing.T, siteURL, dir string, api *checktest.API) {
	t.Helper()
	wantFailed(t, "served bake", runCheck(t, siteURL))

	api.SetCORS(checktest.NoCORS)
	rep := runCheck(t, siteURL)
	api.SetCORS(checktest.AllowOrigins)
	wantFailed(t, "API without CORS", rep, check.IDAPIRoot, check.IDAPIPreflight, check.IDAPICaps)
	for _, it := range rep.Items {
		if it.ID == check.IDAPICaps && !strings.Contains(it.Fix, "credentials: true") {
			t.Errorf("CORS fix %q does not name the server setting", it.Fix)
		}
	}

	h, err := serve.NewHandler(dir, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	broken := httptest.NewServer(forceCache(h, "public, max-age=86400"))
	t.Cleanup(broken.Close)
	api.AllowOrigin(broken.URL)
	rep = runCheck(t, broken.URL+h.BasePath()+"/")
	wantFailed(t, "CDN forcing max-age=86400", rep, check.IDIndexCache, check.IDAsset)
}

// forceCache stands for a CDN cache policy that overrides the origin's
// Cache-Control on every answer.
func forceCache(h http.Handler, cc string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&cacheWriter{ResponseWriter: w, cc: cc}, r)
	})
}

type cacheWriter struct {
	http.ResponseWriter
	cc    string
	wrote bool
}

func (w *cacheWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		w.Header().Set("Cache-Control", w.cc)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *cacheWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}
