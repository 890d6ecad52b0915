package serve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/studiobake/studiobake/build"
	"github.com/studiobake/studiobake/templates"
	"github.com/studiobake/studiobake/templates/cfrun"
)

// indexPage is a minimal baked page: one inline script, one module.
const indexPage = `<!doctype html><html><head><base href="BASE/" />` +
	`<script>window.MASTRA_STUDIO_BASE_PATH = 'BASE';</script>` +
	`<script type="module" crossorigin src="./assets/main-AbCdEf12.js"></script></head>` +
	`<body><div id="root"></div></body></html>`

// writeBake makes a bake directory with the given files under site/ and a
// manifest describing them, as build would.
func writeBake(t *testing.T, basePath string, routes []string, files []string) string {
	t.Helper()
	dir := t.TempDir()
	m := build.Manifest{Schema: build.ManifestSchema, BasePath: basePath, Routes: routes, Entry: build.EntryFile,
		APIOrigin: "https://api.example.com:443", Config: map[string]string{}}
	for _, f := range files {
		body := []byte("file " + f + "\n")
		if f == build.EntryFile {
			body = []byte(strings.ReplaceAll(indexPage, "BASE", basePath))
		}
		p := filepath.Join(dir, build.SiteDir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
		m.Files = append(m.Files, manifestFile(f, body))
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, build.ManifestFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func manifestFile(p string, body []byte) build.File {
	s256 := sha256.Sum256(body)
	s384 := sha512.Sum384(body)
	ct := mime.TypeByExtension(path.Ext(p))
	if ct == "" {
		ct = "application/octet-stream"
	}
	class := build.Revalidate
	if strings.HasPrefix(p, "assets/") {
		class = build.Immutable
	}
	return build.File{Path: p, Size: int64(len(body)), SHA256: hex.EncodeToString(s256[:]), ContentType: ct,
		Cache: class, Integrity: "sha384-" + base64.StdEncoding.EncodeToString(s384[:])}
}

// routingFixtures are the edge gate's routing cases (templates/testdata),
// which serve must answer exactly like the gate does.
type routingFixtures struct {
	Bakes map[string]struct {
		BasePath string   `json:"basePath"`
		Routes   []string `json:"routes"`
		Files    []string `json:"files"`
	} `json:"bakes"`
	Cases []struct {
		Name   string `json:"name"`
		Bake   string `json:"bake"`
		Method string `json:"method"`
		URI    string `json:"uri"`
		Query  string `json:"query"`
		Want   struct {
			URI      string `json:"uri"`
			Status   int    `json:"status"`
			Location string `json:"location"`
		} `json:"want"`
	} `json:"cases"`
}

func loadFixtures(t *testing.T) routingFixtures {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "templates", "testdata", "routing.json"))
	if err != nil {
		t.Fatalf("routing fixtures: %v", err)
	}
	var f routingFixtures
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("routing fixtures: %v", err)
	}
	return f
}

// rawGet sends uri?query exactly as written: the fixtures include URIs Go's
// URL parser would refuse or normalise.
func rawGet(t *testing.T, srvURL, method, uri, query string) *http.Response {
	t.Helper()
	u, _ := url.Parse(srvURL)
	u.Opaque, u.RawQuery = uri, query
	if method == "" {
		method = http.MethodGet
	}
	req := &http.Request{Method: method, URL: u, Header: http.Header{}, Host: u.Host}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, uri, err)
	}
	return resp
}

func TestServeRoutesLikeTheGate(t *testing.T) {
	fx := loadFixtures(t)
	servers := map[string]string{}
	sites := map[string]string{}
	for name, b := range fx.Bakes {
		dir := writeBake(t, b.BasePath, b.Routes, b.Files)
		h, err := NewHandler(dir, io.Discard)
		if err != nil {
			t.Fatalf("bake %s: %v", name, err)
		}
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		servers[name], sites[name] = srv.URL, filepath.Join(dir, build.SiteDir)
	}
	for _, c := range fx.Cases {
		t.Run(c.Name, func(t *testing.T) {
			resp := rawGet(t, servers[c.Bake], c.Method, c.URI, c.Query)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if c.Want.URI == "" {
				if resp.StatusCode != c.Want.Status || resp.Header.Get("Location") != c.Want.Location {
					t.Fatalf("%s?%s: %d Location %q, want %d %q", c.URI, c.Query, resp.StatusCode, resp.Header.Get("Location"), c.Want.Status, c.Want.Location)
				}
				return
			}
			assertServes(t, resp, body, sites[c.Bake], fx.Bakes[c.Bake].BasePath, c.Want.URI)
		})
	}
}

