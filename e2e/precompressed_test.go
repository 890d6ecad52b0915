package e2e

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/studiobake/studiobake/build"
	"github.com/studiobake/studiobake/build/buildtest"
	"github.com/studiobake/studiobake/check/checktest"
	"github.com/studiobake/studiobake/serve"
	"github.com/studiobake/studiobake/templates"
	"github.com/studiobake/studiobake/templates/nginxtest"
)

// transfer is one response of a page load, as DevTools saw it.
type transfer struct {
	url      string
	status   int64
	encoding string  // Content-Encoding
	bytes    float64 // encodedDataLength: what crossed the wire, headers included
	done     bool
}

// netLog records a page load: every local response, failures, and the
// console (where Chromium reports a resource blocked by its integrity).
type netLog struct {
	mu       sync.Mutex
	local    string
	byID     map[network.RequestID]*transfer
	failures []string
	console  []string
	last     time.Time // of the last network event
}

func (n *netLog) on(ev any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		if strings.HasPrefix(e.Request.URL, n.local) {
			n.last = time.Now()
			n.byID[e.RequestID] = &transfer{url: e.Request.URL}
		}
	case *network.EventResponseReceived:
		if tr := n.byID[e.RequestID]; tr != nil {
			tr.status = e.Response.Status
			for k, v := range e.Response.Headers {
				if strings.EqualFold(k, "Content-Encoding") {
					tr.encoding = fmt.Sprint(v)
				}
			}
		}
	case *network.EventLoadingFinished:
		if tr := n.byID[e.RequestID]; tr != nil {
			n.last = time.Now()
			tr.bytes, tr.done = e.EncodedDataLength, true
		}
	case *network.EventLoadingFailed:
		if tr := n.byID[e.RequestID]; tr != nil {
			n.last = time.Now()
			tr.done = true
			n.failures = append(n.failures, tr.url+": "+e.ErrorText)
		}
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError {
			var parts []string
			for _, a := range e.Args {
				parts = append(parts, strings.Trim(string(a.Value), `"`)+a.Description)
			}
			n.console = append(n.console, strings.Join(parts, " "))
		}
	case *log.EventEntryAdded:
		n.console = append(n.console, string(e.Entry.Source)+": "+e.Entry.Text)
	}
}

// find returns the response for url (a zero one when there was none).
func (n *netLog) find(url string) transfer {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, tr := range n.byID {
		if tr.url == url {
			return *tr
		}
	}
	return transfer{url: url}
}

// idle reports a load with nothing in flight and no network event for d.
func (n *netLog) idle(d time.Duration) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, tr := range n.byID {
		if !tr.done {
			return false
		}
	}
	return time.Since(n.last) > d
}

