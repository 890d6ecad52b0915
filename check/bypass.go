package check

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// IDGateBypass is the item for requests that try to get past the gate.
const IDGateBypass = "gate-bypass"

// probeConcurrency bounds the probe requests in flight: a dozen requests,
// cheap for any CDN, and never a burst.
const probeConcurrency = 4

// A probe is one request an attacker without credentials would try: a path
// that means the Studio page to some origin but may not match the gated
// cache behaviour, or a method the gate might not see.
type probe struct {
	method string
	path   string // raw, percent-encoding kept as sent
	what   string // what it tries, for the report
	state  bool   // under the state prefix: any 2xx leaks publish's records
	fix    string
}

const (
	fixOtherBehaviour = "a cache behaviour without the gate (often the default one, *) reaches the bucket and serves this path, " +
		"which the bucket decodes to a key under the prefix: attach the gate to every behaviour that can reach the bucket " +
		"(studiobake publish --function-name NAME --associate), or point the other behaviours at another origin"
	fixCase = "a behaviour without the gate serves this path and its origin matches names case-insensitively: " +
		"attach the gate to that behaviour (studiobake publish --associate) or make the origin case-sensitive, as S3 is"
	fixState = "the state prefix (publish's release records) is served: the gate answers 404 for it, so a behaviour " +
		"without the gate serves it; attach the gate to every behaviour that reaches the bucket (studiobake publish --associate)"
	fixMethod = "a request with another method reached the site without the gate: the viewer-request function runs for " +
		"every method of its behaviour, so another behaviour or the origin answers it; attach the gate there, or allow " +
		"only GET and HEAD on the behaviours that reach the bucket"
)

// probes lists what to try against a site whose Studio lives under base
// ("" or "/agents"): about a dozen requests whatever the site.
func probes(base string) []probe {
	name := strings.TrimPrefix(base, "/")
	encSlash, encFirst := "/%2Findex.html", "/%69ndex.html" // Studio at the root: encode the file's name
	if name != "" {
		encSlash = base + "%2Findex.html"
		encFirst = fmt.Sprintf("/%%%02X%s/index.html", name[0], name[1:])
	}
	ps := []probe{
		{"GET", base + "/index.html", "the page's file itself", false, fixOtherBehaviour},
		{"GET", encSlash, "an encoded slash", false, fixOtherBehaviour},
		{"GET", encFirst, "an encoded letter", false, fixOtherBehaviour},
		{"GET", base + "/%2e/index.html", "an encoded dot segment", false, fixOtherBehaviour},
		{"GET", "/studiobake-probe/%2e%2e" + base + "/index.html", "an encoded dot-dot from outside the base path", false, fixOtherBehaviour},
		{"GET", base + "/_studiobake/releases/", "the state prefix", true, fixState},
		{"GET", base + "/%5Fstudiobake/releases/", "the state prefix, encoded", true, fixState},
	}
	if upper := strings.ToUpper(base + "/index.html"); upper != base+"/index.html" {
		ps = append(ps, probe{"GET", upper, "a change of case", false, fixCase})
	}
	for _, m := range []string{"POST", "PUT", "DELETE", "OPTIONS"} {
		ps = append(ps, probe{m, base + "/", "method " + m, false, fixMethod})
	}
	return ps
}

// gateItem probes the gate from outside, without credentials. It applies
// only to a site that is gated from here: the base URL refuses a request
// without credentials (401, 403, or a redirect to a login).
func (c *checker) gateItem(ctx context.Context, pg *page) Item {
	base := pg.baseURL()
	first, err := c.anonymous(ctx, http.MethodGet, base)
	if err != nil {
		return failErr(IDGateBypass, err, "check that the site is reachable")
	}
	if isStudio(first, pg) {
		if c.auth == nil {
			return pass(IDGateBypass, redact(base)+" answers without credentials: the site is not gated from here, nothing to probe")
		}
		return fail(IDGateBypass, redact(base)+" answers the Studio page to a request without the credentials given: the gate does not guard it",
			"attach the gate to the behaviour that serves the base path (studiobake publish --function-name NAME --associate)")
	}
	ps := probes(pg.basePath)
	results := make([]*fetched, len(ps))
	errs := make([]error, len(ps))
	sem := make(chan struct{}, probeConcurrency)
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i], errs[i] = c.anonymous(ctx, p.method, siteURL(base, p.path))
		}()
	}
	wg.Wait()
	return gateReport(first, ps, results, errs, pg)
}

// gateReport fails when a probe got Studio (or, under the state prefix,
// anything) back, naming every such probe and the fix for each kind; else it
// passes with the answers seen.
func gateReport(first *fetched, ps []probe, results []*fetched, errs []error, pg *page) Item {
	var leaks, fixes []string
	seen := map[int]int{first.status: 1}
	for i, p := range ps {
		if errs[i] != nil {
			// No answer is not a leak; the other items report an unreachable site.
			continue
		}
		f := results[i]
		seen[f.status]++
		if f.status/100 == 2 && (p.state || isStudio(f, pg)) {
			leaks = append(leaks, fmt.Sprintf("%s %s (%s) answered %d", p.method, p.path, p.what, f.status))
			if !slices.Contains(fixes, p.fix) {
				fixes = append(fixes, p.fix)
			}
		}
	}
	if len(leaks) > 0 {
		return fail(IDGateBypass, fmt.Sprintf("without credentials, %s, where the gate answers %d", strings.Join(leaks, "; "), first.status), strings.Join(fixes, "; also, "))
	}
	var counts []string
	for _, s := range slices.Sorted(maps.Keys(seen)) {
		counts = append(counts, fmt.Sprintf("%d x%d", s, seen[s]))
	}
	return pass(IDGateBypass, fmt.Sprintf("%d requests without credentials (encoded slashes and dots, case, the state prefix, other methods) "+
		"got no Studio content: %s", len(ps)+1, strings.Join(counts, ", ")))
}

// isStudio says an answer carries the Studio page: its settings script, or
// the very page check loaded. A 2xx without them (an empty OPTIONS answer,
// another app's page) leaks nothing of Studio.
func isStudio(f *fetched, pg *page) bool {
	return f.status/100 == 2 && (bytes.Contains(f.body, []byte("window.MASTRA_")) || (len(f.body) > 0 && bytes.Equal(f.body, pg.body)))
}

// siteURL is base's origin with a raw path, its percent-encoding sent as is.
func siteURL(base *url.URL, raw string) *url.URL {
	u := *base
	u.Path, u.RawPath, u.RawQuery = raw, raw, ""
	if p, err := url.PathUnescape(raw); err == nil {
		u.Path = p
	}
	return &u
}

// anonymous sends a request without credentials and without following a
// redirect: a redirect to a login is the gate's answer, not a way past it.
func (c *checker) anonymous(ctx context.Context, method string, u *url.URL) (*fetched, error) {
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/html")
	client := *c.client
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		return nil, newFetchError(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: reading the answer: %s", redact(u), describeCause(err))
	}
	return &fetched{url: u, status: resp.StatusCode, header: resp.Header, body: body}, nil
}
