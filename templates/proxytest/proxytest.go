// Package proxytest is a fake Mastra server for the tests of everything that
// forwards the API prefix in one-origin mode (the nginx configuration, the
// Cloudflare worker, serve --api): it echoes what it received and streams
// server-sent events that end only when the test says so, which proves a
// proxy passes each event on as it comes instead of buffering the stream.
package proxytest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// StreamPath is the upstream's event stream, an agent's path with a dotted
// id (every other path echoes).
const StreamPath = "/api/agents/support.bot-v1.2/stream"

// Echo is the upstream's answer to any other path: what it received.
type Echo struct {
	Method string      `json:"method"`
	URI    string      `json:"uri"`
	Host   string      `json:"host"`
	Header http.Header `json:"header"`
	Body   string      `json:"body"`
}

// Upstream is a running fake on 127.0.0.1.
type Upstream struct {
	*httptest.Server
	release chan struct{}
}

// New starts an upstream and closes it when the test ends.
func New(t *testing.T) *Upstream {
	u := &Upstream{release: make(chan struct{}, 1)}
	u.Server = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.Close)
	return u
}

// Host is the upstream's host:port, what a proxy must send as Host.
func (u *Upstream) Host() string { return strings.TrimPrefix(u.URL, "http://") }

func (u *Upstream) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != StreamPath {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(Echo{Method: r.Method, URI: r.RequestURI, Host: r.Host, Header: r.Header, Body: string(body)})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	fmt.Fprint(w, "data: one\n\n")
	http.NewResponseController(w).Flush()
	select {
	case <-u.release:
	case <-time.After(20 * time.Second):
	case <-r.Context().Done():
		return
	}
	fmt.Fprint(w, "data: two\n\n")
}

// Forwarded is what the upstream must see for a request the browser sent to
// the page's origin: the page's host and scheme in X-Forwarded-*, and the
// upstream's own Host.
type Forwarded struct {
	Host  string // the page's host:port, X-Forwarded-Host
	Proto string // "http" or "https", X-Forwarded-Proto
	// For is the client address X-Forwarded-For must end with ("" skips
	// the check: Cloudflare sets that header itself).
	For string
}

// Send sends method uri (with body) to the proxy at base and returns what
// the upstream received; the test fails unless the upstream answered.
func (u *Upstream) Send(t *testing.T, base, method, uri, body string) (Echo, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, base+uri, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, uri, err)
	}
	defer resp.Body.Close()
	var e Echo
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: status %d, not the upstream's echo (%v)", method, uri, resp.StatusCode, err)
	}
	if e.URI != uri {
		t.Errorf("%s %s: the upstream got %s", method, uri, e.URI)
	}
	return e, resp.Header
}

// CheckEcho sends method uri (with body) to the proxy at base and checks
// that the upstream received it unchanged, with the forwarding headers.
func (u *Upstream) CheckEcho(t *testing.T, base, method, uri, body string, want Forwarded) {
	t.Helper()
	e, header := u.Send(t, base, method, uri, body)
	got := []string{e.Method, e.URI, e.Host, e.Header.Get("X-Forwarded-Host"), e.Header.Get("X-Forwarded-Proto"), e.Body}
	exp := []string{method, uri, u.Host(), want.Host, want.Proto, body}
	if strings.Join(got, "|") != strings.Join(exp, "|") {
		t.Errorf("%s %s: upstream got method|uri|host|x-forwarded-host|-proto|body\n  %q\nwant\n  %q", method, uri, got, exp)
	}
	if xff := e.Header.Get("X-Forwarded-For"); want.For != "" && !strings.HasSuffix(xff, want.For) {
		t.Errorf("%s %s: X-Forwarded-For %q, want it to end with %s", method, uri, xff, want.For)
	}
	if c := e.Header.Get("Connection"); strings.EqualFold(c, "close") {
		t.Errorf("%s %s: the proxy sent Connection: close", method, uri)
	}
	if header.Get("Content-Security-Policy") != "" {
		t.Errorf("%s %s: the API answer carries Studio's CSP", method, uri)
	}
}

// CheckStream POSTs to StreamPath through the proxy at base and requires the
// first event to arrive while the upstream still holds the stream open;
// then it lets the upstream finish and reads the rest.
func (u *Upstream) CheckStream(t *testing.T, base string) {
	t.Helper()
	resp, err := http.Post(base+StreamPath, "application/json", strings.NewReader(`{"messages":[]}`))
	if err != nil {
		t.Fatalf("POST %s: %v", StreamPath, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("POST %s: status %d, Content-Type %q", StreamPath, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	select {
	case l := <-lines:
		if l != "data: one" {
			t.Fatalf("first line of the stream %q, want %q", l, "data: one")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first event did not arrive while the stream was open: the proxy buffers server-sent events")
	}
	u.release <- struct{}{}
	var rest []string
	for l := range lines {
		rest = append(rest, l)
	}
	if got := strings.Join(rest, "\n"); !strings.Contains(got, "data: two") {
		t.Errorf("rest of the stream %q, want the second event", got)
	}
}
