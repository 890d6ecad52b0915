package check

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// apiTarget is where the page sends API calls: Studio GETs root to see the
// server is up, then calls root + prefix + path with credentials.
type apiTarget struct {
	root   *url.URL
	prefix string
}

func (a apiTarget) String() string      { return strings.TrimRight(a.root.String(), "/") + a.prefix }
func (a apiTarget) origin() *url.URL    { return &url.URL{Scheme: a.root.Scheme, Host: a.root.Host} }
func (a apiTarget) url(p string) string { return a.String() + p }

// apiEndpoint mirrors the SPA: CLOUD_API_ENDPOINT, else the page origin with
// AUTO_DETECT_URL, else protocol://host:port from the baked settings.
func (c *checker) apiEndpoint(pg *page) (apiTarget, error) {
	prefix, err := c.apiPrefix(pg)
	if err != nil {
		return apiTarget{}, err
	}
	if c.o.API != "" {
		u, _ := url.Parse(strings.TrimRight(c.o.API, "/"))
		if u.Path != "" {
			prefix, u.Path = u.Path, ""
		}
		return apiTarget{root: u, prefix: prefix}, nil
	}
	if ep := pg.settings["CLOUD_API_ENDPOINT"]; ep != "" && !placeholderRe.MatchString(ep) {
		u, err := url.Parse(ep)
		if err != nil {
			return apiTarget{}, fmt.Errorf("the page's MASTRA_CLOUD_API_ENDPOINT %q is not a URL", ep)
		}
		return apiTarget{root: u, prefix: prefix}, nil
	}
	if pg.settings["AUTO_DETECT_URL"] == "true" {
		u, _ := url.Parse(pg.origin)
		return apiTarget{root: u, prefix: prefix}, nil
	}
	proto, err := pg.setting("SERVER_PROTOCOL", "http")
	if err != nil {
		return apiTarget{}, err
	}
	host, err := pg.setting("SERVER_HOST", "localhost")
	if err != nil {
		return apiTarget{}, err
	}
	port, err := pg.setting("SERVER_PORT", "4111")
	if err != nil {
		return apiTarget{}, err
	}
	u, err := url.Parse(proto + "://" + host + ":" + port)
	if err != nil || u.Host == "" {
		return apiTarget{}, fmt.Errorf("the page's API settings make no URL: %s://%s:%s", proto, host, port)
	}
	return apiTarget{root: u, prefix: prefix}, nil
}

func (c *checker) apiPrefix(pg *page) (string, error) {
	p, err := pg.setting("API_PREFIX", "/api")
	if err != nil {
		return "", err
	}
	p = strings.TrimSpace(p)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return strings.TrimRight(p, "/"), nil
}

// setting reads a baked value the way the SPA does (empty means default),
// resolving the location expressions of expression-style substitution.
func (p *page) setting(name, def string) (string, error) {
	if e, ok := p.exprs[name]; ok {
		switch strings.TrimSpace(e) {
		case "window.location.hostname", "location.hostname":
			return p.url.Hostname(), nil
		case "window.location.port", "location.port":
			return p.url.Port(), nil
		}
		return "", fmt.Errorf("the page sets MASTRA_%s to the expression %s; pass the API with --api", name, e)
	}
	v := p.settings[name]
	if placeholderRe.MatchString(v) {
		return "", fmt.Errorf("the page still holds the placeholder %s: it was not baked", v)
	}
	if v == "" {
		return def, nil
	}
	return v, nil
}

// corsFix names the Mastra server setting to change, with this site's origin.
func corsFix(origin string) string {
	return fmt.Sprintf("in the Mastra server config set server: { cors: { origin: ['%s'], credentials: true } } "+
		"(keep your other origins in the list; a '*' origin cannot be used with credentials)", origin)
}

// studioHeaders are the request headers Studio's client sends with every API
// call; together they force a CORS preflight.
var studioHeaders = []string{"content-type", "x-mastra-client-type"}

func (c *checker) apiItems(ctx context.Context, pg *page, api apiTarget) []Item {
	var caps *capabilities
	items := parallel(
		func() Item { return c.apiRootItem(ctx, pg, api) },
		func() Item { return c.preflightItem(ctx, pg, api) },
		func() Item {
			it, cp := c.capabilitiesItem(ctx, pg, api)
			caps = cp
			return it
		},
	)
	return append(items, studioAuthItem(pg, api, caps))
}

// capabilities is what Studio reads from {api}/auth/capabilities to choose
// its login screen.
type capabilities struct {
	Enabled bool `json:"enabled"`
}

