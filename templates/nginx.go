package templates

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/studiobake/studiobake/build"
)

// NginxFile is the one file of edge/nginx/.
const NginxFile = "studio.conf"

// nginxFiles writes studio.conf: a Cache-Control map, the API upstream in
// one-origin mode, and a server block that routes like the CloudFront gate
// (without its auth; use nginx's own auth_basic or allow).
func nginxFiles(m *build.Manifest, headers map[string]string) (map[string][]byte, error) {
	for _, kv := range sortedHeaders(headers) {
		if strings.ContainsAny(kv[1], "\"$\\\n") {
			return nil, fmt.Errorf("header %s has characters nginx would interpret: %q", kv[0], kv[1])
		}
	}
	var up *url.URL
	if m.API.OneOrigin() {
		var err error
		if up, err = nginxUpstreamURL(m.API.Upstream); err != nil {
			return nil, err
		}
	}
	c := nginxConfig{m: m, headers: headers, upstream: up, suffix: nginxSuffix(m.BasePath)}
	return map[string][]byte{NginxFile: c.build()}, nil
}

func nginxUpstreamURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || strings.ContainsAny(u.Host, "\" ;{}$\\") {
		return nil, fmt.Errorf("manifest api.upstream %q is not an http(s) origin nginx can proxy to", s)
	}
	return u, nil
}

// nginxConfig writes studio.conf. nginx's add_header does not inherit into
// a location that sets its own, so the Studio headers are set once, on the
// location that holds every Studio path, and Cache-Control comes from a map
// by URI; the nested locations set none. Nesting also keeps Studio's regex
// locations from capturing any path outside the base, the API's included.
type nginxConfig struct {
	m        *build.Manifest
	headers  map[string]string
	upstream *url.URL // one-origin mode only
	suffix   string   // keeps map and upstream names apart per base path
	b        strings.Builder
}

func (c *nginxConfig) w(format string, a ...any) { fmt.Fprintf(&c.b, format, a...) }

func (c *nginxConfig) build() []byte {
	base := c.m.BasePath
	c.w("# %s.\n", generatedBy)
	c.w("# Include it in nginx's http block (e.g. as /etc/nginx/conf.d/studio.conf) and\n")
	c.w("# copy site/ to /srv/studio%s/ (or change root). TLS, server_name and access\n", base)
	c.w("# control are yours to add: auth_basic or allow/deny in the server block\n# cover every location, the API's too.\n\n")
	c.cacheMap()
	if c.upstream != nil {
		c.upstreamBlock()
	}
	c.w("server {\n    listen 80;\n    root /srv/studio;\n\n")
	c.api()
	if base != "" {
		if c.m.API.SameOrigin() {
			c.w("    # Studio first requests GET / on its own origin (its root probe) and shows\n")
			c.w("    # its \"Mastra instance URL\" form unless that answers 2xx.\n")
			c.w("    location = / {\n        default_type text/plain;\n        add_header Cache-Control \"no-store\" always;\n")
			c.w("        return 200 \"Mastra Studio is at %s/\\n\";\n    }\n\n", base)
		}
		c.w("    location = %s {\n        return 301 %s/$is_args$args;\n    }\n\n", base, base)
	}
	c.studio()
	if base != "" {
		c.w("\n    location / {\n        return 404;\n    }\n")
	}
	c.w("}\n")
	return []byte(c.b.String())
}

// cacheMap gives each Studio URI its Cache-Control: the bake's cache rules,
// no-store for the dev-reload endpoint, revalidate for the rest (index.html,
// which deep links are served).
func (c *nginxConfig) cacheMap() {
	base := c.m.BasePath
	c.w("# Cache-Control of Studio's files, by URI.\nmap $uri $studiobake_cache%s {\n", c.suffix)
	c.w("    default %s;\n", nginxQuote(build.Revalidate.CacheControl()))
	c.w("    %s \"no-store\";\n", nginxQuote(base+build.RefreshEvents))
	for _, r := range cacheRules(c.m) {
		if r.Class == build.Revalidate {
			continue
		}
		key := base + "/" + r.Path
		if r.Dir {
			key = "~^" + regexp.QuoteMeta(key+"/")
		}
		c.w("    %s %s;\n", nginxQuote(key), nginxQuote(r.Class.CacheControl()))
	}
	c.w("}\n\n")
}

