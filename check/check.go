// Package check verifies a deployed Studio from the outside: what a CDN
// serves for the page, its assets and its routes, and whether the Mastra API
// lets the page call it across origins. Each item passes or fails with the
// setting to change; nothing here needs AWS credentials or the bake itself.
package check

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultTimeout bounds each request when Options.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Options says what to check.
type Options struct {
	// URL is the Studio page as users open it, e.g. https://cdn.example.com/agents/.
	// user:password@ in it is sent as basic auth to the site (never to the API).
	URL string
	// API overrides the API endpoint read from the page. With a path it is the
	// full endpoint (https://api.example.com/api); without one the page's
	// API prefix (default /api) is appended.
	API string
	// Timeout bounds each request (default 10s).
	Timeout time.Duration
	// Client is the HTTP client to use; tests inject one. Its redirect policy
	// and timeout are replaced.
	Client *http.Client
	// MaxRedirects caps redirects per request (default 10); more is reported as a loop.
	MaxRedirects int
}

// Status of one item.
type Status string

const (
	Pass Status = "pass"
	Fail Status = "fail"
)

// Item is one checked property.
type Item struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Status Status `json:"status"`
	Detail string `json:"detail,omitempty"`
	Fix    string `json:"fix,omitempty"`
}

// Report is the result of Run.
type Report struct {
	URL    string `json:"url"`
	Origin string `json:"origin,omitempty"` // the site's origin, sent as Origin to the API
	Target Target `json:"target,omitempty"` // the host serving the site, when its answer tells
	API    string `json:"api,omitempty"`    // the API endpoint with its prefix
	Items  []Item `json:"items"`
	Passed int    `json:"passed"`
	Failed int    `json:"failed"`
}

// OK reports whether every item passed.
func (r Report) OK() bool { return r.Failed == 0 && len(r.Items) > 0 }

// Item IDs, stable for --json consumers.
const (
	IDPage         = "page"
	IDIndexCache   = "index-revalidates"
	IDAsset        = "hashed-asset"
	IDDeepLink     = "deep-link"
	IDMissingAsset = "missing-asset-404"
	IDRefresh      = "refresh-events-204"
	IDSecurity     = "security-headers"
	IDAPIRoot      = "api-root"
	IDAPIPreflight = "api-preflight"
	IDAPICaps      = "api-auth-capabilities"
	IDStudioAuth   = "studio-auth-session"
)

// titles in report order.
var titles = []struct{ id, title string }{
	{IDPage, "Studio page loads"},
	{IDIndexCache, "index.html revalidates"},
	{IDAsset, "hashed asset is immutable and matches its SRI"},
	{IDDeepLink, "deep link returns index.html"},
	{IDMissingAsset, "missing asset returns 404"},
	{IDRefresh, "refresh-events answers 204"},
	{IDSecurity, "security headers"},
	{IDGateBypass, "no way past the gate without credentials"},
	{IDAPIRoot, "API root answers the site"},
	{IDAPIPreflight, "API CORS preflight"},
	{IDAPICaps, "API auth/capabilities with credentials"},
	{IDStudioAuth, "Studio Auth's session cookie reaches the API"},
}

// Run checks the site and its API. The error is only for unusable options;
// an unreachable or misconfigured site is reported as failed items.
func Run(ctx context.Context, o Options) (Report, error) {
	c, err := newChecker(o)
	if err != nil {
		return Report{URL: o.URL}, err
	}
	rep := Report{URL: redact(c.pageURL)}
	results := map[string]Item{}
	add := func(it Item) { results[it.ID] = it }

	pg, err := c.loadPage(ctx)
	if err != nil {
		// Without the page nothing else can be located: one line per check,
		// all with the same cause, so scripts reading --json see every item.
		for _, t := range titles {
			add(failErr(t.id, err, pageFix(err)))
		}
		return finish(rep, results), nil
	}
	rep.Origin, rep.Target = pg.origin, pg.target
	add(pageItem(pg))
	for _, it := range c.siteItems(ctx, pg) {
		add(it)
	}
	add(c.gateItem(ctx, pg))
	api, apiErr := c.apiEndpoint(pg)
	if apiErr != nil {
		for _, id := range []string{IDAPIRoot, IDAPIPreflight, IDAPICaps, IDStudioAuth} {
			add(fail(id, apiErr.Error(), "pass the API endpoint with --api https://api.example.com/api"))
		}
		return finish(rep, results), nil
	}
	rep.API = api.String()
	for _, it := range c.apiItems(ctx, pg, api) {
		add(it)
	}
	return finish(rep, results), nil
}

func pageItem(pg *page) Item {
	if left := pg.placeholders(); len(left) > 0 {
		return fail(IDPage, fmt.Sprintf("%s still holds %s: the page was not baked and will not start",
			redact(pg.url), strings.Join(left, ", ")), "publish a bake (studiobake build), not Studio's raw index.html")
	}
	return pass(IDPage, fmt.Sprintf("%s (Studio settings found, base path %q)", redact(pg.url), pg.basePath))
}

func finish(rep Report, results map[string]Item) Report {
	for _, t := range titles {
		it, ok := results[t.id]
		if !ok {
			continue
		}
		it.Title = t.title
		rep.Items = append(rep.Items, it)
		if it.Status == Pass {
			rep.Passed++
		} else {
			rep.Failed++
		}
	}
	return rep
}

