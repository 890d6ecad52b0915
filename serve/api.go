package serve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
)

// ParseAPI checks --api, the Mastra server a preview forwards the API prefix
// to: an absolute http(s) URL naming an origin. Requests keep their path
// (/api/agents/...), exactly as the CDN forwards them in one-origin mode.
func ParseAPI(raw string) (*url.URL, error) {
	fail := func(reason string) (*url.URL, error) {
		return nil, fmt.Errorf("invalid --api %q: %s", raw, reason)
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	switch {
	case err != nil:
		return fail("not a URL; want the Mastra server's origin, such as http://localhost:4111")
	case u.Scheme != "http" && u.Scheme != "https":
		return fail("want an absolute http:// or https:// URL, such as http://localhost:4111")
	case u.Opaque != "" || u.Hostname() == "":
		return fail("no host; want the Mastra server's origin, such as http://localhost:4111")
	case u.User != nil:
		return fail("user info (user:password@) is not allowed")
	case u.RawQuery != "" || u.ForceQuery:
		return fail("a query (?...) is not allowed")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return fail("a fragment (#...) is not allowed")
	case u.Path != "" && u.Path != "/":
		return fail(fmt.Sprintf("a path is not allowed: requests keep their own path (/api/...), so give the server's origin, %s://%s", u.Scheme, u.Host))
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

// apiProxy forwards the API prefix to the Mastra server, as every edge
// output does in one-origin mode.
type apiProxy struct {
	target   *url.URL
	rp       *httputil.ReverseProxy
	stopping chan struct{} // closed when the server shuts down
	once     sync.Once
}

// StopStreams ends every forwarded request: an open Studio tab holds an
// event stream through the proxy that never finishes by itself, and a
// Ctrl-C must not wait for it.
func (h *Handler) StopStreams() {
	if h.proxy != nil {
		h.proxy.once.Do(func() { close(h.proxy.stopping) })
	}
}

// ForwardAPI makes the handler forward the bake's API prefix to target
// (serve --api), after the gate: its IP rule applies to the API too. Only a
// bake whose page calls its own origin for the API has anything to forward.
func (h *Handler) ForwardAPI(target *url.URL) error {
	if !h.api.SameOrigin() {
		return fmt.Errorf("--api %s: this bake's page calls the Mastra API at %s itself, never the preview's origin, so there is nothing to forward; drop --api, or bake with --api-origin to preview one origin",
			target, or(h.apiOrigin, "another origin"))
	}
	h.proxy = &apiProxy{target: target, stopping: make(chan struct{}), rp: &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target) // and the server's own Host, as a CDN sends it
			pr.SetXForwarded()
		},
		// Agent answers are server-sent events: pass each write on at once.
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, context.Canceled) {
				return // the browser went away, or serve is stopping: nobody to answer
			}
			h.logf("serve: %s %s: the Mastra server at %s did not answer: %v\n", r.Method, r.URL.RequestURI(), target, err)
			http.Error(w, fmt.Sprintf("502: the Mastra server at %s (--api) did not answer: %v", target, err), http.StatusBadGateway)
		},
	}}
	return nil
}

// ownsAPI says whether uri, as the gate passed it on, is the API's: the gate
// passes API paths through unchanged.
func (h *Handler) ownsAPI(uri string) bool {
	p := h.api.Prefix
	return h.api.SameOrigin() && p != "" && (uri == p || strings.HasPrefix(uri, p+"/"))
}

// serveAPI forwards r, or says why it cannot without --api.
func (h *Handler) serveAPI(w http.ResponseWriter, r *http.Request) {
	// The API's answers are the server's own: Studio's headers stay off them.
	for k := range h.security {
		w.Header().Del(k)
	}
	if h.proxy == nil {
		http.Error(w, fmt.Sprintf("404: %s is the Mastra API, which this preview does not serve; run studiobake serve --api URL with your Mastra server's URL", r.URL.Path), http.StatusNotFound)
		return
	}
	if rec, ok := w.(*statusRecorder); ok {
		rec.uri = h.proxy.target.String() + r.URL.RequestURI()
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		select {
		case <-h.proxy.stopping:
			cancel()
		case <-ctx.Done():
		}
	}()
	h.proxy.rp.ServeHTTP(w, r.WithContext(ctx))
}

// apiNotice is what Start prints about the API: where it goes, or why API
// calls will fail in this preview.
func (h *Handler) apiNotice(origin string) (notice string, warning bool) {
	switch {
	case h.proxy != nil:
		return fmt.Sprintf("forwarding %s/ to the Mastra server at %s\n", h.api.Prefix, h.proxy.target), false
	case h.api.SameOrigin():
		where := "whoever hosts the page must forward it"
		if h.api.OneOrigin() {
			where = "the CDN forwards it to " + h.api.Upstream
		}
		return fmt.Sprintf("warning: this bake's page calls the Mastra API on its own origin (%s%s/..., %s), and without --api this preview answers every API call with 404: run studiobake serve --api URL with your Mastra server (e.g. --api http://localhost:4111)\n",
			origin, h.api.Prefix, where), true
	case h.apiOrigin != "":
		// The first thing a preview hits: the API refusing this origin.
		return fmt.Sprintf("the page calls the API at %s: its server.cors must allow origin %s with credentials: true\n", h.apiOrigin, origin), false
	}
	return "", false
}

func (h *Handler) logf(format string, a ...any) {
	h.logMu.Lock()
	defer h.logMu.Unlock()
	fmt.Fprintf(h.log, format, a...)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
