package env

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPrecedence(t *testing.T) {
	const n = "MASTRA_ORGANIZATION_ID"
	for _, c := range []struct {
		desc       string
		mode       string
		set        []string // sources that set n, by name
		fileOrder  []string // --env-file order: "one", "two"
		want       string
		wantOrigin string // "" = the path of the file named by want
	}{
		{"nothing set: default", "", nil, nil, "", "default"},
		{".env alone", "", []string{"dotenv"}, nil, "dotenv", ""},
		{".env.local beats .env", "", []string{"dotenv", "local"}, nil, "local", ""},
		{".env.production beats .env.local", "", []string{"dotenv", "local", "production"}, nil, "production", ""},
		{".env.production.local beats .env.production", "", []string{"dotenv", "production", "production.local"}, nil, "production.local", ""},
		{"--mode staging reads .env.staging, not .env.production", "staging", []string{"dotenv", "production", "staging"}, nil, "staging", ""},
		{"--mode staging: .env still applies", "staging", []string{"dotenv", "production"}, nil, "dotenv", ""},
		{"--env-file replaces the .env files", "", []string{"dotenv", "production"}, []string{"one"}, "", "default"},
		{"--env-file is read", "", []string{"dotenv", "production", "one"}, []string{"one"}, "one", ""},
		{"--env-file with --mode goes on top of the mode's files", "production", []string{"dotenv", "production.local", "one"}, []string{"one"}, "one", ""},
		{"--mode with --env-file still reads the mode's files", "production", []string{"dotenv", "production.local"}, []string{"one"}, "production.local", ""},
		{"a later --env-file beats an earlier one", "", []string{"one", "two"}, []string{"one", "two"}, "two", ""},
		{"file order decides, not file name", "", []string{"one", "two"}, []string{"two", "one"}, "one", ""},
		{"the environment beats every file", "", []string{"dotenv", "production", "one", "two", "environ"}, []string{"one", "two"}, "environ", "environment"},
		{"a flag beats everything", "", []string{"dotenv", "production", "one", "two", "environ", "flag"}, []string{"one", "two"}, "flag", "flag"},
		{"an empty environment value still wins", "", []string{"dotenv", "environ-empty"}, nil, "", "environment"},
	} {
		t.Run(c.desc, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{
				"dotenv":           filepath.Join(dir, ".env"),
				"local":            filepath.Join(dir, ".env.local"),
				"production":       filepath.Join(dir, ".env.production"),
				"production.local": filepath.Join(dir, ".env.production.local"),
				"staging":          filepath.Join(dir, ".env.staging"),
				"one":              filepath.Join(dir, "one.env"),
				"two":              filepath.Join(dir, "two.env"),
			}
			// Every file exists and sets another variable, so that a file
			// that does not set n is still read.
			for _, path := range files {
				writeFile(t, path, "MASTRA_PLATFORM_PROJECT_ID=p\n")
			}
			s := Sources{Dir: dir, Mode: c.mode, Flags: map[string]string{}}
			for _, src := range c.set {
				switch src {
				case "environ":
					s.Environ = append(s.Environ, n+"=environ")
				case "environ-empty":
					s.Environ = append(s.Environ, n+"=")
				case "flag":
					s.Flags[n] = "flag"
				default:
					writeFile(t, files[src], fmt.Sprintf("%s=%s\n", n, src))
				}
			}
			for _, f := range c.fileOrder {
				s.EnvFileFlags = append(s.EnvFileFlags, files[f])
			}
			cfg, _, err := Load(s)
			if err != nil {
				t.Fatal(err)
			}
			wantOrigin := c.wantOrigin
			if wantOrigin == "" {
				wantOrigin = files[c.want]
			}
			if got := cfg.Values[n]; got != c.want || cfg.Origins[n] != wantOrigin {
				t.Fatalf("%s = %q from %q, want %q from %q", n, got, cfg.Origins[n], c.want, wantOrigin)
			}
		})
	}
}

// TestMode: a bad --mode is one error naming it.
func TestMode(t *testing.T) {
	for _, m := range []string{"local", "../x", "a b", "-x"} {
		if _, _, err := Load(Sources{Dir: t.TempDir(), Mode: m}); err == nil || !strings.Contains(err.Error(), "invalid --mode") {
			t.Errorf("mode %q: err = %v", m, err)
		}
	}
}