func (c *nginxConfig) upstreamBlock() {
	port := c.upstream.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[c.upstream.Scheme]
	}
	host := c.upstream.Hostname()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	c.w("# The Mastra server the API goes to (nginx resolves the name when it starts).\n")
	c.w("upstream studiobake_api%s {\n    server %s:%s;\n    keepalive 16;\n}\n\n", c.suffix, host, port)
}

// api forwards the API prefix in one-origin mode; in same-origin mode it
// says where the user's own API location goes.
func (c *nginxConfig) api() {
	prefix := c.m.API.Prefix
	if !c.m.API.SameOrigin() {
		return
	}
	if c.upstream == nil {
		c.w("    # The page calls the Mastra API on this origin, under %s/: put your\n", prefix)
		c.w("    # location for it here (location %s/ { proxy_pass ...; }). Studio's\n", prefix)
		c.w("    # regex locations are nested under its own location and cannot capture it.\n\n")
		return
	}
	u := c.upstream
	c.w("    # The Mastra API, forwarded as requested. Agent answers stream as\n")
	c.w("    # server-sent events: nothing is buffered and a stream may stay open for an hour.\n")
	c.w("    location ^~ %s/ {\n        proxy_pass %s://studiobake_api%s;\n", prefix, u.Scheme, c.suffix)
	c.w("        proxy_http_version 1.1;\n        proxy_set_header Connection \"\";\n")
	c.w("        proxy_set_header Host %s;\n", u.Host)
	c.w("        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n")
	c.w("        proxy_set_header X-Forwarded-Host $http_host;\n        proxy_set_header X-Forwarded-Proto $scheme;\n")
	if u.Scheme == "https" {
		c.w("        proxy_ssl_server_name on;\n        proxy_ssl_name %s;\n", u.Hostname())
		c.w("        # nginx does not check the server's certificate unless told:\n")
		c.w("        # proxy_ssl_verify on; proxy_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;\n")
	}
	c.w("        proxy_buffering off;\n        proxy_read_timeout 1h;\n        proxy_send_timeout 1h;\n    }\n\n")
}

// studio is the location holding every Studio path, with the headers once
// and the special cases nested.
func (c *nginxConfig) studio() {
	base := c.m.BasePath
	qbase := regexp.QuoteMeta(base)
	if base == "" {
		c.w("    location / {\n")
	} else {
		c.w("    location ^~ %s/ {\n", base)
	}
	for _, kv := range sortedHeaders(c.headers) {
		c.w("        add_header %s \"%s\" always;\n", kv[0], kv[1])
	}
	c.w("        add_header Cache-Control $studiobake_cache%s;\n", c.suffix)
	c.w("        try_files $uri %s/index.html;\n\n", base)
	c.w("        # The page's dev-reload endpoint: answer once, cheaply.\n")
	c.w("        location = %s%s {\n            return 204;\n        }\n\n", base, build.RefreshEvents)
	c.w("        # Release records of studiobake publish are never served.\n")
	c.w("        location ^~ %s/%s {\n            return 404;\n        }\n\n", base, build.StateDir)
	if routes := gateRoutes(c.m); len(routes) > 0 {
		quoted := make([]string, len(routes))
		for i, r := range routes {
			quoted[i] = regexp.QuoteMeta(r)
		}
		c.w("        # Studio's routes are deep links, even with a dotted id (agents/gpt-4.1).\n")
		c.w("        location ~ ^%s/(?:%s)(?:/|$) {\n", qbase, strings.Join(quoted, "|"))
		c.w("            try_files %s/index.html =404;\n        }\n\n", base)
	}
	c.w("        # A dotted last segment is a file: serve it or 404, never index.html.\n")
	c.w("        location ~ ^%s/(?:.*/)?[^/]*\\.[^/]*$ {\n            try_files $uri =404;\n        }\n    }\n", qbase)
}

// nginxQuote quotes a map key or value.
func nginxQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

var nginxNameBad = regexp.MustCompile(`[^A-Za-z0-9_]+`)

// nginxSuffix names the map and upstream after the base path, so two bakes
// can live in one nginx: "" for the root, "_agents" for /agents.
func nginxSuffix(base string) string {
	if base == "" {
		return ""
	}
	return "_" + strings.Trim(nginxNameBad.ReplaceAllString(base, "_"), "_")
}
