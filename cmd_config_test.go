package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/studiobake/studiobake/build"
)

const testConfig = `base-path = "/agents"
set = ["MASTRA_TELEMETRY_DISABLED=true", "MASTRA_SERVER_HOST=file.example.com"]
quiet = true

[env.staging]
base-path = "/staging"
api-origin = "https://mastra.staging.example.com"
set = ["MASTRA_TELEMETRY_DISABLED=true"]
`

// TestConfigFile: the file's values apply like flags, an environment's
// table lies over the top level, and flags and the environment beat it.
func TestConfigFile(t *testing.T) {
	for _, c := range []struct {
		desc     string
		args     []string
		environ  map[string]string
		base     string
		host     string
		mode     build.APIMode
		upstream string
	}{
		{"top level", nil, nil, "/agents", "file.example.com", build.APIDirect, ""},
		{"--env staging", []string{"--env", "staging"}, nil, "/staging", "localhost", build.APIOneOrigin, "https://mastra.staging.example.com"},
		{"STUDIOBAKE_ENV", nil, map[string]string{"STUDIOBAKE_ENV": "staging"}, "/staging", "localhost", build.APIOneOrigin, "https://mastra.staging.example.com"},
		{"a flag beats the file", []string{"--base-path", "/flag"}, nil, "/flag", "file.example.com", build.APIDirect, ""},
		{"the environment beats the file's set", nil, map[string]string{"MASTRA_SERVER_HOST": "env.example.com"}, "/agents", "env.example.com", build.APIDirect, ""},
		{"--config names another file", []string{"--config", "other.toml"}, nil, "/other", "localhost", build.APIDirect, ""},
	} {
		t.Run(c.desc, func(t *testing.T) {
			work := t.TempDir()
			t.Chdir(work)
			must(t, os.WriteFile(ConfigFile, []byte(testConfig), 0o644))
			must(t, os.WriteFile("other.toml", []byte(`base-path = "/other"`+"\n"), 0o644))
			os.Unsetenv("MASTRA_SERVER_HOST")
			for k, v := range c.environ {
				t.Setenv(k, v)
			}
			code, stdout, stderr := runCLI(t, append([]string{"build", "--studio", testTree(t)}, c.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if c.desc != "--config names another file" && stdout != "" {
				t.Errorf("quiet = true in the file, yet stdout %q", stdout)
			}
			m, err := build.ReadManifest(filepath.Join(work, "dist"))
			must(t, err)
			if m.BasePath != c.base || m.Config["MASTRA_SERVER_HOST"] != c.host || m.API.Mode != c.mode || m.API.Upstream != c.upstream {
				t.Fatalf("base %q host %q api %+v; want %q %q %s %q", m.BasePath, m.Config["MASTRA_SERVER_HOST"], m.API, c.base, c.host, c.mode, c.upstream)
			}
		})
	}
}

// TestConfigFileErrors: every mistake in the file is one error naming the
// file, the setting and the value, exit 1, nothing written.
func TestConfigFileErrors(t *testing.T) {
	for _, c := range []struct {
		desc, file string
		args       []string
		want       string
	}{
		{"typo in a key", "bsae-path = \"/x\"\n", nil, `config file studiobake.toml: unknown setting "bsae-path"; did you mean base-path?`},
		{"typo in an environment", "[env.staging]\ndistrbution-id = \"E1\"\n", nil, `unknown setting "distrbution-id" in [env.staging]; did you mean distribution-id?`},
		{"wrong type", "base-path = 3\n", nil, "studiobake.toml: Mismatched type for flag 'base-path'"},
		{"invalid value", "base-path = \"/a b\"\n", nil, `invalid MASTRA_STUDIO_BASE_PATH "/a b": only letters`},
		{"invalid value in an environment", "[env.x]\napi-origin = \"https://m.example.com/p\"\n", []string{"--env", "x"}, `(from studiobake.toml [env.x])`},
		{"unknown environment", "[env.staging]\n", []string{"--env", "prod"}, "--env prod: studiobake.toml has no [env.prod] table (it has: staging)"},
		{"not TOML", "base-path = \n", nil, "config file studiobake.toml:"},
		{"missing --config file", "", []string{"--config", "nope.toml"}, "--config nope.toml: no such file"},
	} {
		t.Run(c.desc, func(t *testing.T) {
			work := t.TempDir()
			t.Chdir(work)
			if c.file != "" {
				must(t, os.WriteFile(ConfigFile, []byte(c.file), 0o644))
			}
			code, _, stderr := runCLI(t, append([]string{"build", "--studio", testTree(t)}, c.args...)...)
			if code != exitError || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
				t.Fatalf("exit %d, stderr %q; want exit 1 and one line with %q", code, stderr, c.want)
			}
			if _, err := os.Stat("dist"); !os.IsNotExist(err) {
				t.Fatal("a config error wrote dist/")
			}
		})
	}
}

// TestConfigSchema: the committed studiobake.schema.json is the one the
// flags make (UPDATE_SNAPSHOTS=1 regenerates it), and it knows every flag.
func TestConfigSchema(t *testing.T) {
	got, err := configSchema(newApp(io.Discard, io.Discard))
	must(t, err)
	if os.Getenv("UPDATE_SNAPSHOTS") != "" {
		must(t, os.WriteFile("studiobake.schema.json", got, 0o644))
	}
	want, err := os.ReadFile("studiobake.schema.json")
	must(t, err)
	if string(got) != string(want) {
		t.Fatal("studiobake.schema.json is stale: UPDATE_SNAPSHOTS=1 go test -run TestConfigSchema . regenerates it")
	}
	var doc struct {
		Properties map[string]struct{ Type string } `json:"properties"`
	}
	must(t, json.Unmarshal(got, &doc))
	for name, typ := range map[string]string{"base-path": "string", "edge": "array", "quiet": "boolean", "keep-releases": "integer", "env": "object"} {
		if doc.Properties[name].Type != typ {
			t.Errorf("schema: %s is %q, want %q", name, doc.Properties[name].Type, typ)
		}
	}
}
