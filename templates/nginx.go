package templates

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/studiobake/studiobake/build"
)

// nginxFiles writes studio.conf, a server block that routes like the
// CloudFront gate (without its auth; use nginx's own auth_basic or allow).
func nginxFiles(m *build.Manifest, headers map[string]string) (map[string][]byte, error) {
	for _, kv := range sortedHeaders(headers) {
		if strings.ContainsAny(kv[1], "\"$\\\n") {
			return nil, fmt.Errorf("header %s has characters nginx would interpret: %q", kv[0], kv[1])
		}
	}
	return map[string][]byte{"studio.conf": nginxConf(m, headers)}, nil
}

// nginxConf builds the server block. add_header in a location replaces
// every add_header inherited from the server, so each location repeats
// the security headers with its own Cache-Control.
func nginxConf(m *build.Manifest, headers map[string]string) []byte {
	base := m.BasePath
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	sec := func(cache string) {
		for _, kv := range sortedHeaders(headers) {
			w("        add_header %s \"%s\" always;\n", kv[0], kv[1])
		}
		w("        add_header Cache-Control \"%s\" always;\n", cache)
	}
	rev := build.Revalidate.CacheControl()
	w("# %s.\n", generatedBy)
	w("# Copy site/ to /srv/studio%s/ (or change root). TLS, server_name and access\n", base)
	w("# control (auth_basic, allow/deny) are yours to add.\nserver {\n    listen 80;\n    root /srv/studio;\n\n")
	if base != "" {
		w("    location = %s {\n        return 301 %s/$is_args$args;\n    }\n\n", base, base)
	}
	w("    # The page's dev-reload endpoint: answer once, cheaply.\n")
	w("    location = %s%s {\n        add_header Cache-Control \"no-store\" always;\n        return 204;\n    }\n\n", base, build.RefreshEvents)
	w("    # Release records of studiobake publish are never served.\n")
	w("    location ^~ %s/%s {\n        return 404;\n    }\n\n", base, build.StateDir)
	for _, r := range cacheRules(m) {
		if r.Class == build.Revalidate {
			continue // the generic locations below revalidate
		}
		if r.Dir {
			w("    location ^~ %s/%s/ {\n", base, r.Path)
		} else {
			w("    location = %s/%s {\n", base, r.Path)
		}
		sec(r.Class.CacheControl())
		w("        try_files $uri =404;\n    }\n\n")
	}
	if routes := gateRoutes(m); len(routes) > 0 {
		quoted := make([]string, len(routes))
		for i, r := range routes {
			quoted[i] = regexp.QuoteMeta(r)
		}
		w("    # Studio's routes are deep links, even with a dotted id (agents/gpt-4.1).\n")
		w("    location ~ ^%s/(?:%s)(?:/|$) {\n", regexp.QuoteMeta(base), strings.Join(quoted, "|"))
		sec(rev)
		w("        try_files %s/index.html =404;\n    }\n\n", base)
	}
	w("    # A dotted last segment is a file: serve it or 404, never index.html.\n")
	w("    location ~ ^%s/(?:.*/)?[^/]*\\.[^/]*$ {\n", regexp.QuoteMeta(base))
	sec(rev)
	w("        try_files $uri =404;\n    }\n\n")
	w("    location %s/ {\n", base)
	sec(rev)
	w("        try_files $uri %s/index.html;\n    }\n", base)
	if base != "" {
		w("\n    location / {\n        return 404;\n    }\n")
	}
	w("}\n")
	return []byte(b.String())
}
