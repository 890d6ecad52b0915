package templates

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/studiobake/studiobake/build"
)

// Header names in the order hosts should emit them.
const (
	HeaderCSP            = "Content-Security-Policy"
	HeaderHSTS           = "Strict-Transport-Security"
	HeaderNoSniff        = "X-Content-Type-Options"
	HeaderReferrerPolicy = "Referrer-Policy"
	HeaderFrameOptions   = "X-Frame-Options"
)

const (
	hstsMaxAge     = 31536000
	referrerPolicy = "strict-origin-when-cross-origin"
	// maxCSPLength is CloudFront's limit on the Content-Security-Policy value
	// of a response headers policy.
	maxCSPLength = 1783
)

// Telemetry hosts, from Studio 1.31.0's bundle: PostHog is initialised with
// api_host https://us.posthog.com, which its request router maps to
// https://us.i.posthog.com for events, keeps for feature flags, and to
// https://us-assets.i.posthog.com for the scripts it loads on demand.
var (
	telemetryConnect = []string{"https://us.i.posthog.com", "https://us.posthog.com", "https://us-assets.i.posthog.com"}
	telemetryScript  = []string{"https://us-assets.i.posthog.com"}
)

// HeaderNames lists the headers SecurityHeaders returns, in a stable order.
var HeaderNames = []string{HeaderCSP, HeaderHSTS, HeaderNoSniff, HeaderReferrerPolicy, HeaderFrameOptions}

// SecurityHeaders computes the security headers for a bake from its baked
// entry page (siteDir/m.Entry) and the manifest.
func SecurityHeaders(m *build.Manifest, siteDir string) (map[string]string, error) {
	csp, err := ContentSecurityPolicy(m, siteDir)
	if err != nil {
		return nil, err
	}
	return map[string]string{
		HeaderCSP:            csp,
		HeaderHSTS:           fmt.Sprintf("max-age=%d", hstsMaxAge),
		HeaderNoSniff:        "nosniff",
		HeaderReferrerPolicy: referrerPolicy,
		HeaderFrameOptions:   "DENY",
	}, nil
}

// ContentSecurityPolicy allows the page's own files, each inline script of
// the baked entry page by hash, the API origin and, only while telemetry is
// on, PostHog. Eval is allowed only when the bundle uses it: Studio 1.31
// compiles JSON-schema validators with new Function (ajv) and runs Shiki's
// WebAssembly highlighter, and a CSP that blocks them breaks those pages.
func ContentSecurityPolicy(m *build.Manifest, siteDir string) (string, error) {
	entry := m.Entry
	if entry == "" {
		entry = build.EntryFile
	}
	page, err := os.ReadFile(filepath.Join(siteDir, filepath.FromSlash(entry)))
	if err != nil {
		return "", fmt.Errorf("content security policy: %w", err)
	}
	script := []string{"'self'"}
	script = append(script, InlineScriptHashes(page)...)
	evalSrc, wasm, err := bundleNeeds(m, siteDir)
	if err != nil {
		return "", err
	}
	if evalSrc {
		script = append(script, "'unsafe-eval'")
	}
	if wasm {
		script = append(script, "'wasm-unsafe-eval'")
	}
	connect := []string{"'self'"}
	if m.APIOrigin != "" {
		connect = append(connect, cspOrigin(m.APIOrigin))
	}
	for _, f := range featureConnect {
		if m.Config[f.name] == "true" {
			connect = append(connect, f.origin)
		}
	}
	if m.TelemetryEnabled {
		connect = append(connect, telemetryConnect...)
		script = append(script, telemetryScript...)
	}
	csp := strings.Join([]string{
		"default-src 'self'",
		"script-src " + strings.Join(script, " "),
		"style-src 'self' 'unsafe-inline'",
		"img-src 'self' data: blob: https:",
		"font-src 'self' data:",
		"connect-src " + strings.Join(connect, " "),
		"worker-src 'self' blob:",
		"object-src 'none'",
		"base-uri 'self'",
		"form-action 'self'",
		"frame-ancestors 'none'",
	}, "; ")
	if len(csp) > maxCSPLength {
		return "", fmt.Errorf("content security policy is %d characters; CloudFront allows %d", len(csp), maxCSPLength)
	}
	return csp, nil
}