// loadCold opens pageURL in a fresh browser (no cache) and returns what it
// fetched from the site once nothing came from it for two seconds and, for
// a page that should render, #root has filled: the first page's load, lazy
// chunks and fonts included. rendered says whether #root filled.
func loadCold(t *testing.T, pageURL string, shouldRender bool) (n *netLog, rendered bool) {
	t.Helper()
	ctx := newBrowser(t)
	u, _ := url.Parse(pageURL)
	n = &netLog{local: u.Scheme + "://" + u.Host + "/", byID: map[network.RequestID]*transfer{}, last: time.Now()}
	if err := chromedp.Listen(ctx, n.on); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true}); err != nil {
		t.Fatalf("disable the cache: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL)); err != nil {
		t.Fatalf("open %s: %v", pageURL, err)
	}
	filled := func() bool {
		children, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelector('#root') ? document.querySelector('#root').childNodes.length : 0`))
		return children > 0
	}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if rendered = filled(); n.idle(2*time.Second) && (rendered || !shouldRender) {
			break
		}
	}
	return n, rendered
}

// sriRE finds the page's tags that carry an integrity attribute.
var sriRE = regexp.MustCompile(`<(?:script|link)\b[^>]*\bintegrity="[^"]+"[^>]*>`)
var refAttrRE = regexp.MustCompile(`\b(?:src|href)="\./([^"]+)"`)

// integrityFiles are the site files the baked page loads with integrity.
func integrityFiles(t *testing.T, site string) []string {
	t.Helper()
	page, err := os.ReadFile(filepath.Join(site, build.EntryFile))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tag := range sriRE.FindAll(page, -1) {
		if m := refAttrRE.FindSubmatch(tag); m != nil {
			out = append(out, string(m[1]))
		}
	}
	if len(out) == 0 {
		t.Fatal("the baked page loads nothing with integrity")
	}
	return out
}

// sriBlocked are the console lines in which Chromium refuses a resource for
// its integrity.
func sriBlocked(n *netLog) []string {
	var out []string
	for _, c := range n.console {
		if strings.Contains(c, "integrity") {
			out = append(out, c)
		}
	}
	return out
}

// firstLoad is a target's cold first load, measured.
type firstLoad struct {
	target         string
	bytes, limit   float64 // on the wire; the sum of brotli-11 sizes (or raw, when smaller)
	raw            float64 // the same files uncompressed
	files, brFiles int
	urls           []string // "path encoding bytes", for the bench's details
}

// measure sums a load against the manifest: what crossed the wire, and
// the physical limit, each loaded file at its brotli 11 size (a bake at
// best has exactly that as its .br; files without one are incompressible).
func measure(t *testing.T, target string, n *netLog, m *build.Manifest, basePath string) firstLoad {
	t.Helper()
	fl := firstLoad{target: target}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, tr := range n.byID {
		u, _ := url.Parse(tr.url)
		rel := strings.TrimPrefix(u.Path, basePath+"/")
		f := m.File(rel)
		if f == nil && tr.status == 200 {
			f = m.File(build.EntryFile) // the deep link itself
		}
		if f == nil {
			t.Errorf("%s: %s (%d) is not a file of the bake", target, tr.url, tr.status)
			continue
		}
		fl.files++
		fl.urls = append(fl.urls, fmt.Sprintf("%s %s %.0f", rel, tr.encoding, tr.bytes))
		fl.bytes += tr.bytes
		fl.raw += float64(f.Size)
		fl.limit += float64(f.Size)
		for _, v := range f.Variants {
			if v.Encoding == "br" {
				fl.limit += float64(v.Size - f.Size)
			}
		}
		if tr.encoding == "br" {
			fl.brFiles++
		}
	}
	return fl
}

func (fl firstLoad) String() string {
	return fmt.Sprintf("first load via %-22s %3d files: %10.0f bytes on the wire, limit %10.0f (%+.1f%%), uncompressed %10.0f (%.2fx the limit)",
		fl.target, fl.files, fl.bytes, fl.limit, 100*(fl.bytes/fl.limit-1), fl.raw, fl.raw/fl.limit)
}

// TestStudioPrecompressedInBrowser loads the real Studio, baked with
// precompressed variants at best, cold in Chromium through serve and
// through the generated nginx (with Debian's brotli module): every file
// loaded with integrity arrives as brotli and passes the browser's check,
// in the page and in a fetch with the same integrity; nothing fails; and
// the bytes on the wire stay within 5% of the physical limit.
func TestStudioPrecompressedInBrowser(t *testing.T) {
	chromiumPath(t)
	src := studioSource(t)
	api := checktest.New(checktest.Options{})
	t.Cleanup(api.Close)
	apiURL, _ := url.Parse(api.URL)
	values := map[string]string{"MASTRA_STUDIO_BASE_PATH": "/agents", "MASTRA_SERVER_PROTOCOL": "http",
		"MASTRA_SERVER_HOST": apiURL.Hostname(), "MASTRA_SERVER_PORT": apiURL.Port(), "MASTRA_TELEMETRY_DISABLED": "true"}
	dir := bake(t, src, values)
	m, err := build.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	site := filepath.Join(dir, build.SiteDir)
	sri := integrityFiles(t, site)
	targets := []struct{ name, url string }{{"studiobake serve", serveInProcess(t, dir)}, {"nginx", nginxSite(t, dir, m)}}
	var loads []firstLoad
	for _, tg := range targets {
		u, _ := url.Parse(tg.url)
		api.AllowOrigin(u.Scheme + "://" + u.Host)
		n, rendered := loadCold(t, tg.url+"agents/weather-agent/chat", true)
		if !rendered || len(n.failures) > 0 || len(sriBlocked(n)) > 0 {
			t.Errorf("%s: rendered %v, failed %q, integrity errors %q", tg.name, rendered, n.failures, sriBlocked(n))
		}
		for _, f := range sri {
			if tr := n.find(tg.url + f); tr.status != 200 || tr.encoding != "br" {
				t.Errorf("%s: %s, loaded with integrity, arrived as %+v; want 200 in brotli", tg.name, f, tr)
			}
		}
		if bad := fetchWithIntegrity(t, tg.url+"agents/"); len(bad) > 0 {
			t.Errorf("%s: fetch() with the page's integrity failed: %q", tg.name, bad)
		}
		fl := measure(t, tg.name, n, m, m.BasePath)
		t.Log(fl)
		if fl.bytes > 1.05*fl.limit {
			t.Errorf("%s: %.0f bytes on the wire, more than 5%% over the limit %.0f", tg.name, fl.bytes, fl.limit)
		}
		loads = append(loads, fl)
	}
	if os.Getenv("STUDIOBAKE_BENCH_COMPRESS") != "" {
		benchBaselines(t, src, values, loads)
	}
}

// fetchWithIntegrity fetches every resource the page loaded with integrity
// again, with the same integrity and the encodings Chromium accepts; it
// returns the ones the browser refused.
func fetchWithIntegrity(t *testing.T, pageURL string) []string {
	t.Helper()
	ctx := newBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL)); err != nil {
		t.Fatalf("open %s: %v", pageURL, err)
	}
	bad, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Promise.all(
		Array.from(document.querySelectorAll('[integrity]')).map(el => {
			const u = el.src || el.href;
			return fetch(u, {integrity: el.integrity, cache: 'no-store', mode: 'cors'})
				.then(r => r.ok ? null : u + ': HTTP ' + r.status, e => u + ': ' + e.message);
		})).then(rs => rs.filter(Boolean))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("fetch with integrity: %v", err)
	}
	return bad
}

