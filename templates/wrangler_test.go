package templates

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/studiobake/studiobake/build"
	"github.com/studiobake/studiobake/templates/proxytest"
)

// wranglerCompatDate pins the Workers runtime behaviour the test runs.
const wranglerCompatDate = "2025-01-01"

// wranglerExe finds wrangler: $STUDIOBAKE_WRANGLER (what .ci/run installs),
// else wrangler on PATH.
func wranglerExe(t *testing.T) string {
	t.Helper()
	exe := os.Getenv("STUDIOBAKE_WRANGLER")
	if exe == "" {
		exe, _ = exec.LookPath("wrangler")
	}
	if exe == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("wrangler not found (STUDIOBAKE_WRANGLER unset, none on PATH): CI runs the Cloudflare Pages output in wrangler pages dev")
		}
		t.Skip("wrangler not installed: npm install wrangler, then set STUDIOBAKE_WRANGLER to node_modules/.bin/wrangler")
	}
	return exe
}

// TestCloudflarePagesWrangler runs the Cloudflare Pages output of a
// one-origin bake in wrangler pages dev (Cloudflare's local Pages runtime,
// workerd) against a fake Mastra server: _worker.js forwards the API prefix
// with the forwarding headers and streams agent answers, answers the root
// probe and refresh-events, and Studio's files keep _headers and _redirects.
func TestCloudflarePagesWrangler(t *testing.T) {
	exe := wranglerExe(t)
	up := proxytest.New(t)
	for _, base := range []string{"/agents", ""} {
		t.Run("base "+or(base, "/"), func(t *testing.T) {
			dir, m := testBake(t, base, false)
			m.API, m.APIOrigin = build.API{Mode: build.APIOneOrigin, Prefix: "/api", Upstream: up.URL, Probe: "(page origin)/"}, ""
			origin := startWrangler(t, exe, dir, m)
			fwd := proxytest.Forwarded{Host: strings.TrimPrefix(origin, "http://"), Proto: "http"}
			up.CheckEcho(t, origin, "GET", "/api/agents/support.bot-v1.2?x=1", "", fwd)
			up.CheckEcho(t, origin, "POST", "/api/auth/sso/callback", `{"a":1}`, fwd)
			up.CheckEcho(t, origin, "GET", "/api/auth/capabilities", "", fwd)
			up.CheckStream(t, origin)
			checkPagesStudio(t, origin, base)
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

// startWrangler lays the bake out as Cloudflare Pages publishes it (the
// edge files at the root, site/ under the base path) and runs wrangler
// pages dev on a free loopback port, with telemetry, update checks and the
// Request.cf download off: it needs no network beyond loopback.
func startWrangler(t *testing.T, exe, dir string, m *build.Manifest) string {
	t.Helper()
	pub := pagesPublishDir(t, dir, m)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	work := t.TempDir()
	cmd := exec.Command(exe, "pages", "dev", pub, "--ip", "127.0.0.1", "--port", fmt.Sprint(port),
		"--compatibility-date", wranglerCompatDate, "--log-level", "warn")
	cmd.Dir = work
	// wrangler's own node (npm's node package beside it) comes first on PATH.
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(exe)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"HOME="+work, "XDG_CONFIG_HOME="+filepath.Join(work, "config"), "WRANGLER_LOG_PATH="+filepath.Join(work, "logs"),
		"WRANGLER_SEND_METRICS=false", "WRANGLER_SEND_ERROR_REPORTS=false", "WRANGLER_HIDE_BANNER=true",
		"CLOUDFLARE_CF_FETCH_ENABLED=false", "CI=")
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group: wrangler starts workerd, which must end too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		if t.Failed() {
			t.Logf("wrangler output:\n%s", out)
		}
	})
	origin := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			t.Fatalf("wrangler pages dev exited:\n%s", out)
		default:
		}
		if resp, err := http.Get(origin + "/api/"); err == nil {
			resp.Body.Close()
			return origin
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("wrangler pages dev did not answer within 90 s:\n%s", out)
	return ""
}

// pagesPublishDir is the directory the README tells users to publish.
func pagesPublishDir(t *testing.T, dir string, m *build.Manifest) string {
	t.Helper()
	files, err := EdgeFiles(dir, m, EdgeOptions{Hosts: []Host{Cloudflare}})
	if err != nil {
		t.Fatal(err)
	}
	pub := t.TempDir()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(pub, strings.TrimPrefix(name, string(Cloudflare)+"/")), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range m.Files {
		b, err := os.ReadFile(filepath.Join(dir, build.SiteDir, filepath.FromSlash(f.Path)))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(pub, filepath.FromSlash(strings.TrimPrefix(m.BasePath, "/")), filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return pub
}

// TestCloudflarePagesRouting replays the gate's routing fixtures in wrangler
// pages dev, each bake in one-origin mode (so with the worker), adjusted by
// cloudflareWant for what Pages does by design.
func TestCloudflarePagesRouting(t *testing.T) {
	exe := wranglerExe(t)
	up := proxytest.New(t)
	fx := loadRouting(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for bake := range fx.Bakes {
		t.Run(bake, func(t *testing.T) {
			m := fx.manifest(bake)
			m.API = build.API{Mode: build.APIOneOrigin, Prefix: "/api", Upstream: up.URL, Probe: "(page origin)/"}
			origin := startWrangler(t, exe, writeFixtureSite(t, m), m)
			for _, c := range fx.Cases {
				if c.Bake != bake {
					continue
				}
				uri, status, loc := cloudflareWant(m, c.URI, c.Want.URI, c.Want.Status, c.Want.Location)
				checkServedCase(t, client, origin, m, c.Name, c.URI, c.Query, uri, status, loc)
			}
		})
	}
}

// cloudflareWant turns a gate fixture's outcome into Cloudflare Pages' (the
// README of edge/cloudflare says so): only Studio's routes are rewritten to
// index.html, other unknown paths are 404; index.html by name redirects to
// its directory; a bad escape finds no file (404, not 400); in one-origin
// mode the worker answers the root probe.
func cloudflareWant(m *build.Manifest, uri, wantURI string, status int, loc string) (string, int, string) {
	base := m.BasePath
	rest := strings.TrimPrefix(uri, base)
	isRoute := false
	for _, r := range gateRoutes(m) {
		isRoute = isRoute || rest == "/"+r || strings.HasPrefix(rest, "/"+r+"/")
	}
	switch {
	case status == http.StatusBadRequest:
		return "", http.StatusNotFound, ""
	case uri == base+"/index.html":
		return "", http.StatusPermanentRedirect, base + "/"
	case base != "" && uri == "/":
		return "", http.StatusOK, ""
	case wantURI == base+"/index.html" && rest != "/" && !isRoute:
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
