package check

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/studiobake/studiobake/check/checktest"
)

// site is a hand-made Studio deployment under /agents with knobs to break it.
type site struct {
	apiURL       string
	indexCache   string
	assetCache   string
	assetType    string
	assetBody    string // served; the page's integrity is for "console.log(1)"
	spaCatchAll  bool   // missing assets answer index.html (custom error response)
	noDeepLink   bool
	refreshSSE   bool // refresh-events is a dev server's stream
	noSecurity   bool
	hsts         bool
	staleCSP     bool
	basicAuth    string // "user:pass" required when set
	placeholders bool
}

const assetJS = "console.log(1)"

func newSite() *site {
	return &site{
		indexCache: "public, max-age=0, must-revalidate",
		assetCache: "public, max-age=31536000, immutable",
		assetType:  "text/javascript; charset=utf-8",
		assetBody:  assetJS,
	}
}

func (s *site) page() (html, script string) {
	u, _ := url.Parse(s.apiURL)
	script = fmt.Sprintf("\n      window.MASTRA_STUDIO_BASE_PATH = '/agents';\n      window.MASTRA_SERVER_HOST = '%s';\n"+
		"      window.MASTRA_SERVER_PORT = '%s';\n      window.MASTRA_SERVER_PROTOCOL = 'http';\n      window.MASTRA_API_PREFIX = '\\u002fapi';\n",
		u.Hostname(), u.Port())
	if s.placeholders {
		script += "      window.MASTRA_TEMPLATES = '%%MASTRA_TEMPLATES%%';\n"
	}
	sum := sha512.Sum384([]byte(assetJS))
	html = `<!doctype html><html><head><base href="/agents/" /><script>` + script + `</script>` +
		`<script type="module" crossorigin src="./assets/index-CoVvvt4X.js" integrity="sha384-` +
		base64.StdEncoding.EncodeToString(sum[:]) + `"></script></head><body><div id="root"></div></body></html>`
	return html, script
}

func (s *site) security(w http.ResponseWriter, script string) {
	if s.noSecurity {
		return
	}
	sum := sha256.Sum256([]byte(script))
	if s.staleCSP {
		sum = sha256.Sum256([]byte("old"))
	}
	u, _ := url.Parse(s.apiURL)
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'sha256-"+
		base64.StdEncoding.EncodeToString(sum[:])+"'; connect-src 'self' http://"+u.Host+"; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if s.hsts {
		w.Header().Set("Strict-Transport-Security", "max-age=31536000")
	}
	w.Header().Set("Referrer-Policy", "strict-origin-when-cross-origin")
}