// studioAuthItem: Studio Auth signs in with a SameSite=Lax, host-only
// cookie, which the browser sends to the API only when the page is on the
// same site (scheme and registrable domain). Across sites sign-in answers
// 200 and Studio silently falls back to its sign-in screen.
func studioAuthItem(pg *page, api apiTarget, caps *capabilities) Item {
	if caps == nil {
		return fail(IDStudioAuth, "cannot tell whether Studio Auth is on: auth/capabilities did not answer JSON (see above)",
			"fix "+IDAPICaps+" first")
	}
	if !caps.Enabled {
		return pass(IDStudioAuth, "Studio Auth is off on this server (auth/capabilities: enabled false)")
	}
	pageSite, apiSite := siteOf(mustParse(pg.origin)), siteOf(api.root)
	if pageSite == apiSite {
		return pass(IDStudioAuth, fmt.Sprintf("Studio Auth is on and the page and the API are on one site (%s): the session cookie is sent", pageSite))
	}
	return fail(IDStudioAuth,
		fmt.Sprintf("Studio Auth is on, but the page (%s) and the API (%s) are on different sites: its SameSite=Lax session cookie is never sent to the API, so signing in answers 200 and Studio falls back to \"Sign in to continue\"",
			pageSite, apiSite),
		fmt.Sprintf("serve Studio and the API from one origin: studiobake build --api-origin %s --edge cloudfront (or nginx, netlify, cloudflare), so the CDN forwards %s to the Mastra server (README: One origin)",
			originOf(api.root), api.prefix))
}

// rootProbeFix names what must answer Studio's first request, which goes to
// the API origin's root: no prefix, no credentials.
func rootProbeFix(pg *page, api apiTarget) string {
	switch {
	case sameOrigin(api.root, mustParse(pg.origin)):
		return fmt.Sprintf("the page calls its own origin, so %s/ must answer 2xx: bake with --api-origin URL_OF_THE_MASTRA_SERVER and deploy the edge configuration it writes (the CloudFront gate, nginx, Netlify and Cloudflare outputs answer it), or have the host forward / to the Mastra server",
			originOf(api.root))
	case strings.Count(api.prefix, "/") > 1:
		return fmt.Sprintf("the API is mounted under %s, but Studio requests the host's root first: route / of %s to the Mastra server (it answers / with 200), or serve the API from Studio's origin with studiobake build --api-origin",
			api.prefix, originOf(api.root))
	}
	return "check MASTRA_SERVER_HOST/PORT/PROTOCOL of the bake: they must name the Mastra server"
}

func (c *checker) apiRootItem(ctx context.Context, pg *page, api apiTarget) Item {
	if mixedContent(pg, api.root) {
		return fail(IDAPIRoot, fmt.Sprintf("the https page calls the API over http (%s): browsers block it as mixed content", redact(api.root)),
			"serve the Mastra API over https and bake with MASTRA_SERVER_PROTOCOL=https (and its port, e.g. 443)")
	}
	f, err := c.get(ctx, api.root, http.Header{"Origin": {pg.origin}})
	if err != nil {
		return failErr(IDAPIRoot, err, "start the Mastra server, or bake the page with the API URL users can reach")
	}
	where := redact(api.root)
	if f.status < 200 || f.status > 299 {
		return fail(IDAPIRoot, fmt.Sprintf("Studio's first request, GET %s/, answered %d; Studio then shows its instance-URL form", strings.TrimRight(where, "/"), f.status),
			rootProbeFix(pg, api))
	}
	if sameOrigin(api.root, mustParse(pg.origin)) {
		return pass(IDAPIRoot, fmt.Sprintf("%s answered %d (same origin as the site)", where, f.status))
	}
	acao := f.header.Get("Access-Control-Allow-Origin")
	if acao != "*" && acao != pg.origin {
		return fail(IDAPIRoot, fmt.Sprintf("%s answered %d but Access-Control-Allow-Origin is %s for Origin %s: the browser hides the answer",
			where, f.status, quoteOrNone(acao), pg.origin), corsFix(pg.origin))
	}
	return pass(IDAPIRoot, fmt.Sprintf("%s answered %d, Access-Control-Allow-Origin %s", where, f.status, acao))
}

func quoteOrNone(s string) string {
	if s == "" {
		return "absent"
	}
	return fmt.Sprintf("%q", s)
}