// TestForeignLines: a shared .env may hold lines of other tools that the
// dotenv parser cannot read; they are left out, while a broken MASTRA_*
// line is still an error.
func TestForeignLines(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, ".env"), "SOME-TOOL=1\nMASTRA_SERVER_HOST=api.example.com\nweird line without equals\nOTHER=\"ok\"\n")
	cfg, _, err := Load(Sources{Dir: dir})
	if err != nil || cfg.Values["MASTRA_SERVER_HOST"] != "api.example.com" {
		t.Fatalf("foreign lines: %v, %v", cfg, err)
	}
	writeFile(t, filepath.Join(dir, ".env"), "SOME-TOOL=1\nMASTRA_SERVER_HOST=\"unterminated\n")
	if _, _, err := Load(Sources{Dir: dir}); err == nil || !strings.Contains(err.Error(), ".env: line 2") {
		t.Fatalf("a broken MASTRA_ line: err = %v, want line 2 named", err)
	}
}

// TestEnvironmentTypos: a MASTRA_* name in the process environment close to
// a Studio setting is warned about; the Mastra server's own names are not.
func TestEnvironmentTypos(t *testing.T) {
	_, warnings, err := Load(Sources{Environ: []string{"MASTRA_SERVR_HOST=x", "MASTRA_JWT_SECRET=s", "MASTRA_THEME_TOGGLE=true"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "environment: unknown MASTRA_SERVR_HOST; did you mean MASTRA_SERVER_HOST?") {
		t.Fatalf("warnings %q", warnings)
	}
}

func TestProcessEnvironment(t *testing.T) {
	t.Setenv("MASTRA_SERVER_HOST", "from-setenv.example.com")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, ".env"), "MASTRA_SERVER_HOST=from-file.example.com\n")
	cfg, _, err := Load(Sources{Dir: dir, Environ: os.Environ()})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Values["MASTRA_SERVER_HOST"] != "from-setenv.example.com" || cfg.Origins["MASTRA_SERVER_HOST"] != "environment" {
		t.Fatalf("host = %q from %q, want the process environment's", cfg.Values["MASTRA_SERVER_HOST"], cfg.Origins["MASTRA_SERVER_HOST"])
	}
}

func TestWindowsFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, ".env"), "\uFEFFMASTRA_SERVER_HOST=a.example.com\r\nMASTRA_SERVER_PORT=8080\r\n")
	cfg, _, err := Load(Sources{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Values["MASTRA_SERVER_HOST"] != "a.example.com" || cfg.Values["MASTRA_SERVER_PORT"] != "8080" {
		t.Fatalf("BOM and CRLF: host %q, port %q", cfg.Values["MASTRA_SERVER_HOST"], cfg.Values["MASTRA_SERVER_PORT"])
	}
}

func TestNoDirReadsNoDotEnv(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, ".env"), "MASTRA_SERVER_HOST=from-file.example.com\n")
	t.Chdir(dir)
	cfg, _, err := Load(Sources{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Values["MASTRA_SERVER_HOST"] != "localhost" {
		t.Fatalf("Dir \"\" read ./.env: host = %q", cfg.Values["MASTRA_SERVER_HOST"])
	}
}

func TestServerURL(t *testing.T) {
	for _, c := range []struct {
		desc                         string
		url                          string
		proto, host, port, prefix    string
		endpoint, reason, prefixFrom string
	}{
		{"port and prefix", "https://api.example.com:8443/mastra/api", "https", "api.example.com", "8443", "/mastra/api",
			"https://api.example.com:8443/mastra/api", "", "--server-url"},
		{"https without a port means 443", "https://api.example.com/api", "https", "api.example.com", "443", "/api",
			"https://api.example.com:443/api", "", "--server-url"},
		{"http without a port means 80", "http://api.example.com/v1", "http", "api.example.com", "80", "/v1",
			"http://api.example.com:80/v1", "", "--server-url"},
		{"no path leaves the prefix to the other sources", "https://api.example.com", "https", "api.example.com", "443", "/api",
			"https://api.example.com:443/api", "", "default"},
		{"a lone / leaves the prefix too", "HTTPS://API.Example.com/", "https", "api.example.com", "443", "/api",
			"https://api.example.com:443/api", "", "default"},
		{"a trailing slash on the prefix goes", "https://api.example.com/mastra/", "https", "api.example.com", "443", "/mastra",
			"https://api.example.com:443/mastra", "", "--server-url"},
		{"IPv6", "http://[::1]:4111/api", "http", "[::1]", "4111", "/api", "http://[::1]:4111/api", "", "--server-url"},
		{"a query is rejected", "https://api.example.com/api?x=1", "", "", "", "", "", "a query (?...) is not allowed", ""},
		{"an empty query is rejected", "https://api.example.com/api?", "", "", "", "", "", "a query (?...) is not allowed", ""},
		{"a fragment is rejected", "https://api.example.com/api#top", "", "", "", "", "", "a fragment (#...) is not allowed", ""},
		{"user info is rejected", "https://user:pw@api.example.com/api", "", "", "", "", "", "user info", ""},
		{"ftp is rejected", "ftp://api.example.com/api", "", "", "", "", "", "want an http:// or https:// URL", ""},
		{"a bare host is rejected", "api.example.com/api", "", "", "", "", "", "want an http:// or https:// URL", ""},
		{"no host is rejected", "https:///api", "", "", "", "", "", "no host", ""},
		{"a bad port is reported as the port", "https://api.example.com:70000/api", "", "", "", "", "",
			`invalid MASTRA_SERVER_PORT "70000": not a port number (1-65535) (from --server-url)`, ""},
	} {
		t.Run(c.desc, func(t *testing.T) {
			cfg, _, err := Load(Sources{ServerURL: c.url})
			if c.reason != "" {
				if err == nil || !strings.Contains(err.Error(), c.reason) {
					t.Fatalf("Load(--server-url %q) error = %v, want %q", c.url, err, c.reason)
				}
				if !strings.Contains(c.reason, "invalid MASTRA_") && !strings.HasPrefix(err.Error(), fmt.Sprintf("invalid --server-url %q: ", c.url)) {
					t.Fatalf("error %q does not name --server-url and its value", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			v := cfg.Values
			got := [4]string{v["MASTRA_SERVER_PROTOCOL"], v["MASTRA_SERVER_HOST"], v["MASTRA_SERVER_PORT"], v["MASTRA_API_PREFIX"]}
			if want := [4]string{c.proto, c.host, c.port, c.prefix}; got != want {
				t.Fatalf("protocol, host, port, prefix = %q, want %q", got, want)
			}
			if cfg.APIEndpoint != c.endpoint {
				t.Fatalf("APIEndpoint = %q, want %q", cfg.APIEndpoint, c.endpoint)
			}
			if cfg.Origins["MASTRA_SERVER_HOST"] != "--server-url" || cfg.Origins["MASTRA_API_PREFIX"] != c.prefixFrom {
				t.Fatalf("origins: host from %q, prefix from %q; want --server-url, %q",
					cfg.Origins["MASTRA_SERVER_HOST"], cfg.Origins["MASTRA_API_PREFIX"], c.prefixFrom)
			}
		})
	}
}

func TestServerURLPriority(t *testing.T) {
	s := Sources{
		ServerURL: "https://api.example.com/api",
		Environ:   []string{"MASTRA_SERVER_HOST=env.example.com", "MASTRA_API_PREFIX=/env"},
		Flags:     map[string]string{"MASTRA_SERVER_PORT": "8443"},
	}
	cfg, warnings, err := Load(s)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.APIEndpoint != "https://api.example.com:8443/api" {
		t.Fatalf("APIEndpoint = %q: --server-url must beat the environment and a port flag must beat --server-url", cfg.APIEndpoint)
	}
	if cfg.Origins["MASTRA_SERVER_PORT"] != "flag" || cfg.Origins["MASTRA_SERVER_HOST"] != "--server-url" {
		t.Fatalf("origins = %v", cfg.Origins)
	}
	want := `the MASTRA_SERVER_PORT flag ("8443") overrides --server-url's "443"`
	if len(warnings) != 1 || warnings[0] != want {
		t.Fatalf("warnings = %q, want [%q]", warnings, want)
	}
}

func TestSecretsStayOut(t *testing.T) {
	secrets := []string{"sk-proj-SECRET1", "jwt-SECRET2", "db-SECRET3", "env-SECRET4"}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, ".env"), "OPENAI_API_KEY=sk-proj-SECRET1\nMASTRA_JWT_SECRET=jwt-SECRET2\nMASTRA_SERVER_HOST=api.example.com\n")
	extra := writeFile(t, filepath.Join(dir, "ci.env"), "export DATABASE_URL=postgres://u:db-SECRET3@db/x\nMASTRA_SERVER_PORT=443\n")
	s := Sources{
		Dir: dir, Mode: "production",
		EnvFileFlags: []string{extra},
		Environ:      []string{"AWS_SECRET_ACCESS_KEY=env-SECRET4", "MASTRA_AUTH_TOKEN=env-SECRET4", "PATH=/usr/bin"},
	}
	cfg, warnings, err := Load(s)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Values["MASTRA_SERVER_HOST"] != "api.example.com" || cfg.Values["MASTRA_SERVER_PORT"] != "443" {
		t.Fatalf("the files' MASTRA_* values were not read: %v", cfg.Values)
	}
	dump := fmt.Sprintf("%#v %q", *cfg, warnings)
	for _, secret := range append(secrets, "OPENAI_API_KEY", "DATABASE_URL", "AWS_SECRET", "MASTRA_AUTH_TOKEN", "/usr/bin") {
		if strings.Contains(dump, secret) {
			t.Errorf("%q leaked into Config or warnings:\n%s", secret, dump)
		}
	}
	// The unknown MASTRA_ name is reported by name only.
	if len(warnings) != 1 || !strings.Contains(warnings[0], "MASTRA_JWT_SECRET") {
		t.Fatalf("warnings = %q, want one naming MASTRA_JWT_SECRET", warnings)
	}
	for name := range cfg.Values {
		if _, ok := lookup(name); !ok {
			t.Errorf("unknown name %s in Values", name)
		}
	}
}

func TestMalformedEnvFileHidesContent(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, filepath.Join(dir, ".env"), "MASTRA_SERVER_HOST=a\n# comment\nMASTRA_API_KEY=\"sk-proj-SECRET1\nX=y\n")
	_, _, err := Load(Sources{Dir: dir})
	if err == nil {
		t.Fatal("Load accepted a malformed .env")
	}
	if strings.Contains(err.Error(), "SECRET1") {
		t.Fatalf("error quotes the file: %v", err)
	}
	if want := path + ": line 3: "; !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not name %q", err, want)
	}
	// An unterminated quote is located at its opening line.
	writeFile(t, path, "A=1\nMASTRA_B=\"open\nC=2\n")
	if _, _, err := Load(Sources{Dir: dir}); err == nil || !strings.Contains(err.Error(), ": line 2: ") {
		t.Fatalf("unterminated quote: error %v, want line 2", err)
	}
}

