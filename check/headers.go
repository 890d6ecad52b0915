package check

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

const fixRefresh = "answer <base>/refresh-events with 204 at the edge (the studiobake gate does: studiobake build --edge cloudfront)"

// refreshFix names what answers refresh-events on the host check sees.
func refreshFix(t Target) string {
	if t == TargetCloudflare {
		return "deploy the cloudflare/ folder of studiobake build --edge cloudflare as it is (wrangler pages deploy dist/cloudflare): its _worker.js answers <base>/refresh-events with 204"
	}
	return fixRefresh
}

// refreshItem never reads an event stream: a dev server would hold it open.
func (c *checker) refreshItem(ctx context.Context, pg *page) Item {
	u := pg.resolve("refresh-events")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fail(IDRefresh, err.Error(), fixRefresh)
	}
	req.Header.Set("Accept", "text/event-stream")
	if c.auth != nil {
		pw, _ := c.auth.Password()
		req.SetBasicAuth(c.auth.Username(), pw)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return failErr(IDRefresh, newFetchError(err), fixRefresh)
	}
	defer resp.Body.Close()
	where := redact(u)
	if resp.StatusCode == http.StatusNoContent {
		return pass(IDRefresh, where+" answered 204")
	}
	detail := fmt.Sprintf("%s answered %d", where, resp.StatusCode)
	ct := resp.Header.Get("Content-Type")
	if resp.StatusCode == http.StatusNotFound && pg.target.rulesOnly() && !strings.HasPrefix(ct, "text/event-stream") {
		// Rules files cannot answer 204, and the baked page never calls it.
		return pass(IDRefresh, fmt.Sprintf("%s (%s: rules files cannot answer 204; the baked page never calls it)", detail, pg.target))
	}
	switch {
	case strings.HasPrefix(ct, "text/event-stream"):
		detail += " with an event stream: this is a dev server, not a bake"
	case resp.StatusCode == http.StatusOK:
		head, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if looksLikeIndex(head) {
			detail += " with index.html: an unbaked page would reconnect to it forever"
		}
	}
	return fail(IDRefresh, detail, refreshFix(pg.target))
}

const fixSecurity = "send the security headers of the bake (studiobake build --edge cloudfront writes a " +
	"response-headers policy and the gate; serve previews them)"

// securityItem checks the headers that keep the page safe and working: a
// CSP that still allows this page's inline script and its API, nosniff,
// a referrer policy, framing protection, and HSTS on https.
func (c *checker) securityItem(pg *page, index *fetched) Item {
	h := index.header
	var problems []string
	if !strings.EqualFold(h.Get("X-Content-Type-Options"), "nosniff") {
		problems = append(problems, "X-Content-Type-Options: nosniff missing")
	}
	if h.Get("Referrer-Policy") == "" {
		problems = append(problems, "Referrer-Policy missing")
	}
	csp := parseCSP(h.Get("Content-Security-Policy"))
	if h.Get("X-Frame-Options") == "" && csp["frame-ancestors"] == nil {
		problems = append(problems, "no framing protection (X-Frame-Options or CSP frame-ancestors)")
	}
	if pg.url.Scheme == "https" && h.Get("Strict-Transport-Security") == "" {
		problems = append(problems, "Strict-Transport-Security missing")
	}
	if h.Get("Content-Security-Policy") == "" {
		problems = append(problems, "Content-Security-Policy missing")
	} else {
		problems = append(problems, cspProblems(csp, pg, c.apiOriginForCSP(pg))...)
	}
	if len(problems) > 0 {
		return fail(IDSecurity, redact(index.url)+": "+strings.Join(problems, "; "), fixSecurity)
	}
	return pass(IDSecurity, "CSP allows the page's inline script and API; nosniff, Referrer-Policy, framing protection present")
}

// apiOriginForCSP is the API origin the page itself will connect to: the
// baked one, not --api (which may point check elsewhere); --api only when
// the page does not say.
func (c *checker) apiOriginForCSP(pg *page) *url.URL {
	baked := *c
	baked.o.API = ""
	api, err := baked.apiEndpoint(pg)
	if err != nil {
		if api, err = c.apiEndpoint(pg); err != nil {
			return nil
		}
	}
	return api.origin()
}

type csp map[string][]string

func parseCSP(s string) csp {
	out := csp{}
	for _, d := range strings.Split(s, ";") {
		f := strings.Fields(d)
		if len(f) == 0 {
			continue
		}
		name := strings.ToLower(f[0])
		if _, dup := out[name]; !dup { // the first wins, as in browsers
			out[name] = append([]string{}, f[1:]...)
		}
	}
	return out
}

// sources is the effective source list for a fetch directive.
func (p csp) sources(directive string) ([]string, bool) {
	if s, ok := p[directive]; ok {
		return s, true
	}
	s, ok := p["default-src"]
	return s, ok
}

func cspProblems(p csp, pg *page, api *url.URL) []string {
	var out []string
	if src, ok := p.sources("script-src"); ok && !contains(src, "'unsafe-inline'") {
		for _, body := range pg.inline {
			sum := sha256.Sum256([]byte(body))
			h := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
			if !contains(src, h) {
				out = append(out, "CSP script-src does not allow the page's inline script ("+h+"): the page and its headers come from different bakes")
				break
			}
		}
	}
	if src, ok := p.sources("connect-src"); ok && api != nil {
		self, _ := url.Parse(pg.origin)
		if !allowsOrigin(src, api, self) {
			out = append(out, fmt.Sprintf("CSP connect-src does not allow the API %s", api))
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// allowsOrigin is CSP source matching for a URL origin, enough for the
// forms bakes and hand-written policies use: *, scheme:, 'self', and
// [scheme://]host[:port] with a leading *. wildcard.
func allowsOrigin(src []string, u, self *url.URL) bool {
	for _, s := range src {
		ls := strings.ToLower(s)
		switch {
		case ls == "*":
			return true
		case ls == "'self'":
			if self != nil && sameOrigin(u, self) {
				return true
			}
		case ls == u.Scheme+":":
			return true
		case sourceMatches(ls, u):
			return true
		}
	}
	return false
}

func sourceMatches(s string, u *url.URL) bool {
	if strings.HasPrefix(s, "'") {
		return false
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		scheme, rest = "", s
	}
	if scheme != "" && scheme != u.Scheme {
		return false
	}
	hostport, _, _ := strings.Cut(rest, "/")
	host, port, hasPort := strings.Cut(hostport, ":")
	want := u.Port()
	if want == "" {
		want = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if hasPort && port != "*" && port != want {
		return false
	}
	if !hasPort && u.Port() != "" && u.Port() != map[string]string{"http": "80", "https": "443"}[u.Scheme] {
		return false
	}
	h := strings.ToLower(u.Hostname())
	if strings.HasPrefix(host, "*.") {
		return strings.HasSuffix(h, host[1:])
	}
	return host == h
}
