// Package build bakes a Mastra Studio tree into a CDN-ready directory: it
// copies every file, fills index.html's placeholders and base path, gives
// every asset a content-hashed name, adds subresource integrity, and writes a
// manifest. It knows nothing of the command line.
package build

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// Options configure one bake.
type Options struct {
	Source *Source // from FindSource
	Out    string  // output directory (default "dist")

	// Values are the page's placeholder values by variable name
	// (MASTRA_SERVER_HOST ...), already validated; BasePath is the normalised
	// base path ("" or "/agents"). The rest describes the API for the manifest.
	Values           map[string]string
	BasePath         string
	APIEndpoint      string
	APIOrigin        string
	API              API
	TelemetryEnabled bool

	Strict         bool // an unknown placeholder is an error, not a warning
	Force          bool // replace a non-empty output directory that is not an earlier bake
	PublicManifest bool // also serve the manifest, as site/studiobake-manifest.json
	Version        string

	// Finish runs on the complete bake in its temporary directory, before it
	// replaces Out (edge output is written here), so that its failure leaves
	// the previous output untouched.
	Finish func(dir string, m *Manifest) error
	// Warn receives warnings, one line each.
	Warn func(string)
}

// Result describes a finished bake.
type Result struct {
	Out      string        `json:"out"`
	Site     string        `json:"site"`
	Files    int           `json:"files"`
	Bytes    int64         `json:"bytes"`
	Duration time.Duration `json:"durationNs"`
	Warnings []string      `json:"warnings"`
	Manifest *Manifest     `json:"-"`
}

// Run bakes o.Source into o.Out.
func Run(ctx context.Context, o Options) (*Result, error) {
	start := time.Now()
	if o.Out == "" {
		o.Out = "dist"
	}
	var warnings []string
	warn := func(s string) {
		warnings = append(warnings, s)
		if o.Warn != nil {
			o.Warn(s)
		}
	}
	out, err := checkOutput(o.Out, o.Source.Dir, o.Force)
	if err != nil {
		return nil, err
	}
	if w, err := checkVersion(o.Source.Version); err != nil {
		return nil, err
	} else if w != "" {
		warn(w)
	}
	m, err := writeOutput(ctx, out, o, warn)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("bake interrupted, %s left as it was: %w", o.Out, ctx.Err())
		}
		return nil, err
	}
	r := &Result{Out: out, Site: filepath.Join(out, SiteDir), Files: len(m.Files), Warnings: warnings, Manifest: m}
	for _, f := range m.Files {
		r.Bytes += f.Size
	}
	r.Duration = time.Since(start)
	return r, nil
}

// bake copies the Studio tree into site, fingerprinted and filled, and
// returns the manifest describing it.
func bake(ctx context.Context, site string, o Options, warn func(string)) (*Manifest, error) {
	rels, err := listTree(o.Source.Dir)
	if err != nil {
		return nil, err
	}
	entry, err := os.ReadFile(filepath.Join(o.Source.Dir, EntryFile))
	if err != nil {
		return nil, fmt.Errorf("studio tree %s: no index.html", o.Source.Dir)
	}
	layout, err := detectLayout(entry, o.BasePath)
	if err != nil {
		return nil, fmt.Errorf("studio tree %s: %w", o.Source.Dir, err)
	}
	m := &Manifest{
		Schema: ManifestSchema, Studiobake: o.Version, BasePath: o.BasePath,
		Studio:      StudioInfo{Version: o.Source.Version, Origin: o.Source.Origin, Layout: layout},
		APIEndpoint: o.APIEndpoint, APIOrigin: o.APIOrigin, API: o.API, TelemetryEnabled: o.TelemetryEnabled,
		Config: o.Values, Entry: EntryFile, Routes: []string{},
	}
	c, err := copyTree(ctx, o.Source.Dir, site, rels)
	if err != nil {
		return nil, err
	}
	if data, ok := c.held[RoutesManifest]; ok {
		if m.Routes, err = parseRoutes(data, warn); err != nil {
			return nil, err
		}
	}
	if err := checkAPIPrefix(o.API, o.BasePath, m.Routes, rels); err != nil {
		return nil, err
	}
	renamed, err := c.fingerprint(site)
	if err != nil {
		return nil, err
	}
	byPath := make(map[string]*File, len(c.files))
	for i := range c.files {
		byPath[c.files[i].Path] = &c.files[i]
	}
	sri := func(f *File) (string, error) { return sriFor(site, f) }
	page, err := bakePage(entry, renamed, byPath, sri, o, warn)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(site, EntryFile), page, 0o644); err != nil {
		return nil, err
	}
	m.Files = append(c.files, describe(EntryFile, page, Revalidate))
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Path < m.Files[j].Path })
	return m, nil
}