func TestUnknownNameWarnings(t *testing.T) {
	for _, c := range []struct {
		desc, content string
		want          []string // with %s for the file's path
	}{
		{"a typo gets a suggestion", "MASTRA_SERVER_HOTS=x\n", []string{"%s: unknown MASTRA_SERVER_HOTS; did you mean MASTRA_SERVER_HOST?"}},
		{"lower case gets a suggestion", "mastra_server_port=1\n", []string{"%s: unknown mastra_server_port; did you mean MASTRA_SERVER_PORT?"}},
		{"nothing close", "MASTRA_SOMETHING_ELSE=x\n", []string{"%s: unknown MASTRA_SOMETHING_ELSE (not a Studio setting; ignored)"}},
		{"THEME_TOGGLE is accepted quietly", "MASTRA_THEME_TOGGLE=true\n", nil},
		{"other variables are not ours to judge", "NODE_ENV=production\nSERVER_HOST=x\n", nil},
		{"warnings come in name order", "MASTRA_TEMPLATE=1\nMASTRA_API_PREFX=/a\n", []string{
			"%s: unknown MASTRA_API_PREFX; did you mean MASTRA_API_PREFIX?",
			"%s: unknown MASTRA_TEMPLATE; did you mean MASTRA_TEMPLATES?",
		}},
	} {
		t.Run(c.desc, func(t *testing.T) {
			dir := t.TempDir()
			// Both a .env in Dir and a --env-file are named in warnings.
			for _, s := range []Sources{
				{Dir: dir},
				{EnvFileFlags: []string{filepath.Join(dir, "custom.env")}},
			} {
				path := filepath.Join(dir, ".env")
				if s.Dir == "" {
					path = s.EnvFileFlags[0]
				}
				writeFile(t, path, c.content)
				_, warnings, err := Load(s)
				if err != nil {
					t.Fatal(err)
				}
				var want []string
				for _, w := range c.want {
					want = append(want, fmt.Sprintf(w, path))
				}
				if fmt.Sprint(warnings) != fmt.Sprint(want) {
					t.Fatalf("warnings = %q, want %q", warnings, want)
				}
				os.Remove(path)
			}
		})
	}
	// In the process environment only a near miss is warned about: CI
	// carries many MASTRA_* names of the Mastra server's own.
	if _, warnings, _ := Load(Sources{Environ: []string{"MASTRA_SERVER_HOTS=x", "MASTRA_JWT_SECRET=y"}}); len(warnings) != 1 || !strings.Contains(warnings[0], "did you mean MASTRA_SERVER_HOST?") {
		t.Fatalf("environment warnings = %q, want one for MASTRA_SERVER_HOTS", warnings)
	}
}

