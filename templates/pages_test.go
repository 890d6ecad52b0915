package templates

import (
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/studiobake/studiobake/build"
	"github.com/studiobake/studiobake/templates/hosttest"
	"github.com/studiobake/studiobake/templates/proxytest"
)

// TestCloudflarePagesWrangler runs the Cloudflare Pages output of a
// one-origin bake in wrangler pages dev (Cloudflare's local Pages runtime,
// workerd) against a fake Mastra server: _worker.js forwards the API prefix
// with the forwarding headers and streams agent answers, answers the root
// probe and refresh-events, and Studio's files keep _headers and _redirects.
func TestCloudflarePagesWrangler(t *testing.T) {
	exe := hosttest.Wrangler(t)
	up := proxytest.New(t)
	for _, base := range []string{"/agents", ""} {
		t.Run("base "+or(base, "/"), func(t *testing.T) {
			dir, m := testBake(t, base, false)
			m.API, m.APIOrigin = build.API{Mode: build.APIOneOrigin, Prefix: "/api", Upstream: up.URL, Probe: "(page origin)/"}, ""
			origin := hosttest.StartWrangler(t, exe, readyFolder(t, dir, m, Cloudflare))
			fwd := proxytest.Forwarded{Host: strings.TrimPrefix(origin, "http://"), Proto: "http"}
			up.CheckEcho(t, origin, "GET", "/api/agents/support.bot-v1.2?x=1", "", fwd)
			up.CheckEcho(t, origin, "POST", "/api/auth/sso/callback", `{"a":1}`, fwd)
			up.CheckEcho(t, origin, "GET", "/api/auth/capabilities", "", fwd)
			up.CheckStream(t, origin)
			checkPagesStudio(t, origin, base)
		})
	}
}

// TestNetlifyOneOrigin runs the Netlify folder of a one-origin bake in
// netlify dev against a fake Mastra server: the _redirects proxy rule
// forwards the API prefix unchanged and streams agent answers.
func TestNetlifyOneOrigin(t *testing.T) {
	exe := hosttest.Netlify(t)
	up := proxytest.New(t)
	for _, base := range []string{"/agents", ""} {
		t.Run("base "+or(base, "/"), func(t *testing.T) {
			dir, m := testBake(t, base, false)
			m.API, m.APIOrigin = build.API{Mode: build.APIOneOrigin, Prefix: "/api", Upstream: up.URL, Probe: "(page origin)/"}, ""
			origin := hosttest.StartNetlify(t, exe, readyFolder(t, dir, m, Netlify))
			for _, c := range []struct{ method, uri, body string }{
				{"GET", "/api/agents/support.bot-v1.2?x=1", ""},
				{"POST", "/api/auth/sso/callback", `{"a":1}`},
			} {
				e, _ := up.Send(t, origin, c.method, c.uri, c.body)
				if e.Method != c.method || e.Body != c.body {
					t.Errorf("%s %s: the upstream got %s with %q", c.method, c.uri, e.Method, e.Body)
				}
			}
			up.CheckStream(t, origin)
		})
	}
}

// checkPagesStudio checks the paths beside the API: the worker's answers and
// Studio's files with their _headers and _redirects.
func checkPagesStudio(t *testing.T, origin, base string) {
	t.Helper()
	probe := 200
	for _, c := range []struct {
		path   string
		status int
		body   string // prefix of the body
		cache  string
	}{
		{"/", probe, "", "no-store"},
		{base + "/refresh-events", 204, "", "no-store"},
		{base + "/agents/support.bot-v1.2", 200, "<!doctype html>", build.Revalidate.CacheControl()},
		{base + "/assets/index-AbCdEf12.js", 200, "", build.Immutable.CacheControl()},
		{base + "/assets/missing-AbCdEf12.js", 404, "", ""},
	} {
		if base == "" && c.path == "/" {
			c.body, c.cache = "<!doctype html>", build.Revalidate.CacheControl()
		}
		resp, err := http.Get(origin + c.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || !strings.HasPrefix(strings.ToLower(string(body)), c.body) ||
			(c.cache != "" && resp.Header.Get("Cache-Control") != c.cache) {
			t.Errorf("GET %s: %d Cache-Control %q body %.40q, want %d %q %q", c.path, resp.StatusCode, resp.Header.Get("Cache-Control"), body, c.status, c.cache, c.body)
		}
		if c.status == 200 && c.cache != "no-store" && resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s: no Content-Security-Policy: _headers did not apply", c.path)
		}
	}
}

