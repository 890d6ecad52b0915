package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/studiobake/studiobake/publish/s3test"
)

// outputSchema is studiobake-output.schema.json, compiled once.
func outputSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	s, err := c.Compile("studiobake-output.schema.json")
	if err != nil {
		t.Fatalf("studiobake-output.schema.json: %v", err)
	}
	return s
}

// validOutput checks that stdout is exactly one JSON document of the
// documented shape, and returns it.
func validOutput(t *testing.T, s *jsonschema.Schema, stdout string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	var doc any
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON document:\n%s", stdout)
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(stdout))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(inst); err != nil {
		t.Fatalf("output does not match studiobake-output.schema.json: %v\n%s", err, stdout)
	}
	return doc.(map[string]any)
}

// TestJSONContract: with --json, every outcome prints one document on
// stdout that matches the schema, with ok, the error and every warning.
func TestJSONContract(t *testing.T) {
	s := outputSchema(t)
	for _, c := range []struct {
		desc    string
		args    []string
		code    int
		ok      bool
		errCode string
		setting string
		warning string
	}{
		{"build", []string{"build", "--json"}, 0, true, "", "", ""},
		{"build with a configuration warning", []string{"build", "--json", "--server-url", "https://gw.example.com/mastra/api"}, 0, true, "", "", "Studio first requests https://gw.example.com:443/"},
		{"invalid value", []string{"build", "--json", "--set", "MASTRA_SERVER_PORT=80a"}, 1, false, "error", "MASTRA_SERVER_PORT", ""},
		{"usage error before flags are read", []string{"build", "--json", "--bogus"}, 2, false, "usage", "--bogus", ""},
		{"unknown flag after --json", []string{"publish", "--json", "--bucket", "b", "--distribution-id", "E1", "--distribution-id", "E2"}, 2, false, "usage", "--distribution-id", ""},
		{"check of a site that does not answer", []string{"check", "http://127.0.0.1:9/agents/", "--json", "--timeout", "1s"}, 1, false, "", "", ""},
	} {
		t.Run(c.desc, func(t *testing.T) {
			t.Chdir(t.TempDir())
			args := c.args
			if args[0] == "build" {
				args = append(args, "--studio", testTree(t))
			}
			code, stdout, _ := runCLI(t, args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d; stdout %s", code, c.code, stdout)
			}
			doc := validOutput(t, s, stdout)
			if doc["ok"] != c.ok || doc["command"] != args[0] {
				t.Fatalf("ok %v command %v, want %v %s", doc["ok"], doc["command"], c.ok, args[0])
			}
			if c.errCode != "" {
				e := doc["error"].(map[string]any)
				if e["code"] != c.errCode || e["setting"] != c.setting {
					t.Fatalf("error %v, want code %s setting %s", e, c.errCode, c.setting)
				}
			}
			if c.warning != "" && !strings.Contains(strings.Join(toStrings(doc["warnings"]), "\n"), c.warning) {
				t.Fatalf("warnings %v lack %q", doc["warnings"], c.warning)
			}
		})
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// TestJSONGolden pins the shape of a failure document and of a build
// result (paths, timings and the version normalised), so that a change to
// the contract is a visible diff. UPDATE_SNAPSHOTS=1 regenerates them.
func TestJSONGolden(t *testing.T) {
	work := t.TempDir()
	t.Chdir(work)
	norm := func(s string) string {
		s = strings.ReplaceAll(s, work, "WORK")
		s = strings.ReplaceAll(s, treeDir, "TREE")
		s = regexp.MustCompile(`"durationMs": \d+`).ReplaceAllString(s, `"durationMs": 0`)
		return regexp.MustCompile(`"studiobakeVersion": "[^"]*"`).ReplaceAllString(s, `"studiobakeVersion": "VERSION"`)
	}
	for name, args := range map[string][]string{
		"build-error.json": {"build", "--json", "--studio", testTree(t), "--api-origin", "https://m.example.com/p"},
		// Its own variant cache: the counts of compressed and cached are the same every run.
		"build.json": {"build", "--json", "--studio", testTree(t), "--api-origin", "https://m.example.com", "--base-path", "/agents",
			"--cache-dir", filepath.Join(work, "cache")},
	} {
		_, stdout, _ := runCLI(t, args...)
		got := []byte(norm(stdout))
		path := filepath.Join(treeDir, "..", "..", "golden", "json", name)
		if os.Getenv("UPDATE_SNAPSHOTS") != "" {
			must(t, os.MkdirAll(filepath.Dir(path), 0o755))
			must(t, os.WriteFile(path, got, 0o644))
		}
		want, err := os.ReadFile(path)
		must(t, err)
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from testdata/golden/json/%s (UPDATE_SNAPSHOTS=1 regenerates it):\n%s", name, name, got)
		}
	}
}

// TestJSONPublishShapes: publish, releases and a failed publish against a
// real S3 server print documents of the documented shape.
func TestJSONPublishShapes(t *testing.T) {
	srv := s3test.Start(t)
	s3test.Env(t)
	endpoint := srv.Endpoint
	s := outputSchema(t)
	work := t.TempDir()
	t.Chdir(work)
	if code, _, stderr := runCLI(t, "build", "-q", "--studio", testTree(t), "--base-path", "/agents"); code != 0 {
		t.Fatal(stderr)
	}
	store := []string{"--bucket", "site", "--endpoint-url", endpoint, "--path-style"}
	code, stdout, stderr := runCLI(t, append([]string{"publish", "--dir", "dist", "--json"}, store...)...)
	if code != 0 {
		t.Fatalf("publish: exit %d %s", code, stderr)
	}
	doc := validOutput(t, s, stdout)
	if doc["result"].(map[string]any)["uploaded"].(float64) < 1 {
		t.Fatalf("publish uploaded nothing: %s", stdout)
	}
	_, stdout, _ = runCLI(t, append([]string{"releases", "--dir", "dist", "--json"}, store...)...)
	if doc = validOutput(t, s, stdout); doc["live"] == "" || doc["live"] == nil {
		t.Fatalf("releases names no live release: %s", stdout)
	}
	code, stdout, _ = runCLI(t, "publish", "--dir", "dist", "--json", "--bucket", "nope-missing", "--endpoint-url", endpoint, "--path-style")
	if doc = validOutput(t, s, stdout); code != exitError || doc["ok"] != false || doc["error"] == nil {
		t.Fatalf("publish to a missing bucket: exit %d %s", code, stdout)
	}
}
