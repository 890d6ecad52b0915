package templates

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/studiobake/studiobake/build"
)

// testBake copies testdata/bake into a temporary bake directory and returns
// it with a manifest describing it.
func testBake(t *testing.T, basePath string, telemetry bool) (string, *build.Manifest) {
	t.Helper()
	dir := t.TempDir()
	m := &build.Manifest{Schema: build.ManifestSchema, BasePath: basePath, Entry: build.EntryFile,
		APIOrigin: "https://api.example.com", TelemetryEnabled: telemetry, Routes: []string{"agents", "tools", "workflows"}}
	src := filepath.Join("testdata", "bake", "site")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, build.SiteDir, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		class := build.Revalidate
		if strings.HasPrefix(filepath.ToSlash(rel), "assets/") {
			class = build.Immutable
		}
		m.Files = append(m.Files, build.File{Path: filepath.ToSlash(rel), Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:]), Cache: class})
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Path < m.Files[j].Path })
	return dir, m
}

// TestEdgeGolden compares every generated host file (except the compiled
// function, which the gate tests run) with testdata/golden. Regenerate with
// UPDATE_SNAPSHOTS=1 go test ./templates/ and review the diff.
func TestEdgeGolden(t *testing.T) {
	oneOrigin := build.API{Mode: build.APIOneOrigin, Prefix: "/api", Upstream: "https://mastra.internal.acme.com", Probe: "(page origin)/"}
	sameOrigin := build.API{Mode: build.APISameOrigin, Prefix: "/api", Probe: "(page origin)/"}
	variants := []struct {
		name      string
		base      string
		telemetry bool
		api       build.API // zero: direct, to https://api.example.com
	}{
		{"root", "", true, build.API{}},
		{"base-path", "/agents", false, build.API{}},
		{"one-origin", "/agents", false, oneOrigin},
		{"one-origin-root", "", false, oneOrigin},
		{"same-origin", "/agents", false, sameOrigin},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			dir, m := testBake(t, v.base, v.telemetry)
			if v.api.Mode != "" {
				m.API, m.APIOrigin = v.api, ""
			}
			files, err := EdgeFiles(dir, m, EdgeOptions{Hosts: Hosts})
			if err != nil {
				t.Fatal(err)
			}
			for name, got := range files {
				// The worker differs between bakes only in its first lines:
				// one golden copy is enough.
				if strings.HasSuffix(name, "/"+FunctionFile) || (strings.HasSuffix(name, "/"+PagesWorkerFile) && v.name != "one-origin") {
					continue
				}
				golden(t, filepath.Join("testdata", "golden", v.name, filepath.FromSlash(name)), got)
			}
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if os.Getenv("UPDATE_SNAPSHOTS") != "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with UPDATE_SNAPSHOTS=1 to create it)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs (UPDATE_SNAPSHOTS=1 regenerates it):\n%s", path, lineDiff(string(want), string(got)))
	}
}

// lineDiff shows the lines between the common head and tail, - for the
// golden file and + for the output.
func lineDiff(want, got string) string {
	a, b := strings.Split(want, "\n"), strings.Split(got, "\n")
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	j := 0
	for j < len(a)-i && j < len(b)-i && a[len(a)-1-j] == b[len(b)-1-j] {
		j++
	}
	var out strings.Builder
	fmt.Fprintf(&out, "@@ line %d\n", i+1)
	for _, l := range a[i : len(a)-j] {
		out.WriteString("- " + l + "\n")
	}
	for _, l := range b[i : len(b)-j] {
		out.WriteString("+ " + l + "\n")
	}
	return out.String()
}

func TestSecurityHeaders(t *testing.T) {
	dir, m := testBake(t, "/agents", true)
	h, err := SecurityHeaders(m, filepath.Join(dir, build.SiteDir))
	if err != nil {
		t.Fatal(err)
	}
	csp := h[HeaderCSP]
	page, _ := os.ReadFile(filepath.Join(dir, build.SiteDir, "index.html"))
	for _, script := range []string{"\n      window.MASTRA_SERVER_HOST = 'api.example.com';\n      window.MASTRA_SERVER_PORT = '443';\n      window.MASTRA_SERVER_PROTOCOL = 'https';\n    ",
		"document.documentElement.className = 'dark';"} {
		if !strings.Contains(string(page), script) {
			t.Fatalf("fixture page lacks %q", script)
		}
		sum := sha256.Sum256([]byte(script))
		if src := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, src) {
			t.Errorf("CSP lacks %s for %q", src, script)
		}
	}
	if n := strings.Count(csp, "'sha256-"); n != 2 {
		t.Errorf("CSP has %d hashes, want 2 (the module script has src)", n)
	}
	for _, part := range []string{"connect-src 'self' https://api.example.com https://us.i.posthog.com", "frame-ancestors 'none'", "base-uri 'self'", "'wasm-unsafe-eval'"} {
		if !strings.Contains(csp, part) {
			t.Errorf("CSP lacks %q: %s", part, csp)
		}
	}
	if strings.Contains(csp, "'unsafe-eval'") {
		t.Errorf("CSP allows eval though the bundle has no new Function: %s", csp)
	}
	m.TelemetryEnabled = false
	h, _ = SecurityHeaders(m, filepath.Join(dir, build.SiteDir))
	if strings.Contains(h[HeaderCSP], "posthog") {
		t.Errorf("telemetry off, CSP still allows PostHog: %s", h[HeaderCSP])
	}
	if h[HeaderNoSniff] != "nosniff" || !strings.HasPrefix(h[HeaderHSTS], "max-age=") || h[HeaderReferrerPolicy] == "" {
		t.Errorf("headers: %v", h)
	}
}

func TestCSPOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://api.example.com:443": "https://api.example.com",
		"http://localhost:4111":       "http://localhost:4111",
		"http://[::1]:80":             "http://[::1]",
		"https://api.example.com":     "https://api.example.com",
	} {
		if got := cspOrigin(in); got != want {
			t.Errorf("cspOrigin(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCSPFollowsTheBake: the connect-src of a one-origin bake is the page's
// own origin, and a feature that fetches elsewhere (Templates) adds exactly
// its origin.
func TestCSPFollowsTheBake(t *testing.T) {
	dir, m := testBake(t, "/agents", false)
	m.APIOrigin, m.API = "", build.API{Mode: build.APIOneOrigin, Prefix: "/api", Upstream: "https://mastra.internal"}
	cases := []struct {
		name    string
		config  map[string]string
		connect string
	}{
		{"one origin, no features", map[string]string{"MASTRA_TEMPLATES": "false"}, "connect-src 'self';"},
		{"templates on", map[string]string{"MASTRA_TEMPLATES": "true"}, "connect-src 'self' https://mastra.ai;"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m.Config = c.config
			csp, err := ContentSecurityPolicy(m, filepath.Join(dir, build.SiteDir))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(csp, c.connect) {
				t.Errorf("CSP lacks %q: %s", c.connect, csp)
			}
		})
	}
}
