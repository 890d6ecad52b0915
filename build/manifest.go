package build

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/studiobake/studiobake/env"
)

// Layout of a bake output directory (--out, default "dist"):
//
//	dist/
//	  site/           the files to host: upload this, and only this
//	  manifest.json   what is in site/, how to cache it, and how it was made
//	  edge/<host>/    edge functions and host configuration (build --edge)
//	  netlify/        build --edge netlify: the folder Netlify deploys as it is
//	  cloudflare/     build --edge cloudflare: the folder Cloudflare Pages deploys
//
// The manifest stays beside the site so that it is never served unless the
// user asks for it (--public-manifest also copies it into site/).
const (
	SiteDir        = "site"
	ManifestFile   = "manifest.json"
	EdgeDir        = "edge"
	PublicManifest = "studiobake-manifest.json"
	ManifestSchema = 1
	EntryFile      = "index.html"
	RoutesManifest = "routes-manifest.json"
	// RefreshEvents is the dev server's live-reload endpoint, relative to the
	// base path. The baked page never calls it; edge gates answer it with 204.
	RefreshEvents = "/refresh-events"
	// StateDir is where publish keeps its release records, under the publish
	// prefix (e.g. agents/_studiobake/releases/...). Edge gates answer 404 for
	// it so that release records are never served.
	StateDir = "_studiobake"
)

// DeployDirs are the ready folders of hosts that publish a directory as it
// is: the site under its base path with the host's rules files beside it
// (templates writes them; a bake owns them like site/ and edge/).
var DeployDirs = []string{"netlify", "cloudflare"}

// bakeEntries are the top-level entries a bake may hold.
func bakeEntries() []string {
	return append([]string{SiteDir, ManifestFile, EdgeDir}, DeployDirs...)
}

// CacheClass says how a CDN may cache a file.
type CacheClass string

const (
	// Immutable files carry a content hash in their name: cache them for a year.
	Immutable CacheClass = "immutable"
	// Revalidate files keep their name across bakes (index.html): revalidate every time.
	Revalidate CacheClass = "revalidate"
)

// CacheControl is the Cache-Control header for the class; publish, serve and
// the host configurations of the edge templates all use it.
func (c CacheClass) CacheControl() string {
	if c == Immutable {
		return "public, max-age=31536000, immutable"
	}
	return "public, max-age=0, must-revalidate"
}

// Manifest describes one bake. publish, serve, check and the edge templates
// read it; its JSON form is stable (schema 1).
type Manifest struct {
	Schema     int        `json:"schema"`
	Studiobake string     `json:"studiobakeVersion"`
	Studio     StudioInfo `json:"studio"`
	// BasePath is where the site is served: "" (the root) or "/agents".
	BasePath string `json:"basePath"`
	// APIEndpoint is what the page calls, e.g. "https://api.example.com:443/api";
	// with MASTRA_AUTO_DETECT_URL it starts with "(page origin)".
	APIEndpoint string `json:"apiEndpoint"`
	// APIOrigin is the origin of the API ("" when it is the page's own origin).
	APIOrigin string `json:"apiOrigin"`
	// API says how the page reaches the Mastra API and what every edge
	// output must do for it (forward the prefix, answer the root probe).
	API API `json:"api"`
	// TelemetryEnabled is true when the page may send telemetry.
	TelemetryEnabled bool `json:"telemetryEnabled"`
	// Config is the resolved configuration written into the page, by variable
	// name (MASTRA_SERVER_HOST...). It holds placeholder values only.
	Config map[string]string `json:"config"`
	// Routes are Studio's top-level route segments (routes-manifest.json),
	// empty for Studio versions that do not ship one.
	Routes []string `json:"routes"`
	// Entry is the SPA's entry page, relative to site/.
	Entry string `json:"entry"`
	// Files lists every file under site/, sorted by Path, except the
	// precompressed variants, which are listed under the file they encode.
	Files []File `json:"files"`
	// Precompress is the level the variants were made at: "best", "fast",
	// or "off" (no variants).
	Precompress string `json:"precompress,omitempty"`
}

// API is how the page reaches the Mastra API; env resolves it with the rest
// of the configuration (see env.API).
type API = env.API

// APIMode is env.APIMode; the constants are repeated here for readers of
// the manifest.
type APIMode = env.APIMode

const (
	APIDirect     = env.APIDirect
	APISameOrigin = env.APISameOrigin
	APIOneOrigin  = env.APIOneOrigin
)

// StudioInfo says which Studio tree was baked.
type StudioInfo struct {
	Version string `json:"version"` // "1.31.0", or "" when unknown
	Origin  string `json:"origin"`  // "npm mastra@1.31.0", "dir ./x", "node_modules ..."
	Layout  string `json:"layout"`  // "studio" (1.x, <base href>) or "playground" (0.18)
}

// File is one file of the site.
type File struct {
	Path        string     `json:"path"` // slash-separated, relative to site/
	Size        int64      `json:"size"`
	SHA256      string     `json:"sha256"` // hex
	ContentType string     `json:"contentType"`
	Cache       CacheClass `json:"cache"`
	// Integrity is an SRI string: "sha384-..." for files index.html loads
	// with an integrity attribute, "sha256-..." (the content digest) for the rest.
	Integrity string `json:"integrity"`
	Original  string `json:"original,omitempty"` // name in the Studio tree when renamed
	// Variants are the file's precompressed copies, in Encodings order. A
	// file has all of them or none.
	Variants []Variant `json:"variants,omitempty"`
}

// Variant is a precompressed copy of a file, beside it in site/ (Path is the
// file's path plus ".br" or ".gz"). Served with Content-Encoding to viewers
// that accept it, it decodes to the file's exact bytes, so the file's
// Content-Type, cache class and integrity apply to it unchanged.
type Variant struct {
	Encoding string `json:"encoding"` // the Content-Encoding: "br" or "gzip"
	Path     string `json:"path"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"` // hex, of the compressed bytes
}

// Variant returns the variant stored at path and the file it encodes, or
// nils.
func (m *Manifest) Variant(path string) (*File, *Variant) {
	for _, e := range Encodings {
		if orig, ok := strings.CutSuffix(path, e.Ext); ok {
			if f := m.File(orig); f != nil {
				for i := range f.Variants {
					if f.Variants[i].Path == path {
						return f, &f.Variants[i]
					}
				}
			}
		}
	}
	return nil, nil
}

// File returns the entry for path, or nil.
func (m *Manifest) File(path string) *File {
	for i := range m.Files {
		if m.Files[i].Path == path {
			return &m.Files[i]
		}
	}
	return nil
}

// ReadManifest reads dir/manifest.json of a bake output directory.
func ReadManifest(dir string) (*Manifest, error) {
	p := filepath.Join(dir, ManifestFile)
	b, err := os.ReadFile(p)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("%s is not a studiobake output: no %s (run studiobake build first)", dir, ManifestFile)
		}
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	if m.Schema != ManifestSchema {
		return nil, fmt.Errorf("read %s: manifest schema %d, this studiobake reads schema %d", p, m.Schema, ManifestSchema)
	}
	if m.API.Mode == "" {
		// Bakes from before the field: the endpoint tells the mode.
		m.API.Mode = APIDirect
		if m.APIOrigin == "" && strings.HasPrefix(m.APIEndpoint, "(page origin)") {
			m.API.Mode = APISameOrigin
		}
		m.API.Prefix = m.Config["MASTRA_API_PREFIX"]
	}
	return &m, nil
}

// encode is the manifest's canonical form: indented, sorted keys, final newline.
func (m *Manifest) encode() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