func TestMissingFiles(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.env")
	if _, _, err := Load(Sources{EnvFileFlags: []string{missing}}); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("missing --env-file: error %v, want one naming %s", err, missing)
	}
	// Missing .env and .env.production in Dir are normal.
	if _, _, err := Load(Sources{Dir: dir}); err != nil {
		t.Fatalf("Dir without .env files: %v", err)
	}
	presets := filepath.Join(dir, "presets.json")
	if _, _, err := Load(Sources{PresetsFile: presets}); err == nil || !strings.Contains(err.Error(), presets) {
		t.Fatalf("missing presets file: error %v, want one naming %s", err, presets)
	}
}

func TestPresetsFile(t *testing.T) {
	for _, c := range []struct {
		desc, content, want, reason string
	}{
		{"compacted, order kept", "\uFEFF{\n  \"zeta\": {\"tenant\": \"a\"},\n  \"alpha\": {}\n}\n", `{"zeta":{"tenant":"a"},"alpha":{}}`, ""},
		{"broken JSON", "{\"a\": {}", "", "not valid JSON"},
		{"an array", "[{}]", "", "the top level must be a JSON object"},
		{"a non-object preset", `{"a": "b"}`, "", `preset "a" must be a JSON object`},
		{"invalid UTF-8", "{\"a\": {\"b\": \"\xff\"}}", "", "not valid UTF-8"},
	} {
		t.Run(c.desc, func(t *testing.T) {
			path := writeFile(t, filepath.Join(t.TempDir(), "presets.json"), c.content)
			s := Sources{PresetsFile: path, Environ: []string{`MASTRA_REQUEST_CONTEXT_PRESETS={"env":{}}`}}
			cfg, _, err := Load(s)
			if c.reason != "" {
				want := "invalid request context presets file " + path + ": "
				if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), c.reason) {
					t.Fatalf("error %v, want %q ... %q", err, want, c.reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			const n = "MASTRA_REQUEST_CONTEXT_PRESETS"
			if cfg.Values[n] != c.want || cfg.Origins[n] != "--request-context-presets" {
				t.Fatalf("presets = %q from %q, want %q from the file (it overrides the environment)", cfg.Values[n], cfg.Origins[n], c.want)
			}
		})
	}
	path := writeFile(t, filepath.Join(t.TempDir(), "p.json"), `{"a":{}}`)
	s := Sources{PresetsFile: path, Flags: map[string]string{"MASTRA_REQUEST_CONTEXT_PRESETS": `{"b":{}}`}}
	if _, _, err := Load(s); err == nil {
		t.Fatal("a presets file and a presets flag together were accepted")
	}
}

func TestEndpoint(t *testing.T) {
	for _, c := range []struct {
		desc             string
		flags            map[string]string
		endpoint, origin string
		warning          string // a substring of the only warning; "" = none
	}{
		{"defaults: mastra's dev server", nil, "http://localhost:4111/api", "http://localhost:4111", ""},
		{"https with an empty port is written as 443", map[string]string{"MASTRA_SERVER_PROTOCOL": "https", "MASTRA_SERVER_HOST": "api.example.com", "MASTRA_SERVER_PORT": ""},
			"https://api.example.com:443/api", "https://api.example.com:443", ""},
		{"https with no port set is on 443", map[string]string{"MASTRA_SERVER_PROTOCOL": "https"},
			"https://localhost:443/api", "https://localhost:443", ""},
		{"http with no port set is mastra's 4111", map[string]string{"MASTRA_SERVER_PROTOCOL": "http", "MASTRA_SERVER_HOST": "api.example.com"},
			"http://api.example.com:4111/api", "http://api.example.com:4111", ""},
		{"auto-detect: the page's own origin", map[string]string{"MASTRA_AUTO_DETECT_URL": "true", "MASTRA_API_PREFIX": "/mastra"},
			"(page origin)/mastra", "", ""},
		{"auto-detect ignores the host", map[string]string{"MASTRA_AUTO_DETECT_URL": "yes", "MASTRA_SERVER_HOST": "api.example.com"},
			"(page origin)/api", "", "MASTRA_SERVER_HOST (from flag) is ignored: MASTRA_AUTO_DETECT_URL=true"},
		{"cloud endpoint replaces it all", map[string]string{"MASTRA_CLOUD_API_ENDPOINT": "https://cloud.example.com/", "MASTRA_AUTO_DETECT_URL": "true"},
			"https://cloud.example.com/api", "https://cloud.example.com:443", "MASTRA_CLOUD_API_ENDPOINT (from flag) replaces the API endpoint"},
		{"cloud endpoint with a port and path", map[string]string{"MASTRA_CLOUD_API_ENDPOINT": "http://[::1]:9000/p"},
			"http://[::1]:9000/p/api", "http://[::1]:9000", "leave it empty when self-hosting"},
	} {
		t.Run(c.desc, func(t *testing.T) {
			cfg, warnings, err := Load(Sources{Flags: c.flags})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.APIEndpoint != c.endpoint || cfg.APIOrigin != c.origin {
				t.Fatalf("APIEndpoint, APIOrigin = %q, %q; want %q, %q", cfg.APIEndpoint, cfg.APIOrigin, c.endpoint, c.origin)
			}
			if c.warning == "" && len(warnings) != 0 || c.warning != "" && (len(warnings) != 1 || !strings.Contains(warnings[0], c.warning)) {
				t.Fatalf("warnings = %q, want one containing %q", warnings, c.warning)
			}
		})
	}
}

func TestConfigFields(t *testing.T) {
	cfg, _, err := Load(Sources{Flags: map[string]string{"MASTRA_STUDIO_BASE_PATH": "agents/", "MASTRA_TELEMETRY_DISABLED": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BasePath != "/agents" || cfg.TelemetryEnabled || cfg.Values["MASTRA_TELEMETRY_DISABLED"] != "true" {
		t.Fatalf("BasePath %q, TelemetryEnabled %v, TELEMETRY_DISABLED %q", cfg.BasePath, cfg.TelemetryEnabled, cfg.Values["MASTRA_TELEMETRY_DISABLED"])
	}
	if cfg, _, _ := Load(Sources{}); !cfg.TelemetryEnabled {
		t.Fatal("telemetry is off by default")
	}
}

func TestDevServerInstanceIsAlwaysEmpty(t *testing.T) {
	cfg, warnings, err := Load(Sources{Environ: []string{"MASTRA_DEV_SERVER_INSTANCE_ID=abc"}})
	if err != nil {
		t.Fatal(err)
	}
	const n = "MASTRA_DEV_SERVER_INSTANCE_ID"
	if v, ok := cfg.Values[n]; !ok || v != "" || cfg.Origins[n] != "default" {
		t.Fatalf("%s = %q (present %v) from %q, want \"\" from default", n, v, ok, cfg.Origins[n])
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], n+" (from environment) is ignored") {
		t.Fatalf("warnings = %q", warnings)
	}
}

func TestUnknownFlagIsAnError(t *testing.T) {
	if _, _, err := Load(Sources{Flags: map[string]string{"MASTRA_SERVER_HOTS": "x"}}); err == nil || !strings.Contains(err.Error(), "MASTRA_SERVER_HOTS") {
		t.Fatalf("error = %v, want one naming MASTRA_SERVER_HOTS", err)
	}
}