// featureConnect are origins the page fetches from only when a feature is on:
// the Templates page loads its list from mastra.ai.
var featureConnect = []struct{ name, origin string }{
	{"MASTRA_TEMPLATES", "https://mastra.ai"},
}

// cspOrigin drops a default port (the page calls https://host:443 because
// Studio needs the port spelled out; the policy reads better without it and
// matches the same requests).
func cspOrigin(origin string) string {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return origin
	}
	if (u.Scheme == "https" && u.Port() == "443") || (u.Scheme == "http" && u.Port() == "80") {
		u.Host = u.Hostname()
		if strings.Contains(u.Host, ":") {
			u.Host = "[" + u.Host + "]"
		}
	}
	return u.Scheme + "://" + u.Host
}

// InlineScriptHashes are the 'sha256-...' sources of the page's inline
// scripts, in page order, hashed over their exact text as browsers do.
func InlineScriptHashes(page []byte) []string {
	var out []string
	seen := map[string]bool{}
	for _, script := range build.InlineScripts(page) {
		if len(script) == 0 {
			continue
		}
		sum := sha256.Sum256(script)
		h := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
		if !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	return out
}

// bundleNeeds scans the bake's JavaScript for dynamic code: new Function
// (needs 'unsafe-eval') and WebAssembly (needs 'wasm-unsafe-eval').
func bundleNeeds(m *build.Manifest, siteDir string) (evalSrc, wasm bool, err error) {
	for _, f := range m.Files {
		if !strings.HasSuffix(f.Path, ".js") && !strings.HasSuffix(f.Path, ".mjs") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(siteDir, filepath.FromSlash(f.Path)))
		if err != nil {
			return false, false, fmt.Errorf("content security policy: %w", err)
		}
		evalSrc = evalSrc || bytes.Contains(b, []byte("new Function("))
		wasm = wasm || bytes.Contains(b, []byte("WebAssembly."))
	}
	return evalSrc, wasm, nil
}

// HeadersPolicy is a CloudFront ResponseHeadersPolicyConfig document, as
// `aws cloudfront create-response-headers-policy
// --response-headers-policy-config file://headers-policy.json` takes it. A
// response headers policy also applies to error responses, which a
// viewer-response function never sees.
func HeadersPolicy(m *build.Manifest, headers map[string]string) ([]byte, error) {
	type override struct {
		Override bool `json:"Override"`
	}
	name := "studiobake-studio" + strings.ReplaceAll(m.BasePath, "/", "-")
	doc := map[string]any{
		"Name":    policyName(name),
		"Comment": "Security headers for Mastra Studio, computed by studiobake from the baked index.html",
		"SecurityHeadersConfig": map[string]any{
			"ContentSecurityPolicy": map[string]any{"Override": true, "ContentSecurityPolicy": headers[HeaderCSP]},
			"ContentTypeOptions":    override{true},
			"FrameOptions":          map[string]any{"Override": true, "FrameOption": "DENY"},
			"ReferrerPolicy":        map[string]any{"Override": true, "ReferrerPolicy": headers[HeaderReferrerPolicy]},
			"StrictTransportSecurity": map[string]any{"Override": true, "AccessControlMaxAgeSec": hstsMaxAge,
				"IncludeSubdomains": false, "Preload": false},
		},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

var policyNameBad = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

func policyName(s string) string {
	s = policyNameBad.ReplaceAllString(s, "-")
	if len(s) > 128 {
		s = s[:128]
	}
	return s
}

// sortedHeaders returns headers in HeaderNames order, then any others sorted.
func sortedHeaders(h map[string]string) [][2]string {
	var out [][2]string
	known := map[string]bool{}
	for _, n := range HeaderNames {
		known[n] = true
		if v, ok := h[n]; ok {
			out = append(out, [2]string{n, v})
		}
	}
	var rest []string
	for n := range h {
		if !known[n] {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	for _, n := range rest {
		out = append(out, [2]string{n, h[n]})
	}
	return out
}
