package serve

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/studiobake/studiobake/build"
	"github.com/studiobake/studiobake/templates"
	"github.com/studiobake/studiobake/templates/proxytest"
)

// apiBake writes a bake whose page calls its own origin for the API.
func apiBake(t *testing.T, basePath string, mode build.APIMode, upstream string) string {
	t.Helper()
	dir := writeBake(t, basePath, []string{"agents"}, []string{"index.html", "assets/main-AbCdEf12.js"})
	p := filepath.Join(dir, build.ManifestFile)
	var m build.Manifest
	b, err := os.ReadFile(p)
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil {
		t.Fatal(err)
	}
	m.APIOrigin = ""
	m.API = build.API{Mode: mode, Prefix: "/api", Upstream: upstream, Probe: "(page origin)/"}
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// apiServer serves dir with --api pointing at up.
func apiServer(t *testing.T, dir string, up *proxytest.Upstream) *httptest.Server {
	t.Helper()
	h, err := NewHandler(dir, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	target, err := ParseAPI(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.ForwardAPI(target); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// TestServeAPIForwards: with --api, the preview forwards the API prefix as
// the CDN does: unchanged paths (dotted agent ids, the hard-coded
// /api/auth/capabilities at the root), the server's Host, X-Forwarded-*,
// agent event streams passed on as they come; the root probe answers 2xx
// and Studio's files are still Studio's.
func TestServeAPIForwards(t *testing.T) {
	up := proxytest.New(t)
	for _, base := range []string{"/agents", ""} {
		t.Run("base "+base, func(t *testing.T) {
			srv := apiServer(t, apiBake(t, base, build.APIOneOrigin, "https://mastra.internal.acme.com"), up)
			fwd := proxytest.Forwarded{Host: strings.TrimPrefix(srv.URL, "http://"), Proto: "http", For: "127.0.0.1"}
			up.CheckEcho(t, srv.URL, "GET", "/api/auth/capabilities", "", fwd)
			up.CheckEcho(t, srv.URL, "GET", "/api/agents/support.bot-v1.2?x=1", "", fwd)
			up.CheckEcho(t, srv.URL, "POST", "/api/auth/sso/callback", `{"a":1}`, fwd)
			up.CheckStream(t, srv.URL)
			for _, path := range []string{"/", base + "/agents/support.bot-v1.2", base + "/assets/main-AbCdEf12.js"} {
				resp, err := http.Get(srv.URL + path)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 != 2 || strings.Contains(string(body), `"uri"`) {
					t.Errorf("GET %s: %d %.60q, want 2xx from Studio's side", path, resp.StatusCode, body)
				}
			}
		})
	}
}

// TestServeAPIBehindTheIPRule: the gate runs first, so its IP rule keeps
// the API closed to viewers outside the allow-list.
func TestServeAPIBehindTheIPRule(t *testing.T) {
	up := proxytest.New(t)
	dir := apiBake(t, "/agents", build.APIOneOrigin, "https://mastra.internal.acme.com")
	m, err := build.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	o := templates.EdgeOptions{Hosts: []templates.Host{templates.CloudFront},
		Auth: templates.CloudFrontOptions{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}
	if err := templates.WriteEdge(dir, m, o); err != nil {
		t.Fatal(err)
	}
	srv := apiServer(t, dir, up)
	resp, err := http.Get(srv.URL + "/api/agents")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || strings.Contains(string(body), `"uri"`) {
		t.Errorf("GET /api/agents from 127.0.0.1 outside 10.0.0.0/8: %d %q, want the gate's 403", resp.StatusCode, body)
	}
}

// TestServeAPIWithoutForward: a bake that calls its own origin, served
// without --api, says so on start, and its API calls get a 404 that says
// how to fix it instead of index.html.
func TestServeAPIWithoutForward(t *testing.T) {
	for _, mode := range []build.APIMode{build.APIOneOrigin, build.APISameOrigin} {
		t.Run(string(mode), func(t *testing.T) {
			dir := apiBake(t, "", mode, map[build.APIMode]string{build.APIOneOrigin: "https://mastra.internal.acme.com"}[mode])
			var out, logs lockedBuffer
			s, err := Start(Options{Dir: dir, Addr: "127.0.0.1:0", Out: &out, Log: &logs})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Shutdown(context.Background())
			origin := strings.TrimSuffix(s.URL, "/")
			warning := "calls the Mastra API on its own origin (" + origin + "/api/..."
			if !strings.Contains(logs.String(), warning) || !strings.Contains(logs.String(), "serve --api URL") {
				t.Errorf("start printed %q to the log, want a warning with %q and the fix", logs.String(), warning)
			}
			resp, err := http.Get(s.URL + "api/auth/capabilities")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "--api URL") {
				t.Errorf("GET /api/auth/capabilities: %d %q, want a 404 naming --api", resp.StatusCode, body)
			}
		})
	}
}

func TestServeAPIRefused(t *testing.T) {
	for _, c := range []struct{ desc, api, want string }{
		{"no scheme", "localhost:4111", `invalid --api "localhost:4111": want an absolute http:// or https:// URL`},
		{"ftp", "ftp://mastra", "want an absolute http:// or https:// URL"},
		{"no host", "http://", "no host"},
		{"user info", "http://ann:pw@localhost:4111", "user info"},
		{"query", "http://localhost:4111?x=1", "a query"},
		{"fragment", "http://localhost:4111#x", "a fragment"},
		{"path", "http://localhost:4111/api", "a path is not allowed: requests keep their own path (/api/...), so give the server's origin, http://localhost:4111"},
	} {
		t.Run(c.desc, func(t *testing.T) {
			if _, err := ParseAPI(c.api); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("ParseAPI(%q) = %v, want an error with %q", c.api, err, c.want)
			}
		})
	}
	for _, ok := range []string{"http://localhost:4111", "https://mastra.internal.acme.com/", " http://[::1]:4111 "} {
		if u, err := ParseAPI(ok); err != nil || u.Path != "" {
			t.Errorf("ParseAPI(%q) = %v, %v", ok, u, err)
		}
	}
	// A direct-mode bake's page never calls the preview's origin.
	direct := writeBake(t, "", nil, []string{"index.html"})
	_, err := Start(Options{Dir: direct, Addr: "127.0.0.1:0", API: "http://localhost:4111"})
	if err == nil || !strings.Contains(err.Error(), "--api http://localhost:4111: this bake's page calls the Mastra API at https://api.example.com:443 itself") {
		t.Errorf("--api on a direct bake: %v", err)
	}
}

// TestServeAPIServerDown: a stopped Mastra server is a 502 that names it.
func TestServeAPIServerDown(t *testing.T) {
	up := proxytest.New(t)
	srv := apiServer(t, apiBake(t, "", build.APIOneOrigin, "https://mastra.internal.acme.com"), up)
	up.Close()
	resp, err := http.Get(srv.URL + "/api/agents")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := "the Mastra server at " + (&url.URL{Scheme: "http", Host: up.Host()}).String() + " (--api) did not answer"
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), want) {
		t.Errorf("GET /api/agents: %d %q, want 502 with %q", resp.StatusCode, body, want)
	}
}

// TestServeStopsWithAStreamOpen: an open Studio tab holds an event stream
// through the proxy; Ctrl-C (the context) still ends serve at once and
// cleanly.
func TestServeStopsWithAStreamOpen(t *testing.T) {
	up := proxytest.New(t)
	dir := apiBake(t, "/agents", build.APIOneOrigin, up.URL)
	ctx, cancel := context.WithCancel(context.Background())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Options{Dir: dir, Addr: addr, API: up.URL, Out: io.Discard, Log: io.Discard}) }()
	var resp *http.Response
	for i := 0; i < 100; i++ {
		if resp, err = http.Get("http://" + addr + proxytest.StreamPath); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, len("data: one"))
	if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "data: one" {
		t.Fatalf("first event %q, %v", first, err)
	}
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve ended with %v, want a clean stop", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("serve took %s to stop with a stream open", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop with a stream open")
	}
}

// TestServeStopsWithARequestHanging: a request that never completes (here
// one whose headers never end) does not turn Ctrl-C into a failure: after
// the grace period serve closes it and stops cleanly.
func TestServeStopsWithARequestHanging(t *testing.T) {
	dir := apiBake(t, "/agents", build.APIDirect, "")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Dir: dir, Addr: addr, Out: io.Discard, Log: io.Discard, Grace: 200 * time.Millisecond})
	}()
	var conn net.Conn
	for i := 0; i < 100; i++ {
		if conn, err = net.Dial("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET /agents/ HTTP/1.1\r\nHost: studio\r\n")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the server has read it: the connection is active
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve ended with %v, want a clean stop", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not stop with a request hanging")
	}
}