// detectLayout tells 1.x trees (a <base href> filled with the base path) from
// 0.18 ones (absolute /assets/ links, no <base>), which can only be served
// from the root of a site.
func detectLayout(page []byte, basePath string) (string, error) {
	if !tokenRE.Match(page) {
		return "", fmt.Errorf("index.html has no %%%%MASTRA_*%%%% placeholders: not a Studio tree, or already baked")
	}
	if bytes.Contains(page, []byte("%%MASTRA_STUDIO_BASE_PATH%%")) {
		return "studio", nil
	}
	if basePath != "" {
		return "", fmt.Errorf("invalid MASTRA_STUDIO_BASE_PATH %q: this Studio (mastra 0.18, dist/playground) can only be served from the site root; use mastra 1.0 or later for a base path", basePath)
	}
	return "playground", nil
}

// bakePage fills index.html and points it at the fingerprinted files.
func bakePage(page []byte, renamed map[string]string, files map[string]*File, sri func(*File) (string, error), o Options, warn func(string)) ([]byte, error) {
	fill, err := FillPage(page, o.Values)
	if err != nil {
		return nil, err
	}
	if len(fill.Unknown) > 0 {
		names := strings.Join(fill.Unknown, ", ")
		if o.Strict {
			return nil, fmt.Errorf("index.html has placeholders studiobake does not know: %s (--strict)", names)
		}
		warn("index.html has placeholders studiobake does not know, filled with \"\": " + names)
	}
	out, err := rewriteRefs(fill.HTML, o.BasePath, renamed, files, sri)
	if err != nil {
		return nil, err
	}
	if left := tokenRE.Find(out); left != nil {
		return nil, fmt.Errorf("index.html: placeholder %s left after baking", left)
	}
	return out, nil
}

// routeRE is what a Studio route segment looks like. Routes end up in edge
// code and host configuration (nginx locations, _redirects rules), so
// anything else is refused here, once, for every consumer.
var routeRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._~-]*$`)

func parseRoutes(data []byte, warn func(string)) ([]string, error) {
	var routes []string
	if err := json.Unmarshal(data, &routes); err != nil {
		warn(fmt.Sprintf("%s is not a JSON list of route names (%v): deep links are routed by extension only", RoutesManifest, err))
		return []string{}, nil
	}
	for _, r := range routes {
		if !routeRE.MatchString(r) {
			return nil, fmt.Errorf("studio tree: %s lists route %q, which is not a path segment (letters, digits, -._~)", RoutesManifest, r)
		}
	}
	sort.Strings(routes)
	return routes, nil
}

// checkAPIPrefix refuses an API prefix on the page's origin that would
// swallow Studio's own files or routes: the host forwards everything under
// the prefix to the Mastra server, so /agents as a prefix at the site root
// would send Studio's agents page there.
func checkAPIPrefix(a API, basePath string, routes, rels []string) error {
	if !a.SameOrigin() || basePath != "" {
		return nil // a prefix against a base path is checked with the settings
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(a.Prefix, "/"), "/")
	if slices.Contains(routes, first) {
		return fmt.Errorf("invalid MASTRA_API_PREFIX %q: /%s is a Studio page (%s) and the API is on the page's origin; choose another prefix (e.g. /api) or a base path", a.Prefix, first, RoutesManifest)
	}
	for _, rel := range rels {
		if top, _, _ := strings.Cut(rel, "/"); top == first {
			return fmt.Errorf("invalid MASTRA_API_PREFIX %q: /%s is a file of the Studio tree and the API is on the page's origin; choose another prefix (e.g. /api) or a base path", a.Prefix, first)
		}
	}
	return nil
}

func writeFile(p string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, data, 0o644)
}
