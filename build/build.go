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
	site, m, err := bake(ctx, o, warn)
	if err != nil {
		return nil, err
	}
	if err := writeOutput(ctx, out, site, m, o); err != nil {
		return nil, err
	}
	r := &Result{Out: out, Site: filepath.Join(out, SiteDir), Files: len(m.Files), Warnings: warnings, Manifest: m}
	for _, f := range m.Files {
		r.Bytes += f.Size
	}
	r.Duration = time.Since(start)
	return r, nil
}

// bake reads the tree and returns the site's files (by output path) and the
// manifest describing them. Nothing is written yet.
func bake(ctx context.Context, o Options, warn func(string)) (map[string][]byte, *Manifest, error) {
	if w, err := checkVersion(o.Source.Version); err != nil {
		return nil, nil, err
	} else if w != "" {
		warn(w)
	}
	files, err := readTree(o.Source.Dir)
	if err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	var entry *srcFile
	for _, f := range files {
		if f.rel == EntryFile {
			entry = f
		}
	}
	if entry == nil {
		return nil, nil, fmt.Errorf("studio tree %s: no index.html", o.Source.Dir)
	}
	layout, err := detectLayout(entry.data, o.BasePath)
	if err != nil {
		return nil, nil, fmt.Errorf("studio tree %s: %w", o.Source.Dir, err)
	}
	m := &Manifest{
		Schema: ManifestSchema, Studiobake: o.Version, BasePath: o.BasePath,
		Studio:      StudioInfo{Version: o.Source.Version, Origin: o.Source.Origin, Layout: layout},
		APIEndpoint: o.APIEndpoint, APIOrigin: o.APIOrigin, TelemetryEnabled: o.TelemetryEnabled,
		Config: o.Values, Entry: EntryFile, Routes: []string{},
	}
	site, err := assemble(files, entry, m, o, warn)
	return site, m, err
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

// assemble fingerprints, fills and describes every file.
func assemble(files []*srcFile, entry *srcFile, m *Manifest, o Options, warn func(string)) (map[string][]byte, error) {
	renamed, keep := planNames(files)
	site := make(map[string][]byte, len(files)+1)
	byPath := make(map[string]*File, len(files)+1)
	m.Files = make([]File, 0, len(files)+1)
	descs := make([]File, len(files))
	err := parallel(len(files), func(i int) error {
		f := files[i]
		if f == entry {
			return nil
		}
		cache := Immutable
		if keep[f.rel] {
			cache = Revalidate
		}
		name := f.rel
		if to, ok := renamed[f.rel]; ok {
			name = to
		}
		descs[i] = describe(name, f.data, cache)
		if to, ok := renamed[f.rel]; ok {
			descs[i].Original, descs[i].Path = f.rel, to
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, f := range files {
		if f == entry {
			continue
		}
		site[descs[i].Path] = f.data
		m.Files = append(m.Files, descs[i])
		if f.rel == RoutesManifest {
			m.Routes = parseRoutes(f.data, warn)
		}
	}
	for i := range m.Files {
		byPath[m.Files[i].Path] = &m.Files[i]
	}
	page, err := bakePage(entry.data, renamed, byPath, o, warn)
	if err != nil {
		return nil, err
	}
	site[EntryFile] = page
	m.Files = append(m.Files, describe(EntryFile, page, Revalidate))
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Path < m.Files[j].Path })
	return site, nil
}

// bakePage fills index.html and points it at the fingerprinted files.
func bakePage(page []byte, renamed map[string]string, files map[string]*File, o Options, warn func(string)) ([]byte, error) {
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
	out, err := rewriteRefs(fill.HTML, o.BasePath, renamed, files)
	if err != nil {
		return nil, err
	}
	if left := tokenRE.Find(out); left != nil {
		return nil, fmt.Errorf("index.html: placeholder %s left after baking", left)
	}
	return out, nil
}

func parseRoutes(data []byte, warn func(string)) []string {
	var routes []string
	if err := json.Unmarshal(data, &routes); err != nil {
		warn(fmt.Sprintf("%s is not a JSON list of route names (%v): deep links are routed by extension only", RoutesManifest, err))
		return []string{}
	}
	sort.Strings(routes)
	return routes
}

func writeFile(p string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, data, 0o644)
}
