package serve

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/studiobake/studiobake/build"
)

// Handler serves one bake the way the CDN would.
type Handler struct {
	basePath  string
	apiOrigin string // "" when the API is on the page's own origin
	api       build.API
	proxy     *apiProxy // serve --api
	site      string
	files     map[string]*build.File // by path relative to site/
	security  map[string]string
	gate      gate
	log       io.Writer
	// AccessLog, when set, gets one line per request showing what the gate
	// did with it: "GET /agents/x/chat -> /agents/index.html 200".
	AccessLog io.Writer
	logMu     sync.Mutex // requests run concurrently; lines to log and AccessLog must not interleave
}

// gateResult is what the viewer-request function decided: pass the request
// on with a (possibly rewritten) URI, or answer it itself.
type gateResult struct {
	uri     string // set when the request goes on to the origin
	status  int    // set when the function answered
	headers http.Header
	body    []byte
}

// gate runs the edge function for one request.
type gate interface {
	run(r *http.Request, viewerIP string) (gateResult, error)
}

// NewHandler loads the bake in dir and its edge function.
func NewHandler(dir string, logw io.Writer) (*Handler, error) {
	m, err := build.ReadManifest(dir)
	if err != nil {
		return nil, withSiteHint(dir, err)
	}
	site := filepath.Join(dir, build.SiteDir)
	if fi, err := os.Stat(site); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("%s has a manifest but no %s/ directory: run studiobake build again", dir, build.SiteDir)
	}
	g, err := loadGate(dir, m)
	if err != nil {
		return nil, err
	}
	sec, err := securityHeaders(m, site)
	if err != nil {
		return nil, err
	}
	h := &Handler{basePath: m.BasePath, apiOrigin: m.APIOrigin, api: m.API, site: site, files: map[string]*build.File{}, security: sec, gate: g, log: logw}
	for i := range m.Files {
		h.files[m.Files[i].Path] = &m.Files[i]
	}
	return h, nil
}

// withSiteHint names the bake directory when the user pointed at its site/:
// the files are there, but the routing and headers come from the manifest.
func withSiteHint(dir string, err error) error {
	parent := filepath.Dir(filepath.Clean(dir))
	if filepath.Base(filepath.Clean(dir)) != build.SiteDir {
		return err
	}
	if _, serr := os.Stat(filepath.Join(parent, build.ManifestFile)); serr != nil {
		return err
	}
	return fmt.Errorf("%s is the site/ of the bake in %s: use --dir %s", dir, parent, parent)
}

// BasePath is where the bake is served, "" or "/agents".
func (h *Handler) BasePath() string { return h.basePath }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.AccessLog == nil {
		h.serve(w, r)
		return
	}
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	h.serve(rec, r)
	target := "(answered by the gate)"
	if rec.uri != "" {
		target = rec.uri
	}
	h.logMu.Lock()
	fmt.Fprintf(h.AccessLog, "%s %s -> %s %d\n", r.Method, r.URL.RequestURI(), target, rec.status)
	h.logMu.Unlock()
}

// statusRecorder notes the status and the URI the gate passed on, for the
// access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	uri    string
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	// A response headers policy applies to every answer, errors included.
	for k, v := range h.security {
		w.Header().Set(k, v)
	}
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	res, err := h.gate.run(r, ip)
	if err != nil {
		// CloudFront answers 503 when a function fails; say why locally.
		h.logMu.Lock()
		fmt.Fprintf(h.log, "serve: %s %s: edge function failed: %v\n", r.Method, r.URL.RequestURI(), err)
		h.logMu.Unlock()
		http.Error(w, "edge function failed: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	if res.uri == "" {
		h.answer(w, r, res)
		return
	}
	if h.ownsAPI(res.uri) {
		h.serveAPI(w, r)
		return
	}
	if rec, ok := w.(*statusRecorder); ok {
		rec.uri = res.uri
	}
	h.serveFile(w, r, res.uri)
}

// answer writes a response the function generated (401, 204, redirects).
func (h *Handler) answer(w http.ResponseWriter, r *http.Request, res gateResult) {
	for k, vs := range res.headers {
		w.Header().Del(k)
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(res.status)
	if r.Method != http.MethodHead && res.status != http.StatusNoContent && res.status != http.StatusNotModified {
		_, _ = w.Write(res.body)
	}
}

// serveFile answers like the origin bucket under the publish prefix: site/
// holds what lives under the base path, so the URI must be inside it.
func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request, uri string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rel, ok := h.relPath(uri)
	f := h.files[rel]
	if !ok || f == nil {
		http.Error(w, "404 not found: "+uri, http.StatusNotFound)
		return
	}
	file, err := os.Open(filepath.Join(h.site, filepath.FromSlash(rel)))
	if err != nil {
		h.logMu.Lock()
		fmt.Fprintf(h.log, "serve: %s: %v\n", rel, err)
		h.logMu.Unlock()
		http.Error(w, "404 not found: "+uri+" (in the manifest but not in site/: bake again)", http.StatusNotFound)
		return
	}
	defer file.Close()
	w.Header().Set("Content-Type", f.ContentType)
	w.Header().Set("Cache-Control", f.Cache.CacheControl())
	w.Header().Set("ETag", `"`+f.SHA256+`"`)
	http.ServeContent(w, r, "", time.Time{}, file)
}

// relPath maps a URI to a path relative to site/, false when the URI is
// outside the base path or not a plain file path.
func (h *Handler) relPath(uri string) (string, bool) {
	p, err := url.PathUnescape(uri)
	if err != nil {
		return "", false
	}
	if h.basePath != "" {
		if !strings.HasPrefix(p, h.basePath+"/") {
			return "", false
		}
		p = p[len(h.basePath):]
	}
	p = strings.TrimPrefix(p, "/")
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", false
		}
	}
	return p, true
}
