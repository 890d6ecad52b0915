package e2e

import (
	"context"
	"fmt"
	"github.com/studiobake/studiobake/templates/hosttest"
	"github.com/studiobake/studiobake/templates/nginxtest"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/studiobake/studiobake/check"
)

// The browser scenarios of issue 8 against a real Mastra server (the test
// app in testdata/mastra-app, see mastra_test.go): each bakes the real
// Studio, serves it the way a user would, and asserts what the user sees.

// scenario holds what every browser scenario needs, checked before anything
// starts: the built test app, Chromium (one per test), the real Studio tree
// and the studiobake command.
type scenario struct {
	ctx         context.Context
	studio, bin string
}

func newScenario(t *testing.T, browserFlags ...chromedp.ExecAllocatorOption) scenario {
	t.Helper()
	mastraApp(t)
	ctx := newBrowser(t, browserFlags...)
	return scenario{ctx: ctx, studio: studioSource(t).Dir, bin: studiobakeBin(t)}
}

// TestRealMastraCrossOrigin: Studio on one origin, the API on another of the
// same site (127.0.0.1, two ports), no auth, the server's CORS set to
// Studio's origin with credentials. The agents are listed and the workflow
// runs and shows its result.
func TestRealMastraCrossOrigin(t *testing.T) {
	s := newScenario(t)
	port := freePort(t)
	dir := buildCLI(t, s.bin, s.studio, "--server-url", fmt.Sprintf("http://127.0.0.1:%d/api", port))
	studioURL := serveCLI(t, s.bin, dir)
	startMastra(t, mastraOptions{Port: port, CORSOrigin: originOf(t, studioURL)})

	tab := openTab(t, s.ctx, "mastra-cross-origin")
	tab.open(studioURL + "agents")
	tab.expectAgents("agents")
	tab.runWorkflow(studioURL)
}

// TestRealMastraOneOriginServe: a one-origin bake under /agents previewed by
// `studiobake serve --api`, which forwards the API to the Mastra server with
// SimpleAuth on.
func TestRealMastraOneOriginServe(t *testing.T) {
	s := newScenario(t)
	m := startMastra(t, mastraOptions{Auth: true})
	dir := buildCLI(t, s.bin, s.studio, "--api-origin", m.Origin, "--base-path", "/agents")
	c, studioURL := startServe(t, exec.Command(s.bin, "serve", "--quiet", "--dir", dir, "--port", "0", "--api", m.Origin))
	t.Cleanup(func() { c.interrupt(t) })
	signInOneOrigin(t, openTab(t, s.ctx, "mastra-one-origin-serve"), studioURL)
}

// TestRealMastraOneOriginNginx: the same bake through the nginx
// configuration `build --edge nginx` writes, in a real nginx.
func TestRealMastraOneOriginNginx(t *testing.T) {
	exe := nginxPath(t)
	s := newScenario(t)
	m := startMastra(t, mastraOptions{Auth: true})
	dir := buildCLI(t, s.bin, s.studio, "--api-origin", m.Origin, "--base-path", "/agents", "--edge", "nginx")
	signInOneOrigin(t, openTab(t, s.ctx, "mastra-one-origin-nginx"), runNginx(t, exe, dir)+"/agents/")
}

// TestRealMastraOneOriginCloudflare: the same through the Cloudflare Pages
// folder (its _worker.js forwards the API) in wrangler pages dev.
func TestRealMastraOneOriginCloudflare(t *testing.T) {
	exe := hosttest.Wrangler(t)
	s := newScenario(t)
	m := startMastra(t, mastraOptions{Auth: true})
	dir := buildCLI(t, s.bin, s.studio, "--api-origin", m.Origin, "--base-path", "/agents", "--edge", "cloudflare")
	origin := hosttest.StartWrangler(t, exe, filepath.Join(dir, "cloudflare"))
	signInOneOrigin(t, openTab(t, s.ctx, "mastra-one-origin-cloudflare"), origin+"/agents/")
}

// signInOneOrigin is what a user does with Studio Auth on one origin: the
// sign-in gate, the token, the agents; a reload keeps the session (a
// first-party cookie); a deep link to the agent with dots in its id opens
// it, its API call reaching the server.
func signInOneOrigin(t *testing.T, tab *studioTab, studioURL string) {
	t.Helper()
	tab.open(studioURL)
	tab.signIn()
	tab.expectAgents("signed-in")
	if !hasSessionCookie(t, tab.ctx, studioURL) {
		t.Errorf("no mastra-token cookie for %s after signing in", studioURL)
	}
	tab.reload()
	if tab.waitAny([]string{weatherAgent, supportAgent}, []string{signInGate}) != 0 {
		tab.fail("after a reload the agents are not listed: the session was lost")
	}
	tab.shot("reloaded")
	tab.open(studioURL + "agents/" + dottedAgent + "/chat")
	tab.waitText(supportAgent, supportBrief)
	tab.shot("dotted-agent")
	apiCall := strings.TrimSuffix(originOf(t, studioURL), "/") + "/api/agents/" + dottedAgent
	if got := tab.statusOf(apiCall); got != http.StatusOK {
		t.Errorf("GET %s answered %d in the browser, want 200 from the Mastra server", apiCall, got)
	}
}

