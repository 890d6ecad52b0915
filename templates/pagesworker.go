package templates

import (
	_ "embed"
	"encoding/json"
	"fmt"

	"github.com/studiobake/studiobake/build"
)

// Files Cloudflare Pages reads in one-origin mode, beside _headers and
// _redirects: Pages cannot forward a path to another host with rules
// files, so a worker (Pages' "advanced mode") forwards the API prefix, and
// _routes.json runs it only where it is needed: Studio's files stay plain
// static requests, served with _headers and _redirects and free of worker
// invocations.
const (
	PagesWorkerFile = "_worker.js"
	PagesRoutesFile = "_routes.json"
)

//go:embed pages/worker.js
var pagesWorkerJS string

// pagesWorker is _worker.js: the settings as constants, then the code.
func pagesWorker(m *build.Manifest) []byte {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	head := fmt.Sprintf("// %s: Cloudflare Pages advanced mode.\n"+
		"// The Mastra API goes to its server; Studio's files are Pages' static assets.\n"+
		"const UPSTREAM = %s;\nconst PREFIX = %s;\nconst BASE = %s;\n\n",
		generatedBy, q(m.API.Upstream), q(m.API.Prefix), q(m.BasePath))
	return []byte(head + pagesWorkerJS)
}

// pagesRoutes is _routes.json: the paths the worker answers.
func pagesRoutes(m *build.Manifest) []byte {
	include := []string{m.API.Prefix + "/*", m.BasePath + build.RefreshEvents}
	if m.BasePath != "" {
		include = append(include, "/")
	}
	routes := struct {
		Version int      `json:"version"`
		Include []string `json:"include"`
		Exclude []string `json:"exclude"`
	}{1, include, []string{}}
	b, _ := json.MarshalIndent(routes, "", "  ")
	return append(b, '\n')
}