// readyFolder writes the bake's ready folder for h as build does and
// returns it: the folder the README tells users to deploy.
func readyFolder(t *testing.T, dir string, m *build.Manifest, h Host) string {
	t.Helper()
	if err := WriteEdge(dir, m, EdgeOptions{Hosts: []Host{h}}); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, string(h))
}

// fixtureModes are the API modes the ready folders are replayed in: the
// Cloudflare folder has a worker in both, forwarding the API only in one.
func fixtureModes(upstream string) map[string]build.API {
	return map[string]build.API{
		"direct":     {},
		"one-origin": {Mode: build.APIOneOrigin, Prefix: "/api", Upstream: upstream, Probe: "(page origin)/"},
	}
}

// replayRouting replays the gate's routing fixtures against each bake's
// ready folder for h, served by start, in each API mode, with want turning
// the gate's outcome into the host's.
func replayRouting(t *testing.T, h Host, start func(pub string) string, want func(m *build.Manifest, uri, wantURI string, status int, loc string) (string, int, string)) {
	up := proxytest.New(t)
	fx := loadRouting(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for bake := range fx.Bakes {
		for mode, api := range fixtureModes(up.URL) {
			t.Run(bake+" "+mode, func(t *testing.T) {
				m := fx.manifest(bake)
				m.API = api
				origin := start(readyFolder(t, writeFixtureSite(t, m), m, h))
				for _, c := range fx.Cases {
					if c.Bake != bake {
						continue
					}
					uri, status, loc := want(m, c.URI, c.Want.URI, c.Want.Status, c.Want.Location)
					if uri == "" && status == 0 {
						continue
					}
					checkServedCase(t, client, origin, m, c.Name, c.URI, c.Query, uri, status, loc)
				}
			})
		}
	}
}

// TestCloudflarePagesRouting replays the routing fixtures in wrangler pages
// dev, adjusted by cloudflareWant for what Pages does by design.
func TestCloudflarePagesRouting(t *testing.T) {
	exe := hosttest.Wrangler(t)
	replayRouting(t, Cloudflare, func(pub string) string { return hosttest.StartWrangler(t, exe, pub) }, cloudflareWant)
}

// TestNetlifyRouting replays the routing fixtures in netlify dev, adjusted
// by netlifyWant.
func TestNetlifyRouting(t *testing.T) {
	exe := hosttest.Netlify(t)
	replayRouting(t, Netlify, func(pub string) string { return hosttest.StartNetlify(t, exe, pub) }, netlifyWant)
}

// isRoute says whether uri is one of Studio's routes under the base path.
func isRoute(m *build.Manifest, uri string) bool {
	rest := strings.TrimPrefix(uri, m.BasePath)
	for _, r := range gateRoutes(m) {
		if rest == "/"+r || strings.HasPrefix(rest, "/"+r+"/") {
			return true
		}
	}
	return false
}

// cloudflareWant turns a gate fixture's outcome into Cloudflare Pages' (the
// README of edge/cloudflare says so): only Studio's routes are rewritten to
// index.html, other unknown paths are 404; index.html by name redirects to
// its directory; a bad escape finds no file (404, not 400); in one-origin
// mode the worker answers the root probe.
func cloudflareWant(m *build.Manifest, uri, wantURI string, status int, loc string) (string, int, string) {
	base := m.BasePath
	switch {
	case status == http.StatusBadRequest:
		return "", http.StatusNotFound, ""
	case uri == base+"/index.html":
		return "", http.StatusPermanentRedirect, base + "/"
	case base != "" && uri == "/" && m.API.OneOrigin():
		return "", http.StatusOK, ""
	case wantURI == base+"/index.html" && uri != base+"/" && uri != base+"/index.html" && !isRoute(m, uri):
		return "", http.StatusNotFound, ""
	}
	return wantURI, status, loc
}

// netlifyWant turns a gate fixture's outcome into Netlify's (the README of
// edge/netlify says so): only Studio's routes are rewritten to index.html,
// other unknown paths are 404; rules files cannot answer 204, so
// refresh-events is a 404 too; the base without its slash is the entry
// page (Netlify serves a folder's index.html there before any rule); in
// one-origin mode a rule answers the root probe. netlify dev drops the
// connection on a bad escape: that case has no outcome here (0).
func netlifyWant(m *build.Manifest, uri, wantURI string, status int, loc string) (string, int, string) {
	base := m.BasePath
	switch {
	case status == http.StatusBadRequest:
		return "", 0, ""
	case status == http.StatusNoContent:
		return "", http.StatusNotFound, ""
	case base != "" && uri == base:
		return base + "/index.html", 0, ""
	case base != "" && uri == "/" && m.API.OneOrigin():
		return base + "/index.html", 0, ""
	case wantURI == base+"/index.html" && uri != base+"/" && uri != base+"/index.html" && !isRoute(m, uri):
		return "", http.StatusNotFound, ""
	}
	return wantURI, status, loc
}

// writeFixtureSite writes the bake's files, each holding "file PATH", into
// a bake directory's site/.
func writeFixtureSite(t *testing.T, m *build.Manifest) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range m.Files {
		p := filepath.Join(dir, build.SiteDir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("file "+f.Path), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestReadyFolders: each ready folder holds the site's files under the base
// path and the host's own files at its root, and nothing else: no README,
// no precompressed variant lying in site/, no edge file of another host.
func TestReadyFolders(t *testing.T) {
	for _, base := range []string{"/agents", ""} {
		dir, m := testBake(t, base, false)
		if err := os.WriteFile(filepath.Join(dir, build.SiteDir, "index.html.br"), []byte("variant"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := WriteEdge(dir, m, EdgeOptions{Hosts: Hosts}); err != nil {
			t.Fatal(err)
		}
		for h, own := range map[Host][]string{
			Netlify:    {"404.html", "_headers", "_redirects"},
			Cloudflare: {"404.html", "_headers", "_redirects", PagesRoutesFile, PagesWorkerFile},
		} {
			want := append([]string{}, own...)
			for _, f := range m.Files {
				want = append(want, strings.TrimPrefix(base+"/"+f.Path, "/"))
			}
			got := listFiles(t, filepath.Join(dir, string(h)))
			sort.Strings(want)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("base %q: %s/ holds\n  %v\nwant\n  %v", base, h, got, want)
			}
			for _, f := range m.Files {
				a, _ := os.ReadFile(filepath.Join(dir, build.SiteDir, f.Path))
				b, _ := os.ReadFile(filepath.Join(dir, string(h), strings.TrimPrefix(base, "/"), f.Path))
				if len(a) == 0 || string(a) != string(b) {
					t.Errorf("base %q: %s/ has %s with other content", base, h, f.Path)
				}
			}
		}
	}
}

// TestReadyFolderCollision: a Studio tree with a file a host reads as its
// own configuration is refused, naming it, before anything is written.
func TestReadyFolderCollision(t *testing.T) {
	dir, m := testBake(t, "", false)
	m.Files = append(m.Files, build.File{Path: "_redirects"})
	err := WriteEdge(dir, m, EdgeOptions{Hosts: []Host{Nginx, Netlify}})
	if err == nil || !strings.Contains(err.Error(), "_redirects") || !strings.Contains(err.Error(), "--base-path") {
		t.Fatalf("err = %v, want a refusal naming _redirects", err)
	}
	for _, p := range []string{build.EdgeDir, string(Netlify)} {
		if _, err := os.Stat(filepath.Join(dir, p)); !os.IsNotExist(err) {
			t.Errorf("%s written after a refused build: %v", p, err)
		}
	}
}

func listFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}