// corsProblems checks an answer to a credentialed request from origin.
func corsProblems(h http.Header, origin string) []string {
	var out []string
	if acao := h.Get("Access-Control-Allow-Origin"); acao != origin {
		out = append(out, fmt.Sprintf("Access-Control-Allow-Origin is %s, want exactly %q", quoteOrNone(acao), origin))
	}
	if acac := h.Get("Access-Control-Allow-Credentials"); acac != "true" {
		out = append(out, fmt.Sprintf("Access-Control-Allow-Credentials is %s, want \"true\"", quoteOrNone(acac)))
	}
	return out
}

func (c *checker) preflightItem(ctx context.Context, pg *page, api apiTarget) Item {
	target := api.url("/auth/capabilities")
	if sameOrigin(api.root, mustParse(pg.origin)) {
		return pass(IDAPIPreflight, "the API is on the site's origin: no preflight is sent")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodOptions, target, nil)
	if err != nil {
		return fail(IDAPIPreflight, err.Error(), corsFix(pg.origin))
	}
	req.Header.Set("Origin", pg.origin)
	req.Header.Set("Access-Control-Request-Method", "GET")
	req.Header.Set("Access-Control-Request-Headers", strings.Join(studioHeaders, ","))
	resp, err := c.client.Do(req)
	if err != nil {
		return failErr(IDAPIPreflight, newFetchError(err), "start the Mastra server")
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fail(IDAPIPreflight, fmt.Sprintf("OPTIONS %s answered %d", target, resp.StatusCode), corsFix(pg.origin))
	}
	problems := corsProblems(resp.Header, pg.origin)
	allowed := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers"))
	for _, h := range studioHeaders {
		if !contains(strings.Split(strings.ReplaceAll(allowed, " ", ""), ","), h) {
			problems = append(problems, fmt.Sprintf("Access-Control-Allow-Headers %s lacks %s", quoteOrNone(allowed), h))
		}
	}
	if len(problems) > 0 {
		return fail(IDAPIPreflight, "OPTIONS "+target+": "+strings.Join(problems, "; "),
			corsFix(pg.origin)+"; allowHeaders must include Content-Type and x-mastra-client-type")
	}
	return pass(IDAPIPreflight, fmt.Sprintf("OPTIONS %s answered %d for Origin %s with credentials allowed", target, resp.StatusCode, pg.origin))
}

func (c *checker) capabilitiesItem(ctx context.Context, pg *page, api apiTarget) (Item, *capabilities) {
	target := mustParse(api.url("/auth/capabilities"))
	f, err := c.get(ctx, target, http.Header{
		"Origin":               {pg.origin},
		"Content-Type":         {"application/json"},
		"X-Mastra-Client-Type": {"studio"},
	})
	if err != nil {
		return failErr(IDAPICaps, err, "start the Mastra server"), nil
	}
	where := "GET " + redact(target)
	same := sameOrigin(target, mustParse(pg.origin))
	fix := "check MASTRA_API_PREFIX of the bake: it must match the server's apiPrefix (default /api)"
	if same {
		fix = "the site must forward " + api.prefix + "/ to the Mastra server: bake with --api-origin URL_OF_THE_MASTRA_SERVER and deploy its edge configuration (serve: --api URL)"
	}
	if f.status != http.StatusOK {
		return fail(IDAPICaps, fmt.Sprintf("%s answered %d", where, f.status), fix), nil
	}
	var caps capabilities
	if err := json.Unmarshal(f.body, &caps); err != nil {
		detail := where + " did not answer JSON"
		if looksLikeIndex(f.body) {
			detail += " but Studio's index.html: the API prefix is routed to the page, not the server"
		}
		return fail(IDAPICaps, detail, fix), nil
	}
	if same {
		return pass(IDAPICaps, where+" answered 200 (same origin as the site)"), &caps
	}
	if problems := corsProblems(f.header, pg.origin); len(problems) > 0 {
		return fail(IDAPICaps, where+": "+strings.Join(problems, "; ")+"; Studio cannot log in or load", corsFix(pg.origin)), &caps
	}
	return pass(IDAPICaps, where+" answered 200 with Access-Control-Allow-Origin "+pg.origin+" and credentials"), &caps
}

// mixedContent: an https page may not fetch http URLs, except loopback
// ones, which browsers treat as potentially trustworthy.
func mixedContent(pg *page, api *url.URL) bool {
	if pg.url.Scheme != "https" || api.Scheme != "http" {
		return false
	}
	h := api.Hostname()
	return h != "localhost" && !strings.HasSuffix(h, ".localhost") && !strings.HasPrefix(h, "127.") && h != "::1"
}