func pass(id, detail string) Item { return Item{ID: id, Status: Pass, Detail: detail} }

func fail(id, detail, fix string) Item {
	return Item{ID: id, Status: Fail, Detail: detail, Fix: fix}
}

// checker holds what every request needs.
type checker struct {
	o       Options
	client  *http.Client
	pageURL *url.URL
	auth    *url.Userinfo
}

func newChecker(o Options) (*checker, error) {
	u, err := parseHTTPURL("URL", o.URL)
	if err != nil {
		return nil, err
	}
	if o.API != "" {
		if _, err := parseHTTPURL("--api", o.API); err != nil {
			return nil, err
		}
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxRedirects <= 0 {
		o.MaxRedirects = 10
	}
	c := &checker{o: o, pageURL: u, auth: u.User}
	u.User = nil
	c.client = newClient(o)
	return c, nil
}

func parseHTTPURL(name, s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("invalid %s %q: want an http:// or https:// URL (percent-encode special characters in a user:password)", name, redactUserinfo(s))
	}
	return u, nil
}

// redactUserinfo hides user:password@ in a URL that did not parse: such an
// error lands in CI logs, and the password is the part most likely to hold
// the character that broke parsing.
func redactUserinfo(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	host := rest
	if i := strings.IndexAny(host, "/?#"); i >= 0 && !strings.Contains(host[i:], "@") {
		host = host[:i]
	}
	if at := strings.LastIndex(host, "@"); at >= 0 {
		return scheme + "://***@" + rest[at+1:]
	}
	return s
}

func newClient(o Options) *http.Client {
	var c http.Client
	if o.Client != nil {
		c = *o.Client
	}
	c.Timeout = o.Timeout
	max := o.MaxRedirects
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= max {
			return &redirectLoopError{n: len(via), last: req.URL.String()}
		}
		return nil
	}
	return &c
}

type redirectLoopError struct {
	n    int
	last string
}

func (e *redirectLoopError) Error() string {
	return fmt.Sprintf("redirect loop: gave up after %d redirects (last to %s)", e.n, e.last)
}

// fetchError is a request that got no answer. fix is set when the cause has
// a remedy of its own (a certificate, a redirect loop, TLS on a plain port):
// then "start the server" or "check the URL" would send the user astray.
type fetchError struct{ msg, fix string }

func (e *fetchError) Error() string { return e.msg }

func newFetchError(err error) *fetchError {
	return &fetchError{msg: describe(err), fix: causeFix(err)}
}

// failErr fails an item on err, with the cause's own fix when it has one.
func failErr(id string, err error, fix string) Item {
	var fe *fetchError
	if errors.As(err, &fe) && fe.fix != "" {
		fix = fe.fix
	}
	return fail(id, err.Error(), fix)
}

// causeFix is the remedy for a transport failure whose cause says more than
// the item does; "" when the item's own fix fits.
func causeFix(err error) string {
	var loop *redirectLoopError
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	switch {
	case errors.As(err, &loop):
		return "the URL redirects in a circle: check the redirect rules of the CDN and of its origin " +
			"(e.g. both forcing http<->https, or a path with and without its trailing slash)"
	case errors.As(err, &certErr):
		return "serve a certificate from a trusted CA that names this host (for a CloudFront distribution: an ACM certificate " +
			"in us-east-1 with the host as an alternate domain name of the distribution)"
	case errors.As(err, &recErr), strings.Contains(err.Error(), "HTTP response to HTTPS client"):
		return "this port speaks plain HTTP: use an http:// URL, or turn on TLS at the server"
	}
	return ""
}

// describe turns a transport error into one line without Go's wrapping noise.
func describe(err error) string {
	var loop *redirectLoopError
	if errors.As(err, &loop) {
		return loop.Error()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		target := redact(mustParse(ue.URL))
		if ue.Timeout() {
			return fmt.Sprintf("%s: no answer in time (timeout)", target)
		}
		return fmt.Sprintf("%s: %s", target, describeCause(ue.Err))
	}
	return err.Error()
}

func describeCause(err error) string {
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return "TLS certificate not accepted: " + certErr.Err.Error()
	}
	var recErr tls.RecordHeaderError
	if errors.As(err, &recErr) {
		return "TLS handshake failed (is this port plain HTTP?)"
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "HTTP response to HTTPS client"):
		return "TLS handshake failed (the port speaks plain HTTP: use http://)"
	case strings.Contains(msg, "connection refused"):
		return "does not answer (connection refused)"
	case strings.Contains(msg, "no such host"):
		return "does not answer (no such host)"
	case strings.Contains(msg, "tls:"), strings.Contains(msg, "x509:"):
		return "TLS error: " + msg
	}
	return msg
}

func mustParse(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		return &url.URL{Path: s}
	}
	return u
}

// redact drops a password from a URL before it is printed.
func redact(u *url.URL) string {
	if u == nil {
		return ""
	}
	v := *u
	v.User = nil
	return v.String()
}

// pageFix suggests what to do when the page cannot be used at all.
func pageFix(err error) string {
	var np *notStudioError
	if errors.As(err, &np) {
		return np.fix
	}
	return "check that the URL is the Studio page (with its base path) and that the site is deployed"
}
