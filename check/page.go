package check

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/studiobake/studiobake/build"
)

// maxBody caps what is read of any answer: index.html is a few KB, the
// largest Studio chunk about 7 MB.
const maxBody = 32 << 20

// page is the Studio page as served, and what it says about the site.
type page struct {
	url      *url.URL // after redirects
	origin   string   // scheme://host[:port] of the site
	basePath string   // "" or "/agents"
	settings map[string]string
	exprs    map[string]string // settings assigned a JS expression, not a string
	body     []byte
	header   http.Header
	target   Target // the host serving the site, from the page's answer
	assets   []assetRef
	inline   []string // inline script bodies, for the CSP check
}

type assetRef struct {
	ref       string // as written in the page
	integrity string
}

// notStudioError says the URL answered, but not with a usable Studio page.
type notStudioError struct{ msg, fix string }

func (e *notStudioError) Error() string { return e.msg }

// fetched is one answer, body capped.
type fetched struct {
	url    *url.URL
	status int
	header http.Header
	body   []byte
}

// get fetches a URL of the site, with the site's basic auth when given.
func (c *checker) get(ctx context.Context, u *url.URL, header http.Header) (*fetched, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if c.auth != nil && sameOrigin(u, c.pageURL) {
		pw, _ := c.auth.Password()
		req.SetBasicAuth(c.auth.Username(), pw)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, newFetchError(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("%s: reading the answer: %s", redact(u), describeCause(err))
	}
	return &fetched{url: resp.Request.URL, status: resp.StatusCode, header: resp.Header, body: body}, nil
}

func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Host, b.Host)
}

func (c *checker) loadPage(ctx context.Context) (*page, error) {
	f, err := c.get(ctx, c.pageURL, http.Header{"Accept": {"text/html"}})
	if err != nil {
		return nil, err
	}
	if f.status == http.StatusUnauthorized {
		return nil, &notStudioError{
			msg: fmt.Sprintf("%s asks for a login (401)", redact(f.url)),
			fix: "give the site's basic-auth user in the URL: https://user:password@host/path/",
		}
	}
	if f.status != http.StatusOK {
		return nil, &notStudioError{
			msg: fmt.Sprintf("%s answered %d, not the Studio page", redact(f.url), f.status),
			fix: "check the URL and its base path, and that the bake is published there",
		}
	}
	p := parsePage(f)
	p.target = detectTarget(f.header)
	if len(p.settings)+len(p.exprs) == 0 {
		return nil, &notStudioError{
			msg: fmt.Sprintf("%s is not a Mastra Studio page (no window.MASTRA_* settings in it)", redact(f.url)),
			fix: "point check at the Studio page itself, e.g. https://cdn.example.com/agents/",
		}
	}
	return p, nil
}

var (
	settingRe     = regexp.MustCompile(`window\.MASTRA_([A-Z0-9_]+)\s*=\s*([^;\n]+?)\s*;`)
	baseHrefRe    = regexp.MustCompile(`(?i)<base\s+href="([^"]*)"`)
	tagRe         = regexp.MustCompile(`(?is)<(script|link)\b([^>]*)>`)
	attrRe        = regexp.MustCompile(`(?is)\b([a-z-]+)\s*=\s*"([^"]*)"`)
	placeholderRe = regexp.MustCompile(`%%MASTRA_[A-Z0-9_]+%%`)
)

func parsePage(f *fetched) *page {
	p := &page{url: f.url, body: f.body, header: f.header,
		settings: map[string]string{}, exprs: map[string]string{}}
	p.origin = originOf(f.url)
	html := string(f.body)
	for _, m := range settingRe.FindAllStringSubmatch(html, -1) {
		if s, ok := jsString(m[2]); ok {
			p.settings[m[1]] = s
		} else {
			p.exprs[m[1]] = m[2]
		}
	}
	p.basePath = basePathOf(p, html)
	for _, m := range tagRe.FindAllStringSubmatch(html, -1) {
		attrs := map[string]string{}
		for _, a := range attrRe.FindAllStringSubmatch(m[2], -1) {
			attrs[strings.ToLower(a[1])] = a[2]
		}
		ref := attrs["src"]
		if strings.EqualFold(m[1], "link") {
			ref = attrs["href"]
		}
		if ref != "" {
			p.assets = append(p.assets, assetRef{ref: ref, integrity: attrs["integrity"]})
		}
	}
	// The same definition of an inline script as the bake and its CSP use.
	for _, script := range build.InlineScripts(f.body) {
		p.inline = append(p.inline, string(script))
	}
	return p
}

// basePathOf prefers the baked setting; <base href> covers pages whose
// setting is an expression.
func basePathOf(p *page, html string) string {
	if v, ok := p.settings["STUDIO_BASE_PATH"]; ok && !placeholderRe.MatchString(v) {
		return strings.TrimRight(v, "/")
	}
	if m := baseHrefRe.FindStringSubmatch(html); m != nil && !placeholderRe.MatchString(m[1]) {
		if u, err := url.Parse(m[1]); err == nil {
			return strings.TrimRight(u.Path, "/")
		}
	}
	return ""
}

// jsString decodes a single- or double-quoted JS string literal.
func jsString(s string) (string, bool) {
	if len(s) < 2 || (s[0] != '\'' && s[0] != '"') || s[len(s)-1] != s[0] {
		return "", false
	}
	in := s[1 : len(s)-1]
	var b strings.Builder
	for i := 0; i < len(in); i++ {
		ch := in[i]
		if ch != '\\' || i+1 >= len(in) {
			b.WriteByte(ch)
			continue
		}
		i++
		switch e := in[i]; e {
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'x', 'u':
			n := 2
			if e == 'u' {
				n = 4
			}
			if i+n < len(in) {
				if r, err := strconv.ParseUint(in[i+1:i+1+n], 16, 32); err == nil {
					b.WriteRune(rune(r))
					i += n
					continue
				}
			}
			b.WriteByte(e)
		default:
			b.WriteByte(e)
		}
	}
	return b.String(), true
}

// baseURL is the site's root under its base path, with a trailing slash:
// what relative links in the page resolve against.
func (p *page) baseURL() *url.URL {
	u := *p.url
	u.Path = p.basePath + "/"
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	return &u
}

// resolve a path relative to the base URL.
func (p *page) resolve(rel string) *url.URL {
	r, err := url.Parse(rel)
	if err != nil {
		return p.baseURL()
	}
	return p.baseURL().ResolveReference(r)
}

// placeholders lists tokens the bake left in the page.
func (p *page) placeholders() []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range placeholderRe.FindAllString(string(p.body), -1) {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

// originOf serialises an origin as browsers send it: no default port.
func originOf(u *url.URL) string {
	host := u.Host
	if (u.Scheme == "https" && u.Port() == "443") || (u.Scheme == "http" && u.Port() == "80") {
		host = u.Hostname()
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(host)
}
