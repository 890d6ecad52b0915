package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/studiobake/studiobake/check/checktest"
)

// watchWindow is how long the page is watched for refresh-events requests:
// the dev script's first reconnect comes after 1-1.5 s, the next ones after
// 2-3 s and 4-6 s, so 10 s catches a page that still tries.
const watchWindow = 10 * time.Second

// cspProbe records securitypolicyviolation events before any page script
// runs, so violations by the inline script itself are caught too.
const cspProbe = `window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' (' + e.sourceFile + ':' + e.lineNumber + ')');
});`

// browserLog collects what the page did, from the DevTools event loop.
type browserLog struct {
	mu       sync.Mutex
	local    string // the served origin with a trailing slash: http://h:80 must not match http://h:8080
	urls     map[network.RequestID]string
	failures []string // local requests that failed or answered >= 400
	refresh  []string // requests to refresh-events
	csp      []string // CSP messages on the console or in the log
	console  []string // every console error, for the failure message
}

func (b *browserLog) on(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.urls[e.RequestID] = e.Request.URL
		if strings.Contains(e.Request.URL, "/refresh-events") {
			b.refresh = append(b.refresh, e.Request.URL)
		}
	case *network.EventResponseReceived:
		if strings.HasPrefix(e.Response.URL, b.local) && e.Response.Status >= 400 {
			b.failures = append(b.failures, e.Response.URL+": HTTP "+strconv.FormatInt(e.Response.Status, 10))
		}
	case *network.EventLoadingFailed:
		if u := b.urls[e.RequestID]; strings.HasPrefix(u, b.local) {
			b.failures = append(b.failures, u+": "+e.ErrorText)
		}
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError {
			var parts []string
			for _, a := range e.Args {
				parts = append(parts, strings.Trim(string(a.Value), `"`)+a.Description)
			}
			b.noteConsole(strings.Join(parts, " "))
		}
	case *log.EventEntryAdded:
		msg := string(e.Entry.Source) + ": " + e.Entry.Text
		if e.Entry.URL != "" {
			msg += " (" + e.Entry.URL + ")"
		}
		b.noteConsole(msg)
	}
}

func (b *browserLog) noteConsole(msg string) {
	b.console = append(b.console, msg)
	if strings.Contains(msg, "Content Security Policy") || strings.Contains(msg, "Content-Security-Policy") {
		b.csp = append(b.csp, msg)
	}
}

// newBrowser starts headless Chromium with the flags that work in CI
// containers, a fresh profile and any extra flags.
func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	exe := chromiumPath(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	}
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancelT := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancelT)
	return ctx
}