// TestBrowserRefusesTamperedVariant proves the integrity checks above can
// fail: a .br that decodes to other bytes than the file must be refused.
func TestBrowserRefusesTamperedVariant(t *testing.T) {
	chromiumPath(t)
	entry := buildtest.Entry
	dir, m := buildtest.EntryBake(t)
	site := filepath.Join(dir, build.SiteDir)
	f := m.File(entry)
	if f == nil || len(f.Variants) == 0 || !slices.Contains(integrityFiles(t, site), entry) {
		t.Fatalf("%s: %+v, want variants and an integrity attribute", entry, f)
	}
	base := serveInProcess(t, dir)
	n, _ := loadCold(t, base, false)
	if len(n.failures)+len(sriBlocked(n)) > 0 || n.find(base+entry).encoding != "br" {
		t.Fatalf("the untampered page: failed %q %q, %s as %+v, want brotli", n.failures, sriBlocked(n), entry, n.find(base+entry))
	}
	var other strings.Builder
	w := brotli.NewWriter(&other)
	fmt.Fprint(w, "console.log('not the file the page pinned');")
	w.Close()
	if err := os.WriteFile(filepath.Join(site, f.Path+".br"), []byte(other.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	n, _ = loadCold(t, base, false)
	if len(sriBlocked(n)) == 0 {
		t.Errorf("Chromium loaded a tampered %s.br without an integrity error; console %q", f.Path, n.console)
	}
	if bad := fetchWithIntegrity(t, base); len(bad) == 0 {
		t.Errorf("fetch() accepted the tampered %s.br", f.Path)
	}
}

// serveInProcess serves a bake with serve's handler, as studiobake serve
// does, and returns the page URL (with the base path and a trailing slash).
func serveInProcess(t *testing.T, dir string) string {
	t.Helper()
	h, err := serve.NewHandler(dir, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + h.BasePath() + "/"
}

// nginxSite runs the bake's generated nginx configuration, with the brotli
// module loaded and its file installed, over a root holding site/ at the
// base path, and returns the page URL.
func nginxSite(t *testing.T, dir string, m *build.Manifest) string {
	t.Helper()
	exe := nginxtest.Exe(t)
	if _, err := os.Stat(nginxtest.BrotliModule); err != nil {
		need(t, "no brotli module for nginx: apt-get install libnginx-mod-http-brotli-static")
	}
	edge, err := templates.EdgeFiles(dir, m, templates.EdgeOptions{Hosts: []templates.Host{templates.Nginx}})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for name, b := range edge {
		files[strings.TrimPrefix(name, "edge/"+string(templates.Nginx)+"/")] = b
	}
	root := t.TempDir()
	if err := os.Symlink(filepath.Join(dir, build.SiteDir), filepath.Join(root, strings.TrimPrefix(m.BasePath, "/"))); err != nil {
		t.Fatal(err)
	}
	base := nginxtest.Start(t, exe, nginxtest.Options{Files: files, Conf: templates.NginxFile, Root: root,
		Modules: []string{nginxtest.BrotliModule}})
	return base + m.BasePath + "/"
}

// benchBaselines (bench/compress.sh) loads the same Studio baked without
// variants, through serve (what serve and `mastra studio` sent before:
// every file raw) and through nginx, and prints the comparison.
func benchBaselines(t *testing.T, src *build.Source, values map[string]string, loads []firstLoad) {
	t.Helper()
	cfg := values
	dir := filepath.Join(t.TempDir(), "dist")
	_, err := build.Run(context.Background(), build.Options{Source: src, Out: dir, Values: cfg, BasePath: "/agents",
		Precompress: build.PrecompressOff, Version: "bench"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := build.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	limit := loads[0].limit
	for _, tg := range []struct{ name, url string }{{"serve, no variants", serveInProcess(t, dir)}, {"nginx, no variants", nginxSite(t, dir, m)}} {
		n, _ := loadCold(t, tg.url+"agents/weather-agent/chat", true)
		fl := measure(t, tg.name, n, m, m.BasePath)
		fl.limit = limit
		loads = append(loads, fl)
	}
	sort.SliceStable(loads, func(i, j int) bool { return loads[i].bytes < loads[j].bytes })
	for _, fl := range loads {
		sort.Strings(fl.urls)
		fmt.Println("BENCH", fl)
		fmt.Println("BENCH   ", strings.Join(fl.urls, "\nBENCH    "))
	}
}