func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	html, script := s.page()
	s.security(w, script)
	if s.basicAuth != "" {
		u, p, ok := r.BasicAuth()
		if !ok || u+":"+p != s.basicAuth {
			w.Header().Set("WWW-Authenticate", `Basic realm="studio"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
	}
	serveIndex := func() {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", s.indexCache)
		_, _ = w.Write([]byte(html))
	}
	switch p := r.URL.Path; {
	case p == "/agents/" || (strings.HasPrefix(p, "/agents/agents/") && !s.noDeepLink):
		serveIndex()
	case p == "/agents/refresh-events" && s.refreshSSE:
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	case p == "/agents/refresh-events":
		w.WriteHeader(http.StatusNoContent)
	case p == "/agents/assets/index-CoVvvt4X.js":
		w.Header().Set("Content-Type", s.assetType)
		w.Header().Set("Cache-Control", s.assetCache)
		_, _ = w.Write([]byte(s.assetBody))
	case s.spaCatchAll:
		serveIndex()
	default:
		http.NotFound(w, r)
	}
}

// setup starts the site and a fake API allowing the site's origin.
func setup(t *testing.T, mod func(*site), api checktest.Options) (siteURL string, fake *checktest.API) {
	t.Helper()
	s := newSite()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	if api.CORS == checktest.AllowOrigins && api.Origins == nil {
		api.Origins = []string{srv.URL}
	}
	fake = checktest.New(api)
	t.Cleanup(fake.Close)
	s.apiURL = fake.URL
	if mod != nil {
		mod(s)
	}
	return srv.URL + "/agents/", fake
}

func run(t *testing.T, o Options) Report {
	t.Helper()
	if o.Timeout == 0 {
		o.Timeout = 3 * time.Second
	}
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rep
}

func failed(rep Report) map[string]Item {
	out := map[string]Item{}
	for _, it := range rep.Items {
		if it.Status == Fail {
			out[it.ID] = it
		}
	}
	return out
}

func TestRunAllPass(t *testing.T) {
	u, fake := setup(t, nil, checktest.Options{})
	rep := run(t, Options{URL: u})
	if !rep.OK() || len(rep.Items) != len(titles) {
		t.Fatalf("want all %d pass, got %+v", len(titles), rep.Items)
	}
	if want := strings.TrimSuffix(fake.URL, "/") + "/api"; rep.API != want {
		t.Errorf("API = %q, want %q", rep.API, want)
	}
	var sawCaps bool
	for _, r := range fake.Requests() {
		if r.Path == "/api/auth/capabilities" && r.Method == http.MethodGet {
			sawCaps = r.Origin == rep.Origin
		}
	}
	if !sawCaps {
		t.Errorf("fake API got no capabilities request with Origin %s", rep.Origin)
	}
}

func TestRunFailures(t *testing.T) {
	cases := []struct {
		desc string
		mod  func(*site)
		api  checktest.Options
		want []string // failing item IDs, exactly
		text string   // expected in the first failure's detail
	}{
		{"API without CORS", nil, checktest.Options{CORS: checktest.NoCORS},
			[]string{IDAPIRoot, IDAPIPreflight, IDAPICaps}, "Access-Control-Allow-Origin is absent"},
		{"Mastra's default CORS (* without credentials)", nil, checktest.Options{CORS: checktest.Wildcard},
			[]string{IDAPIPreflight, IDAPICaps}, `is "*", want exactly`},
		{"API allows another origin", nil, checktest.Options{Origins: []string{"https://elsewhere.example"}},
			[]string{IDAPIRoot, IDAPIPreflight, IDAPICaps}, "absent"},
		{"index cached for an hour", func(s *site) { s.indexCache = "public, max-age=3600" }, checktest.Options{},
			[]string{IDIndexCache}, "lets browsers keep an old page"},
		{"index without Cache-Control", func(s *site) { s.indexCache = "" }, checktest.Options{},
			[]string{IDIndexCache}, "no Cache-Control"},
		{"asset not immutable", func(s *site) { s.assetCache = "public, max-age=0, must-revalidate" }, checktest.Options{},
			[]string{IDAsset}, "not a long immutable lifetime"},
		{"asset served as text/plain", func(s *site) { s.assetType = "text/plain" }, checktest.Options{},
			[]string{IDAsset}, "refuse module scripts"},
		{"asset rewritten", func(s *site) { s.assetBody = "console.log(2)" }, checktest.Options{},
			[]string{IDAsset}, "does not match"},
		{"custom error response hides missing assets", func(s *site) { s.spaCatchAll = true }, checktest.Options{},
			[]string{IDMissingAsset}, "200 with index.html"},
		{"no SPA fallback", func(s *site) { s.noDeepLink = true }, checktest.Options{},
			[]string{IDDeepLink}, "answered 404"},
		{"refresh-events is a dev server stream", func(s *site) { s.refreshSSE = true }, checktest.Options{},
			[]string{IDRefresh}, "event stream"},
		{"no security headers", func(s *site) { s.noSecurity = true }, checktest.Options{},
			[]string{IDSecurity}, "nosniff missing"},
		{"CSP from another bake", func(s *site) { s.staleCSP = true }, checktest.Options{},
			[]string{IDSecurity}, "does not allow the page's inline script"},
		{"placeholders left", func(s *site) { s.placeholders = true }, checktest.Options{},
			[]string{IDPage}, "%%MASTRA_TEMPLATES%%"},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			u, _ := setup(t, tc.mod, tc.api)
			start := time.Now()
			rep := run(t, Options{URL: u})
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
			got := failed(rep)
			if len(got) != len(tc.want) {
				t.Fatalf("failed items %v, want %v; report %+v", keys(got), tc.want, rep.Items)
			}
			for _, id := range tc.want {
				if _, ok := got[id]; !ok {
					t.Fatalf("failed items %v, want %v", keys(got), tc.want)
				}
			}
			first := got[tc.want[0]]
			if !strings.Contains(first.Detail, tc.text) || first.Fix == "" {
				t.Errorf("%s: detail %q (fix %q), want it to contain %q", first.ID, first.Detail, first.Fix, tc.text)
			}
		})
	}
}

func keys(m map[string]Item) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestRunCORSFixNamesServerSetting(t *testing.T) {
	u, _ := setup(t, nil, checktest.Options{CORS: checktest.NoCORS})
	rep := run(t, Options{URL: u})
	it := failed(rep)[IDAPICaps]
	want := "server: { cors: { origin: ['" + rep.Origin + "'], credentials: true } }"
	if !strings.Contains(it.Fix, want) {
		t.Errorf("fix %q, want it to contain %q", it.Fix, want)
	}
}

func TestRunBasicAuth(t *testing.T) {
	u, _ := setup(t, func(s *site) { s.basicAuth = "ann:secret" }, checktest.Options{})
	rep := run(t, Options{URL: u})
	if it := failed(rep)[IDPage]; !strings.Contains(it.Detail, "asks for a login (401)") {
		t.Errorf("without credentials: page item %+v", it)
	}
	withAuth := strings.Replace(u, "http://", "http://ann:secret@", 1)
	rep = run(t, Options{URL: withAuth})
	if !rep.OK() {
		t.Errorf("with credentials: %+v", failed(rep))
	}
	if strings.Contains(rep.URL, "secret") {
		t.Errorf("report shows the password: %s", rep.URL)
	}
}

func TestRunAPIOverride(t *testing.T) {
	u, _ := setup(t, func(s *site) { s.apiURL = "http://127.0.0.1:1" }, checktest.Options{})
	rep := run(t, Options{URL: u})
	if it := failed(rep)[IDAPIRoot]; !strings.Contains(it.Detail, "connection refused") {
		t.Errorf("baked API unreachable: %+v", it)
	}
	other := checktest.New(checktest.Options{Prefix: "/mastra/api", Origins: []string{strings.TrimSuffix(u, "/agents/")}})
	t.Cleanup(other.Close)
	rep = run(t, Options{URL: u, API: other.URL + "/mastra/api"})
	if rep.API != other.URL+"/mastra/api" {
		t.Errorf("API %q, want the --api endpoint with its own prefix", rep.API)
	}
	// The page's CSP still names the baked API (the one browsers will call);
	// only the API items follow --api.
	for _, id := range []string{IDAPIRoot, IDAPIPreflight, IDAPICaps} {
		if it, bad := failed(rep)[id]; bad {
			t.Errorf("--api: %s failed: %s", id, it.Detail)
		}
	}
}

// TestRunBadInput: every item fails with one line naming the cause.
func TestRunBadInput(t *testing.T) {
	closed := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return "http://" + addr + "/agents/"
	}()
	tlsSrv := httptest.NewUnstartedServer(http.NotFoundHandler())
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is the point
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	loop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/a", http.StatusFound)
	}))
	t.Cleanup(loop.Close)
	notStudio := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<!doctype html><title>Welcome to nginx!</title>")
	}))
	t.Cleanup(notStudio.Close)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(hang.Close)

	// fix: the remedy every item must give, the cause's own where it has one.
	cases := []struct{ desc, url, want, fix string }{
		{"nothing listening", closed, "does not answer (connection refused)", "that the site is deployed"},
		{"untrusted certificate", tlsSrv.URL, "TLS certificate not accepted", "serve a certificate from a trusted CA"},
		{"https to a plain HTTP port", strings.Replace(notStudio.URL, "http:", "https:", 1), "TLS handshake failed", "use an http:// URL"},
		{"redirect loop", loop.URL, "redirect loop: gave up after 10 redirects", "redirects in a circle"},
		{"not a Studio page", notStudio.URL, "is not a Mastra Studio page", "point check at the Studio page"},
		{"no answer in time", hang.URL, "no answer in time", "that the site is deployed"},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			rep := run(t, Options{URL: tc.url, Timeout: 500 * time.Millisecond})
			if rep.OK() || rep.Failed != len(titles) {
				t.Fatalf("want every item to fail, got %+v", rep.Items)
			}
			for _, it := range rep.Items {
				if !strings.Contains(it.Detail, tc.want) || strings.Contains(it.Detail, "\n") || !strings.Contains(it.Fix, tc.fix) {
					t.Fatalf("%s: detail %q fix %q, want one line with %q and a fix with %q", it.ID, it.Detail, it.Fix, tc.want, tc.fix)
				}
			}
		})
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	for _, o := range []Options{{URL: "cdn.example.com"}, {URL: "ftp://x/"}, {URL: "http://x/", API: "api:4111"}} {
		if _, err := Run(context.Background(), o); err == nil {
			t.Errorf("%+v: want an error", o)
		}
	}
}

// TestRunSlowAPI: the API items run at once, so a hanging API costs one
// timeout, and each item says what happened.
func TestRunSlowAPI(t *testing.T) {
	u, _ := setup(t, nil, checktest.Options{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(hang.Close)
	start := time.Now()
	rep := run(t, Options{URL: u, API: hang.URL + "/api", Timeout: 500 * time.Millisecond})
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("took %v with a 500ms timeout", d)
	}
	got := failed(rep)
	for _, id := range []string{IDAPIRoot, IDAPIPreflight, IDAPICaps} {
		if !strings.Contains(got[id].Detail, "no answer in time") {
			t.Errorf("%s: %+v", id, got[id])
		}
	}
}

// TestRunHTTPS: over https, HSTS is required; the injected client trusts
// the test certificate.
func TestRunHTTPS(t *testing.T) {
	for _, hsts := range []bool{true, false} {
		s := newSite()
		s.hsts = hsts
		srv := httptest.NewTLSServer(s)
		t.Cleanup(srv.Close)
		fake := checktest.New(checktest.Options{Origins: []string{srv.URL}})
		t.Cleanup(fake.Close)
		s.apiURL = fake.URL
		rep := run(t, Options{URL: srv.URL + "/agents/", Client: srv.Client()})
		got := failed(rep)
		if hsts && len(got) > 0 {
			t.Errorf("with HSTS: failed %+v", got)
		}
		if !hsts && (len(got) != 1 || !strings.Contains(got[IDSecurity].Detail, "Strict-Transport-Security missing")) {
			t.Errorf("without HSTS: failed %+v", got)
		}
	}
}

func TestMixedContent(t *testing.T) {
	cases := []struct {
		page, api string
		want      bool
	}{
		{"https://cdn.example.com/", "http://api.example.com:4111", true},
		{"https://cdn.example.com/", "https://api.example.com:443", false},
		{"https://cdn.example.com/", "http://localhost:4111", false},
		{"https://cdn.example.com/", "http://127.0.0.1:4111", false},
		{"http://cdn.example.com/", "http://api.example.com:4111", false},
	}
	for _, c := range cases {
		pu, _ := url.Parse(c.page)
		au, _ := url.Parse(c.api)
		if got := mixedContent(&page{url: pu}, au); got != c.want {
			t.Errorf("page %s, API %s: mixed %v, want %v", c.page, c.api, got, c.want)
		}
	}
}

// TestRunAPICertificate: an API whose certificate is not trusted gets the
// certificate fix on each API item, not "start the Mastra server".
func TestRunAPICertificate(t *testing.T) {
	u, _ := setup(t, nil, checktest.Options{})
	api := httptest.NewUnstartedServer(http.NotFoundHandler())
	api.Config.ErrorLog = log.New(io.Discard, "", 0)
	api.StartTLS()
	t.Cleanup(api.Close)
	got := failed(run(t, Options{URL: u, API: api.URL + "/api"}))
	for _, id := range []string{IDAPIRoot, IDAPIPreflight, IDAPICaps} {
		if !strings.Contains(got[id].Detail, "TLS certificate not accepted") || !strings.Contains(got[id].Fix, "certificate from a trusted CA") {
			t.Errorf("%s: %+v", id, got[id])
		}
	}
}

// TestInvalidURLHidesPassword: a URL that does not parse is quoted in the
// error without its user:password, which would otherwise land in CI logs.
func TestInvalidURLHidesPassword(t *testing.T) {
	for _, u := range []string{"https://alice:50%off@cdn.example.com/agents/", "https://alice:pa/ss@cdn.example.com/agents/"} {
		_, err := Run(context.Background(), Options{URL: u})
		if err == nil || strings.Contains(err.Error(), "off") || strings.Contains(err.Error(), "pa/ss") || !strings.Contains(err.Error(), "***@cdn.example.com") {
			t.Errorf("URL %q: err = %v, want an error without the password", u, err)
		}
	}
}