// openStudio loads deepLink, waits for #root to fill, and watches the page
// until window has passed since the navigation started.
func openStudio(t *testing.T, ctx context.Context, siteOrigin, deepLink string, window time.Duration) (*browserLog, string, []string) {
	t.Helper()
	bl := &browserLog{local: strings.TrimSuffix(siteOrigin, "/") + "/", urls: map[network.RequestID]string{}}
	if err := chromedp.Listen(ctx, bl.on); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspProbe}); err != nil {
		t.Fatalf("install the CSP probe: %v", err)
	}
	start := time.Now()
	if err := chromedp.Do(ctx, chromedp.Navigate(deepLink)); err != nil {
		t.Fatalf("navigate to %s: %v", deepLink, err)
	}
	// The shell renders once the 7 MB main chunk has run; poll for it.
	root, err := chromedp.Run(ctx, chromedp.Poll[int](`document.querySelector('#root') ? document.querySelector('#root').childNodes.length : 0`,
		chromedp.WithPollingTimeout(45*time.Second), chromedp.WithPollingInterval(200*time.Millisecond)))
	if err != nil || root == 0 {
		bl.mu.Lock()
		defer bl.mu.Unlock()
		t.Fatalf("#root stayed empty (%v); console: %q; failed: %q", err, bl.console, bl.failures)
	}
	if rest := window - time.Since(start); rest > 0 {
		time.Sleep(rest)
	}
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#root').innerText`))
	if err != nil {
		t.Fatalf("read #root: %v", err)
	}
	csp, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__csp || []`))
	if err != nil {
		t.Fatalf("read CSP violations: %v", err)
	}
	return bl, text, csp
}

// saveConsole keeps what the browser said, for a CI run that fails.
func saveConsole(t *testing.T, bl *browserLog, name string) {
	t.Helper()
	var b strings.Builder
	for _, line := range bl.console {
		b.WriteString("console: " + line + "\n")
	}
	for _, line := range bl.failures {
		b.WriteString("failed: " + line + "\n")
	}
	if err := os.WriteFile(filepath.Join(artifactsDir(t), name), []byte(b.String()), 0o644); err != nil {
		t.Errorf("console log: %v", err)
	}
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot: %v", err)
		return
	}
	p := filepath.Join(artifactsDir(t), name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Errorf("screenshot: %v", err)
		return
	}
	t.Logf("screenshot: %s", p)
}

// TestStudioInBrowser bakes the real Studio under /agents against a fake
// Mastra API, serves it with `studiobake serve` (the CloudFront gate's
// routing; stopped with Ctrl-C at the end), opens a
// deep link in headless Chromium, then runs check against the same setup,
// working and deliberately broken.
func TestStudioInBrowser(t *testing.T) {
	ctx := newBrowser(t)
	src := studioSource(t)
	api := checktest.New(checktest.Options{})
	t.Cleanup(api.Close)
	apiURL, _ := url.Parse(api.URL)
	dir := bake(t, src, map[string]string{
		"MASTRA_STUDIO_BASE_PATH":   "/agents",
		"MASTRA_SERVER_PROTOCOL":    "http",
		"MASTRA_SERVER_HOST":        apiURL.Hostname(),
		"MASTRA_SERVER_PORT":        apiURL.Port(),
		"MASTRA_TELEMETRY_DISABLED": "true",
	})
	studioURL := serveCLI(t, studiobakeBin(t), dir)
	site, _ := url.Parse(studioURL)
	origin := site.Scheme + "://" + site.Host
	api.AllowOrigin(origin)

	bl, text, csp := openStudio(t, ctx, origin, studioURL+"agents/weather-agent/chat", watchWindow)
	screenshot(t, ctx, "studio-agents-deep-link.png")
	bl.mu.Lock()
	defer bl.mu.Unlock()
	saveConsole(t, bl, "studio-agents-deep-link.console.txt")
	if strings.TrimSpace(text) == "" {
		t.Errorf("#root has elements but no text")
	}
	if len(bl.failures) > 0 {
		t.Errorf("local requests failed: %q", bl.failures)
	}
	if len(bl.refresh) > 0 {
		t.Errorf("%d requests to refresh-events within %v: %q", len(bl.refresh), watchWindow, bl.refresh)
	}
	if len(csp)+len(bl.csp) > 0 {
		t.Errorf("CSP violations: %q %q", csp, bl.csp)
	}
	if !strings.Contains(text, "Weather Agent") {
		t.Errorf("the page does not show the fake API's agent; #root text: %q", text)
	}
	assertAPIReached(t, api, origin)
	t.Logf("rendered %q", firstLine(text))
	checkServed(t, studioURL, dir, api)
}

func assertAPIReached(t *testing.T, api *checktest.API, origin string) {
	t.Helper()
	paths := map[string]bool{}
	for _, r := range api.Requests() {
		if r.Origin == origin {
			paths[r.Method+" "+r.Path] = true
		}
	}
	for _, want := range []string{"GET /", "GET /api/auth/capabilities", "GET /api/agents"} {
		if !paths[want] {
			t.Errorf("fake API got no %s with Origin %s; got %v", want, origin, paths)
		}
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// TestBrowserHarnessDetects proves the watchers above see what they must
// report: a page with a CSP violation, a missing local script and a dev
// reload stream must show all three.
func TestBrowserHarnessDetects(t *testing.T) {
	ctx := newBrowser(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Security-Policy", "script-src 'self'")
			fmt.Fprint(w, `<!doctype html><div id="root"></div><script>document.title = 'inline ran';</script>`+
				`<script src="/app.js"></script><script src="/missing.js"></script>`)
		case "/app.js":
			w.Header().Set("Content-Type", "text/javascript")
			fmt.Fprint(w, `document.getElementById('root').textContent = 'app'; new EventSource('/refresh-events');`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	bl, text, csp := openStudio(t, ctx, srv.URL, srv.URL+"/", 2*time.Second)
	bl.mu.Lock()
	defer bl.mu.Unlock()
	if text != "app" || len(csp) == 0 || len(bl.refresh) == 0 || !strings.Contains(strings.Join(bl.failures, " "), "/missing.js") {
		t.Errorf("text %q, CSP %q %q, refresh %q, failures %q: want each seen", text, csp, bl.csp, bl.refresh, bl.failures)
	}
}
