package publish

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// s3Proxy is a reverse proxy in front of a real S3 server that sees every
// request of the runs pointed at it, by number and operation, and lets a
// test hold, fail or kill at chosen ones. A held request whose client gives
// up is never forwarded, as on a real network.
type s3Proxy struct {
	url string
	mu  sync.Mutex
	n   int
	// before decides each request before it is forwarded (it may block to
	// hold it); after runs once the server has answered it.
	before func(ctx context.Context, n int, op string) proxyAction
	after  func(n int, op string, status int)
	// pages are the SHA-256 (from studiobake's metadata) of every entry page
	// the server accepted.
	pages map[string]bool
	ops   []string
}

type proxyAction int

const (
	forward     proxyAction = iota
	failBefore              // answer 500 without forwarding
	failAfter               // forward, then answer 500 (the answer is lost)
	dropRequest             // the client has gone: do nothing
)

type proxyCtxKey struct{}

type proxyReq struct {
	n      int
	op     string
	action proxyAction
	page   string
}

func startProxy(t *testing.T, upstream string) *s3Proxy {
	t.Helper()
	target, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	p := &s3Proxy{pages: map[string]bool{}}
	rp := &httputil.ReverseProxy{
		ErrorLog: log.New(io.Discard, "", 0), // a held request's client gave up: expected
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host // the client signed the proxy's host
		},
		ModifyResponse: func(resp *http.Response) error {
			pr := resp.Request.Context().Value(proxyCtxKey{}).(*proxyReq)
			p.answered(pr, resp.StatusCode)
			if pr.action == failAfter {
				resp.Body.Close()
				setS3Error(resp)
			}
			return nil
		},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body first: only then does the server notice a client
		// that gives up while its request is held, and a request whose
		// client gave up never reaches the store.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		pr := &proxyReq{op: opOf(r), page: pageHeader(r)}
		p.mu.Lock()
		p.n++
		pr.n = p.n
		p.ops = append(p.ops, pr.op)
		before := p.before
		p.mu.Unlock()
		if before != nil {
			pr.action = before(r.Context(), pr.n, pr.op)
		}
		switch {
		case pr.action == dropRequest || r.Context().Err() != nil:
			return
		case pr.action == failBefore:
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, s3ErrorXML)
			return
		}
		rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), proxyCtxKey{}, pr)))
	}))
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

const s3ErrorXML = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code>` +
	`<Message>injected by the test proxy</Message></Error>`

func setS3Error(resp *http.Response) {
	resp.StatusCode, resp.Status = http.StatusInternalServerError, "500 Internal Server Error"
	resp.Body = io.NopCloser(strings.NewReader(s3ErrorXML))
	resp.ContentLength = int64(len(s3ErrorXML))
	resp.Header = http.Header{"Content-Type": {"application/xml"}}
}

func (p *s3Proxy) answered(pr *proxyReq, status int) {
	p.mu.Lock()
	if pr.page != "" && status/100 == 2 {
		p.pages[pr.page] = true
	}
	after := p.after
	p.mu.Unlock()
	if after != nil {
		after(pr.n, pr.op, status)
	}
}

// set replaces the hooks and restarts the count.
func (p *s3Proxy) set(before func(context.Context, int, string) proxyAction, after func(int, string, int)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n, p.ops, p.before, p.after = 0, nil, before, after
}

func (p *s3Proxy) requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

func (p *s3Proxy) pageWritten(sha string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pages[sha]
}

var deleteKey = regexp.MustCompile(`<Key>([^<]*)</Key>`)

// opOf names a request: "list", "put KEY", "get KEY", "head KEY", "delete
// KEY..." (path-style: the first path segment is the bucket).
func opOf(r *http.Request) string {
	_, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodGet && q.Has("list-type"):
		return "list " + q.Get("prefix")
	case r.Method == http.MethodPost && q.Has("delete"):
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		var keys []string
		for _, m := range deleteKey.FindAllSubmatch(body, -1) {
			keys = append(keys, string(m[1]))
		}
		return "delete " + strings.Join(keys, " ")
	}
	return strings.ToLower(r.Method) + " " + key
}

// pageHeader is the digest studiobake sends with an entry page.
func pageHeader(r *http.Request) string {
	if r.Method != http.MethodPut || !strings.HasSuffix(r.URL.Path, "/index.html") {
		return ""
	}
	return r.Header.Get("X-Amz-Meta-" + metaSHA256)
}

// gate holds a run's requests: from the first one match accepts, every
// request waits until the test opens the gate or the client gives up.
type gate struct {
	match   func(op string) bool
	once    sync.Once
	mu      sync.Mutex
	holding bool
	reached chan struct{} // closed when the first matching request arrived
	opened  chan struct{}
}

func newGate(match func(op string) bool) *gate {
	return &gate{match: match, reached: make(chan struct{}), opened: make(chan struct{})}
}

// hold is a proxy's before hook.
func (g *gate) hold(ctx context.Context, _ int, op string) proxyAction {
	g.mu.Lock()
	if !g.holding && g.match(op) {
		g.holding = true
		close(g.reached)
	}
	holding := g.holding
	g.mu.Unlock()
	if !holding {
		return forward
	}
	select {
	case <-g.opened:
		return forward
	case <-ctx.Done():
		return dropRequest
	}
}

func (g *gate) open() { g.once.Do(func() { close(g.opened) }) }
