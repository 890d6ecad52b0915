package templates

import (
	_ "embed"
	"encoding/json"
	"fmt"

	"github.com/studiobake/studiobake/build"
)

// Files Cloudflare Pages reads beside _headers and _redirects: rules files
// cannot answer 204 nor forward a path to another host, so a worker (Pages'
// "advanced mode") answers refresh-events and, in one-origin mode, forwards
// the API prefix and answers Studio's root probe; _routes.json runs it only
// on those paths: Studio's files stay plain static requests, served with
// _headers and _redirects and free of worker invocations.
const (
	PagesWorkerFile = "_worker.js"
	PagesRoutesFile = "_routes.json"
)

//go:embed pages/worker.js
var pagesWorkerJS string

// pagesWorker is _worker.js: the settings as constants, then the code.
// PREFIX is empty unless the bake is one-origin: then nothing is forwarded.
func pagesWorker(m *build.Manifest) []byte {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	upstream, prefix := "", ""
	if m.API.OneOrigin() {
		upstream, prefix = m.API.Upstream, m.API.Prefix
	}
	head := fmt.Sprintf("// %s: Cloudflare Pages advanced mode.\n"+
		"// _routes.json sends only its own paths here; Studio's files are Pages' static assets.\n"+
		"const UPSTREAM = %s;\nconst PREFIX = %s;\nconst BASE = %s;\n\n",
		generatedBy, q(upstream), q(prefix), q(m.BasePath))
	return []byte(head + pagesWorkerJS)
}

// pagesRoutes is _routes.json: the paths the worker answers.
func pagesRoutes(m *build.Manifest) []byte {
	include := []string{m.BasePath + build.RefreshEvents}
	if m.API.OneOrigin() {
		include = append([]string{m.API.Prefix + "/*"}, include...)
		if m.BasePath != "" {
			include = append(include, "/")
		}
	}
	routes := struct {
		Version int      `json:"version"`
		Include []string `json:"include"`
		Exclude []string `json:"exclude"`
	}{1, include, []string{}}
	b, _ := json.MarshalIndent(routes, "", "  ")
	return append(b, '\n')
}