// TestRealMastraCrossSite: Studio on studio.acme-cdn.test, the API on
// api.acme.test (both 127.0.0.1 inside Chromium), SimpleAuth on, CORS right.
// Sign-in answers 200 but its SameSite=Lax cookie is a third-party cookie:
// Chromium refuses it and Studio falls back to its sign-in gate. check must
// fail this setup and name the one-origin fix.
func TestRealMastraCrossSite(t *testing.T) {
	const studioHost, apiHost = "studio.acme-cdn.test", "api.acme.test"
	s := newScenario(t, chromedp.Flag("host-resolver-rules", "MAP "+studioHost+" 127.0.0.1, MAP "+apiHost+" 127.0.0.1"))
	port := freePort(t)
	dir := buildCLI(t, s.bin, s.studio, "--server-url", fmt.Sprintf("http://%s:%d/api", apiHost, port))
	local, _ := url.Parse(serveCLI(t, s.bin, dir))
	studioURL := "http://" + studioHost + ":" + local.Port() + "/"
	startMastra(t, mastraOptions{Port: port, Auth: true, CORSOrigin: strings.TrimSuffix(studioURL, "/")})

	tab := openTab(t, s.ctx, "mastra-cross-site")
	tab.open(studioURL + "agents")
	tab.signIn()
	if tab.waitAny([]string{signInGate}, []string{weatherAgent, supportAgent}) != 0 {
		tab.fail("after signing in across sites, want Studio's sign-in gate again")
	}
	tab.shot("back-at-sign-in")
	signIn := fmt.Sprintf("http://%s:%d/api/auth/credentials/sign-in", apiHost, port)
	if got := tab.statusOf(signIn); got != http.StatusOK {
		t.Errorf("sign-in answered %d, want 200: the token was right, the cookie is what fails", got)
	}
	if b := tab.blockedCookies(signIn); !strings.Contains(b, "mastra-token=") || !strings.Contains(b, "SameSite") {
		t.Errorf("Chromium did not report the session cookie as blocked for SameSite; blocked: %q", b)
	}

	rep := checkMapped(t, studioURL, map[string]bool{studioHost: true, apiHost: true})
	if rep.OK() {
		t.Fatalf("check passed a cross-site Studio Auth setup that cannot sign in")
	}
	if !fixNames(rep, "--api-origin") {
		t.Errorf("no failed check item names the one-origin fix (--api-origin)")
	}
}

// checkMapped runs check (the code behind `studiobake check`) with the
// given host names resolved to 127.0.0.1, as Chromium saw them.
func checkMapped(t *testing.T, siteURL string, hosts map[string]bool) check.Report {
	t.Helper()
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, port, err := net.SplitHostPort(addr); err == nil && hosts[host] {
			addr = net.JoinHostPort("127.0.0.1", port)
		}
		return dialer.DialContext(ctx, network, addr)
	}
	return runCheckWith(t, check.Options{URL: siteURL, Client: &http.Client{Transport: tr}})
}

// fixNames reports whether a failed item's fix mentions s.
func fixNames(rep check.Report, s string) bool {
	for _, it := range rep.Items {
		if it.Status == check.Fail && strings.Contains(it.Fix, s) {
			return true
		}
	}
	return false
}

func originOf(t *testing.T, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Scheme + "://" + p.Host
}

// hasSessionCookie reports whether Chromium holds Mastra's session cookie
// for u.
func hasSessionCookie(t *testing.T, ctx context.Context, u string) bool {
	t.Helper()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{u}})
	if err != nil {
		t.Fatalf("read cookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == "mastra-token" {
			return true
		}
	}
	return false
}

// nginxPath finds nginx (Debian puts it in /usr/sbin, often not on PATH).
func nginxPath(t *testing.T) string { return nginxtest.Exe(t) }

// runNginx serves the bake in dir with the files `build --edge nginx`
// wrote, the way their header comment says: included in nginx's http block,
// site/ under the base path /agents of the root. It returns the origin.
func runNginx(t *testing.T, exe, dir string) string {
	t.Helper()
	edge := filepath.Join(dir, "edge", "nginx")
	entries, err := os.ReadDir(edge)
	if err != nil {
		t.Fatalf("the nginx configuration: %v", err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		if b, err := os.ReadFile(filepath.Join(edge, e.Name())); err == nil && !e.IsDir() {
			files[e.Name()] = b
		}
	}
	root := t.TempDir()
	if err := os.Symlink(filepath.Join(dir, "site"), filepath.Join(root, "agents")); err != nil {
		t.Fatal(err)
	}
	o := nginxtest.Options{Files: files, Conf: "studio.conf", Root: root}
	if _, err := os.Stat(nginxtest.BrotliModule); err == nil {
		o.Modules = []string{nginxtest.BrotliModule} // as a Debian install with the module does
	} else {
		delete(files, "studio-brotli.conf") // as the README says for nginx without it
	}
	return nginxtest.Start(t, exe, o)
}