// assertServes: the answer is the file at uri, or 404 when the bake has none.
func assertServes(t *testing.T, resp *http.Response, body []byte, site, basePath, uri string) {
	t.Helper()
	rel := strings.TrimPrefix(strings.TrimPrefix(uri, basePath), "/")
	want, err := os.ReadFile(filepath.Join(site, filepath.FromSlash(rel)))
	if err != nil {
		if resp.StatusCode != http.StatusNotFound || bytes.Contains(body, []byte("<html")) {
			t.Fatalf("%s is not in the bake: got %d %q, want a real 404", uri, resp.StatusCode, body)
		}
		if resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("404 without security headers")
		}
		return
	}
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, want) {
		t.Fatalf("want %s (200), got %d %q", uri, resp.StatusCode, body)
	}
}

func TestServeHeaders(t *testing.T) {
	dir := writeBake(t, "/agents", []string{"agents"}, []string{"index.html", "assets/main-AbCdEf12.js", "assets/style-AbCdEf12.css"})
	h, err := NewHandler(dir, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := build.ReadManifest(dir)
	sec, err := templates.SecurityHeaders(m, filepath.Join(dir, build.SiteDir))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cases := []struct {
		desc, path       string
		status           int
		cache, mediaType string
	}{
		{"entry page revalidates", "/agents/", 200, "public, max-age=0, must-revalidate", "text/html"},
		{"deep link is the entry page", "/agents/agents/x/chat", 200, "public, max-age=0, must-revalidate", "text/html"},
		{"hashed script is immutable", "/agents/assets/main-AbCdEf12.js", 200, "public, max-age=31536000, immutable", "text/javascript"},
		{"hashed style is immutable", "/agents/assets/style-AbCdEf12.css", 200, "public, max-age=31536000, immutable", "text/css"},
		{"missing asset", "/agents/assets/gone-AAAAAAAA.js", 404, "", "text/plain"},
		{"refresh-events", "/agents/refresh-events", 204, "no-store", ""},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			resp, err := http.Get(srv.URL + c.path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
			if resp.StatusCode != c.status || resp.Header.Get("Cache-Control") != c.cache || mt != c.mediaType {
				t.Errorf("%d %q %q, want %d %q %q", resp.StatusCode, resp.Header.Get("Cache-Control"), mt, c.status, c.cache, c.mediaType)
			}
			for k, v := range sec {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestServeConditionalAndMethods(t *testing.T) {
	dir := writeBake(t, "", nil, []string{"index.html", "assets/main-AbCdEf12.js"})
	h, err := NewHandler(dir, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/assets/main-AbCdEf12.js")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/assets/main-AbCdEf12.js", nil)
	req.Header.Set("If-None-Match", etag)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if etag == "" || resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match %q: %d, want 304", etag, resp.StatusCode)
	}
	resp, err = http.Post(srv.URL+"/assets/main-AbCdEf12.js", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", resp.StatusCode)
	}
}

func TestServeBasicAuthGate(t *testing.T) {
	dir := writeBake(t, "/agents", []string{"agents"}, []string{"index.html", "assets/main-AbCdEf12.js"})
	m, _ := build.ReadManifest(dir)
	u := templates.User{Name: "ann", Salt: strings.Repeat("ab", 16)}
	u.Hash = templates.HashPassword(u.Salt, "s3cret")
	o := templates.EdgeOptions{Hosts: []templates.Host{templates.CloudFront},
		Auth: templates.CloudFrontOptions{Basic: &templates.BasicAuth{Realm: "Studio", Users: []templates.User{u}}}}
	if err := templates.WriteEdge(dir, m, o); err != nil {
		t.Fatalf("write edge: %v", err)
	}
	h, err := NewHandler(dir, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/agents/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "Basic") {
		t.Fatalf("no credentials: %d %q, want 401 with a Basic challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if resp.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("401 without security headers")
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/agents/agents", nil)
	req.SetBasicAuth("ann", "s3cret")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("with credentials: %d, want 200", resp.StatusCode)
	}
}

func TestStartPrintsURLAndStops(t *testing.T) {
	dir := writeBake(t, "/agents", nil, []string{"index.html"})
	var out lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Options{Dir: dir, Addr: "127.0.0.1:0", Out: &out, AccessLog: &out}) }()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "http://") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	line := out.String()
	i := strings.Index(line, "http://")
	if i < 0 {
		t.Fatalf("no URL printed: %q", line)
	}
	u := strings.Fields(line[i:])[0]
	if !strings.HasPrefix(u, "http://127.0.0.1:") || !strings.HasSuffix(u, "/agents/") {
		t.Errorf("URL %q, want http://127.0.0.1:PORT/agents/", u)
	}
	cors := "server.cors must allow origin " + strings.TrimSuffix(u, "/agents/") + " with credentials: true"
	if !strings.Contains(out.String(), cors) {
		t.Errorf("output %q does not say %q", out.String(), cors)
	}
	resp, err := http.Get(u + "agents/x/chat")
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	resp.Body.Close()
	if want := "GET /agents/agents/x/chat -> /agents/index.html 200\n"; !strings.Contains(out.String(), want) {
		t.Errorf("access log %q, want %q", out.String(), want)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop after cancel")
	}
	if _, err := http.Get(u); err == nil {
		t.Errorf("still serving after cancel")
	}
}

func TestStartErrors(t *testing.T) {
	dir := writeBake(t, "", nil, []string{"index.html"})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cases := []struct{ desc, dir, addr, want string }{
		{"port in use", dir, l.Addr().String(), "the port is in use"},
		{"not a bake", t.TempDir(), "127.0.0.1:0", "is not a studiobake output"},
		{"the bake's site/", filepath.Join(dir, build.SiteDir), "127.0.0.1:0", "is the site/ of the bake in " + dir + ": use --dir " + dir},
		{"bad address", dir, "127.0.0.1:http-ish", "cannot listen on 127.0.0.1:http-ish"},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			s, err := Start(Options{Dir: c.dir, Addr: c.addr})
			if err == nil {
				_ = s.Shutdown(context.Background())
				t.Fatal("want an error")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want it to contain %q", err, c.want)
			}
		})
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestMain gives the gate more time than cfrun's 1 s loop guard: under -race
// on a loaded CI machine a first goja run can take that long.
func TestMain(m *testing.M) {
	cfrun.Timeout = 10 * time.Second
	os.Exit(m.Run())
}

// TestServeGateFailure: a function that throws answers 503, as CloudFront
// does, and the reason goes to the log.
func TestServeGateFailure(t *testing.T) {
	dir := writeBake(t, "", nil, []string{"index.html"})
	fn := filepath.Join(dir, build.EdgeDir, string(templates.CloudFront), templates.FunctionFile)
	if err := os.MkdirAll(filepath.Dir(fn), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fn, []byte(`function handler(event) { throw new Error("boom"); }`), 0o644); err != nil {
		t.Fatal(err)
	}
	var logw lockedBuffer
	h, err := NewHandler(dir, &logw)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(logw.String(), "boom") ||
		rec.Header().Get("Content-Security-Policy") == "" {
		t.Errorf("%d %q, log %q", rec.Code, rec.Body.String(), logw.String())
	}
}

// TestServeFileMissingFromSite: a manifest entry without its file is a 404
// that says to bake again, not a crash.
func TestServeFileMissingFromSite(t *testing.T) {
	dir := writeBake(t, "", nil, []string{"index.html", "mastra-dark-tile.svg"})
	if err := os.Remove(filepath.Join(dir, build.SiteDir, "mastra-dark-tile.svg")); err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(dir, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/mastra-dark-tile.svg", nil))
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "bake again") {
		t.Errorf("%d %q", rec.Code, rec.Body.String())
	}
}
