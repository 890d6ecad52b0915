package check

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/studiobake/studiobake/build"
	"github.com/studiobake/studiobake/check/checktest"
	"github.com/studiobake/studiobake/env"
	"github.com/studiobake/studiobake/serve"
	"github.com/studiobake/studiobake/templates"
)

// gatedBake bakes the test Studio tree under /agents with the CloudFront
// gate asking for basic auth, as build --edge cloudfront --auth basic does,
// and returns the bake and the URL's user:password.
func gatedBake(t *testing.T, api *checktest.API) (dir, userinfo string) {
	t.Helper()
	src, err := build.FindSource(context.Background(), build.SourceOptions{Studio: filepath.Join("..", "testdata", "studio", "v1.31")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Close)
	a, _ := url.Parse(api.URL)
	cfg, _, err := env.Load(env.Sources{Flags: map[string]string{"MASTRA_STUDIO_BASE_PATH": "/agents",
		"MASTRA_SERVER_HOST": a.Hostname(), "MASTRA_SERVER_PORT": a.Port(), "MASTRA_SERVER_PROTOCOL": "http"}})
	if err != nil {
		t.Fatal(err)
	}
	u, pw, err := templates.NewUser("ann")
	if err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(t.TempDir(), "dist")
	_, err = build.Run(context.Background(), build.Options{Source: src, Out: dir, Values: cfg.Values, BasePath: cfg.BasePath,
		APIEndpoint: cfg.APIEndpoint, APIOrigin: cfg.APIOrigin, API: cfg.API, Version: "test",
		Finish: func(tmp string, m *build.Manifest) error {
			return templates.WriteEdge(tmp, m, templates.EdgeOptions{Hosts: []templates.Host{templates.CloudFront},
				Auth: templates.CloudFrontOptions{Basic: &templates.BasicAuth{Realm: "Studio", Users: []templates.User{u}}}})
		}})
	if err != nil {
		t.Fatal(err)
	}
	return dir, "ann:" + pw
}

// leak stands for a route that reaches the bucket without the gate. It gets
// the raw request and returns the path under site/ it would serve, or "".
type leak func(r *http.Request) string

// ungated serves what leak picks straight from site/, the way a cache
// behaviour without the gate reaches the bucket, and passes the rest to the
// gated serve handler.
func ungated(gated http.Handler, site string, leak leak) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rel := leak(r)
		if rel == "" {
			gated.ServeHTTP(w, r)
			return
		}
		body, err := os.ReadFile(filepath.Join(site, filepath.FromSlash(rel)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	})
}

// underAgents is the file a decoded, normalised path names under /agents/.
func underAgents(p string) string {
	p = path.Clean(p)
	if rel, ok := strings.CutPrefix(p, "/agents/"); ok {
		return rel
	}
	return ""
}

// TestGateBypass: check probes a gated serve from outside. The gate as
// built holds; each route that reaches the files without it fails the
// check with the probe that got through and the behaviour to fix.
func TestGateBypass(t *testing.T) {
	fake := checktest.New(checktest.Options{})
	t.Cleanup(fake.Close)
	dir, userinfo := gatedBake(t, fake)
	site := filepath.Join(dir, build.SiteDir)

	// The gate as built, served by serve.Start as `studiobake serve` does.
	srv, err := serve.Start(serve.Options{Dir: dir, Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	fake.AllowOrigin(strings.TrimSuffix(srv.URL, "/agents/"))
	rep := run(t, Options{URL: strings.Replace(srv.URL, "http://", "http://"+userinfo+"@", 1), Timeout: 5 * time.Second})
	it := item(rep, IDGateBypass)
	if !rep.OK() || it.Status != Pass || !strings.Contains(it.Detail, "got no Studio content: 401 x") || !strings.Contains(it.Detail, "404 x2") {
		t.Fatalf("gated serve: want every item to pass, the gate item with 401s and the state prefix's 404s; got %+v", rep.Items)
	}

	h, err := serve.NewHandler(dir, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		desc string
		leak leak
		want []string // in the item's detail
		fix  string
	}{
		{"the default behaviour reaches the bucket, which decodes the path", func(r *http.Request) string {
			if strings.HasPrefix(r.URL.EscapedPath(), "/agents/") {
				return "" // the agents/* behaviour, gated
			}
			return underAgents(r.URL.Path)
		}, []string{"GET /agents%2Findex.html (an encoded slash) answered 200", "GET /%61gents/index.html (an encoded letter) answered 200",
			"GET /studiobake-probe/%2e%2e/agents/index.html", "where the gate answers 401"}, "often the default one"},
		{"an origin that ignores case behind an ungated behaviour", func(r *http.Request) string {
			if strings.HasPrefix(r.URL.Path, "/AGENTS/") {
				return underAgents(strings.ToLower(r.URL.Path))
			}
			return ""
		}, []string{"GET /AGENTS/INDEX.HTML (a change of case) answered 200"}, "case-insensitively"},
		{"the state prefix served by its own behaviour", func(r *http.Request) string {
			if strings.Contains(r.URL.Path, "/_studiobake/") {
				return "index.html" // any object: publish's records
			}
			return ""
		}, []string{"GET /agents/_studiobake/releases/ (the state prefix) answered 200", "GET /agents/%5Fstudiobake/releases/ (the state prefix, encoded)"}, "state prefix"},
		{"POST reaches the origin without the gate", func(r *http.Request) string {
			if r.Method == http.MethodPost {
				return "index.html"
			}
			return ""
		}, []string{"POST /agents/ (method POST) answered 200"}, "another method"},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			leaky := httptest.NewServer(ungated(h, site, tc.leak))
			t.Cleanup(leaky.Close)
			fake.AllowOrigin(leaky.URL)
			rep := run(t, Options{URL: strings.Replace(leaky.URL, "http://", "http://"+userinfo+"@", 1) + "/agents/", Timeout: 5 * time.Second})
			f := failed(rep)
			it, ok := f[IDGateBypass]
			if !ok || len(f) != 1 {
				t.Fatalf("failed items %v, want just %s", keys(f), IDGateBypass)
			}
			for _, w := range tc.want {
				if !strings.Contains(it.Detail, w) {
					t.Errorf("detail %q\nwant it to contain %q", it.Detail, w)
				}
			}
			if !strings.Contains(it.Fix, tc.fix) {
				t.Errorf("fix %q, want it to contain %q", it.Fix, tc.fix)
			}
		})
	}
}

// TestGateBypassAppliesToGatedSites: a site that answers without
// credentials is not gated from here (nothing to probe, one request); one
// given credentials yet answering without them fails.
func TestGateBypassAppliesToGatedSites(t *testing.T) {
	u, _ := setup(t, nil, checktest.Options{})
	rep := run(t, Options{URL: u})
	if it := item(rep, IDGateBypass); it.Status != Pass || !strings.Contains(it.Detail, "not gated from here") {
		t.Errorf("public site: %+v", it)
	}
	rep = run(t, Options{URL: strings.Replace(u, "http://", "http://ann:secret@", 1)})
	it := item(rep, IDGateBypass)
	if it.Status != Fail || !strings.Contains(it.Detail, "without the credentials given") || !strings.Contains(it.Fix, "--associate") {
		t.Errorf("credentials given, page open: %+v", it)
	}
}

func item(rep Report, id string) Item {
	for _, it := range rep.Items {
		if it.ID == id {
			return it
		}
	}
	return Item{}
}
