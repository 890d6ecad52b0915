package env

import (
	"strings"
	"testing"
)

func TestAPIOrigin(t *testing.T) {
	for _, c := range []struct {
		desc, in, upstream string
	}{
		{"https origin, default port dropped", "https://mastra.internal.example.com:443", "https://mastra.internal.example.com"},
		{"http with a port", "http://127.0.0.1:4111", "http://127.0.0.1:4111"},
		{"trailing slash", "https://Mastra.Example.com/", "https://mastra.example.com"},
		{"IPv6", "http://[::1]:4111", "http://[::1]:4111"},
	} {
		t.Run(c.desc, func(t *testing.T) {
			cfg, warnings, err := Load(Sources{APIOrigin: c.in, Flags: map[string]string{nameBasePath: "/agents"}})
			if err != nil {
				t.Fatal(err)
			}
			want := API{Mode: APIOneOrigin, Prefix: "/api", Upstream: c.upstream, Probe: "(page origin)/"}
			if cfg.API != want || cfg.Values[nameAutoDetect] != "true" || cfg.Origins[nameAutoDetect] != originAPIOrigin {
				t.Fatalf("API = %+v, auto-detect %q (from %s); want %+v", cfg.API, cfg.Values[nameAutoDetect], cfg.Origins[nameAutoDetect], want)
			}
			if len(warnings) != 0 {
				t.Fatalf("warnings %q for a one-origin bake", warnings)
			}
		})
	}
}

// TestAPIOriginRefused: every bad --api-origin and every setting that one
// origin would silently override is one error naming both.
func TestAPIOriginRefused(t *testing.T) {
	for _, c := range []struct {
		desc, in, serverURL string
		flags               map[string]string
		environ             []string
		want                string
	}{
		{"relative", "mastra.internal", "", nil, nil, `invalid --api-origin "mastra.internal": want an absolute http:// or https:// URL`},
		{"other scheme", "ftp://mastra.internal", "", nil, nil, "want an absolute http:// or https:// URL"},
		{"a path", "https://gw.example.com/mastra", "", nil, nil, `invalid --api-origin "https://gw.example.com/mastra": a path is not allowed`},
		{"a query", "https://m.example.com?x=1", "", nil, nil, "a query (?...) is not allowed"},
		{"a fragment", "https://m.example.com#x", "", nil, nil, "a fragment (#...) is not allowed"},
		{"user info", "https://u:p@m.example.com", "", nil, nil, "user info (user:password@) is not allowed"},
		{"bad port", "https://m.example.com:99999", "", nil, nil, `invalid --api-origin "https://m.example.com:99999"`},
		{"no host", "https://", "", nil, nil, "no host"},
		{"with --server-url", "https://m.example.com", "https://api.example.com/api", nil, nil, "--api-origin https://m.example.com and --server-url \"https://api.example.com/api\" conflict"},
		{"with a host flag", "https://m.example.com", "", map[string]string{nameHost: "api.example.com"}, nil,
			`--api-origin https://m.example.com and MASTRA_SERVER_HOST "api.example.com" (from flag) conflict`},
		{"with a port in the environment", "https://m.example.com", "", nil, []string{"MASTRA_SERVER_PORT=8443"},
			`MASTRA_SERVER_PORT "8443" (from environment) conflict`},
		{"with a cloud endpoint", "https://m.example.com", "", map[string]string{nameCloudEndpoint: "https://cloud.example.com"}, nil,
			"MASTRA_CLOUD_API_ENDPOINT"},
		{"with auto-detect off", "https://m.example.com", "", map[string]string{nameAutoDetect: "false"}, nil,
			`MASTRA_AUTO_DETECT_URL "false" (from flag) conflict`},
		{"prefix equal to the base path", "https://m.example.com", "", map[string]string{nameBasePath: "/studio", namePrefix: "/studio"}, nil,
			`invalid MASTRA_API_PREFIX "/studio" (from flag): it collides with MASTRA_STUDIO_BASE_PATH "/studio" (from flag)`},
		{"prefix under the base path", "https://m.example.com", "", map[string]string{nameBasePath: "/studio", namePrefix: "/studio/api"}, nil,
			"collides with MASTRA_STUDIO_BASE_PATH"},
		{"base path under the prefix", "https://m.example.com", "", map[string]string{nameBasePath: "/api/studio"}, nil,
			`invalid MASTRA_API_PREFIX "/api" (from default): it collides`},
	} {
		t.Run(c.desc, func(t *testing.T) {
			_, _, err := Load(Sources{APIOrigin: c.in, ServerURL: c.serverURL, Flags: c.flags, Environ: c.environ})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
			if strings.Count(err.Error(), "\n") != 0 {
				t.Fatalf("want one line, got %q", err)
			}
		})
	}
	// Values equal to the defaults (a copied .env.example) are no conflict.
	if _, _, err := Load(Sources{APIOrigin: "https://m.example.com", Flags: map[string]string{nameHost: "localhost", nameProtocol: "http"}}); err != nil {
		t.Fatalf("default server values: %v", err)
	}
	// An empty cloud endpoint is no conflict: it is the self-hosted default.
	if _, _, err := Load(Sources{APIOrigin: "https://m.example.com", Flags: map[string]string{nameCloudEndpoint: ""}}); err != nil {
		t.Fatalf("empty MASTRA_CLOUD_API_ENDPOINT: %v", err)
	}
}

// TestAPIShapeWarnings: the shapes whose root probe the bake cannot answer
// are named, with what Studio will request.
func TestAPIShapeWarnings(t *testing.T) {
	for _, c := range []struct {
		desc      string
		serverURL string
		flags     map[string]string
		mode      APIMode
		probe     string
		warning   string // "" = none
	}{
		{"API behind a gateway path", "https://gw.acme.com/mastra/api", nil, APIDirect, "https://gw.acme.com:443/",
			"Studio first requests https://gw.acme.com:443/ (the host root, outside /mastra/api)"},
		{"API at its host's /api", "https://api.acme.com/api", nil, APIDirect, "https://api.acme.com:443/", ""},
		{"same origin under a base path, nothing forwards", "", map[string]string{nameAutoDetect: "true", nameBasePath: "/agents"}, APISameOrigin, "(page origin)/",
			"with base path /agents and no --api-origin: Studio first requests the page origin's root /"},
		{"same origin at the root", "", map[string]string{nameAutoDetect: "true"}, APISameOrigin, "(page origin)/", ""},
	} {
		t.Run(c.desc, func(t *testing.T) {
			cfg, warnings, err := Load(Sources{ServerURL: c.serverURL, Flags: c.flags})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.API.Mode != c.mode || cfg.API.Probe != c.probe {
				t.Fatalf("API = %+v, want mode %s probe %s", cfg.API, c.mode, c.probe)
			}
			if c.warning == "" && len(warnings) != 0 || c.warning != "" && (len(warnings) != 1 || !strings.Contains(warnings[0], c.warning)) {
				t.Fatalf("warnings = %q, want one containing %q", warnings, c.warning)
			}
		})
	}
}
