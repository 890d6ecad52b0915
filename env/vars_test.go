package env

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestVars(t *testing.T) {
	// The 19 page tokens of mastra 1.31.0's index.html, plus the known
	// non-token MASTRA_THEME_TOGGLE.
	tokens := map[string]bool{}
	for _, n := range []string{
		"STUDIO_BASE_PATH", "SERVER_HOST", "SERVER_PORT", "SERVER_PROTOCOL", "API_PREFIX",
		"TELEMETRY_DISABLED", "HIDE_CLOUD_CTA", "CLOUD_API_ENDPOINT", "EXPERIMENTAL_FEATURES",
		"TEMPLATES", "EXPERIMENTAL_UI", "SIGNALS_UI", "AGENT_SIGNALS", "AUTO_DETECT_URL",
		"REQUEST_CONTEXT_PRESETS", "ORGANIZATION_ID", "PLATFORM_PROJECT_ID",
		"PLATFORM_OBSERVABILITY_ENDPOINT", "DEV_SERVER_INSTANCE_ID",
	} {
		tokens["MASTRA_"+n] = true
	}
	seen := map[string]bool{}
	for _, v := range Vars {
		if seen[v.Name] {
			t.Errorf("%s listed twice", v.Name)
		}
		seen[v.Name] = true
		if v.Token != tokens[v.Name] {
			t.Errorf("%s: Token = %v, want %v", v.Name, v.Token, tokens[v.Name])
		}
		if v.Doc == "" || strings.Contains(v.Doc, "\n") {
			t.Errorf("%s: Doc must be one non-empty line, got %q", v.Name, v.Doc)
		}
	}
	for n := range tokens {
		if !seen[n] {
			t.Errorf("token %s missing from Vars", n)
		}
	}
	if !seen["MASTRA_THEME_TOGGLE"] || len(Vars) != len(tokens)+1 {
		t.Errorf("Vars has %d entries, want the %d tokens plus MASTRA_THEME_TOGGLE", len(Vars), len(tokens))
	}
}

func TestDefaultsAreWhatLoadWrites(t *testing.T) {
	cfg, warnings, err := Load(Sources{})
	if err != nil || len(warnings) != 0 {
		t.Fatalf("Load with no sources: %v, warnings %q", err, warnings)
	}
	for _, v := range Vars {
		if !v.Token {
			if _, ok := cfg.Values[v.Name]; ok {
				t.Errorf("non-token %s is in Values", v.Name)
			}
			continue
		}
		if got := cfg.Values[v.Name]; got != v.Default || cfg.Origins[v.Name] != "default" {
			t.Errorf("%s = %q from %q, want Default %q from \"default\"", v.Name, got, cfg.Origins[v.Name], v.Default)
		}
	}
}

func TestClosestName(t *testing.T) {
	for _, c := range []struct{ desc, in, want string }{
		{"a known name is itself", "MASTRA_SERVER_HOST", "MASTRA_SERVER_HOST"},
		{"swapped letters", "MASTRA_SERVER_HOTS", "MASTRA_SERVER_HOST"},
		{"a missing letter", "MASTRA_API_PREFX", "MASTRA_API_PREFIX"},
		{"a missing final letter", "MASTRA_TELEMETRY_DISABLE", "MASTRA_TELEMETRY_DISABLED"},
		{"lower case", "mastra_server_port", "MASTRA_SERVER_PORT"},
		{"no MASTRA_ prefix", "STUDIO_BASE_PATH", "MASTRA_STUDIO_BASE_PATH"},
		{"the non-token is known too", "MASTRA_THEME_TOGGEL", "MASTRA_THEME_TOGGLE"},
		{"nothing close", "MASTRA_JWT_SECRET", ""},
		{"short and unrelated", "MASTRA_FOO", ""},
		{"empty", "", ""},
	} {
		if got := ClosestName(c.in); got != c.want {
			t.Errorf("%s: ClosestName(%q) = %q, want %q", c.desc, c.in, got, c.want)
		}
	}
}

// TestEnvExample keeps /.env.example equal to what Vars generates;
// UPDATE_SNAPSHOTS=1 rewrites it.
func TestEnvExample(t *testing.T) {
	path := filepath.Join("..", ".env.example")
	want := exampleFile()
	if os.Getenv("UPDATE_SNAPSHOTS") != "" {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run UPDATE_SNAPSHOTS=1 go test ./env/)", err)
	}
	if string(got) != want {
		t.Fatalf(".env.example is stale (run UPDATE_SNAPSHOTS=1 go test ./env/):\n%s", firstDiff(string(got), want))
	}
}

// TestEnvExampleLoadsAsDefaults: a user who copies .env.example to .env gets
// exactly the defaults, with no warning.
func TestEnvExampleLoadsAsDefaults(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(exampleFile()), 0o644); err != nil {
		t.Fatal(err)
	}
	fromFile, warnings, err := Load(Sources{Dir: dir})
	if err != nil || len(warnings) != 0 {
		t.Fatalf("Load(.env.example): %v, warnings %q", err, warnings)
	}
	defaults, _, _ := Load(Sources{})
	for name, want := range defaults.Values {
		if got := fromFile.Values[name]; got != want {
			t.Errorf("%s = %q from .env.example, want default %q", name, got, want)
		}
	}
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + strconv.Itoa(i+1) + ":\n- " + gl + "\n+ " + wl
		}
	}
	return "(no line differs)"
}
