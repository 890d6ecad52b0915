package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/studiobake/studiobake/check/checktest"
	"github.com/studiobake/studiobake/publish/cdn/cdntest"
	"github.com/studiobake/studiobake/publish/s3test"
)

// readmeCIExample returns the README's CI example: its config file and the
// studiobake commands of its workflow, as written.
func readmeCIExample(t *testing.T) (config string, commands [][]string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	section := string(b)
	start := strings.Index(section, "## CI example")
	if start < 0 {
		t.Fatal("README has no CI example section")
	}
	section = section[start:]
	if end := strings.Index(section[3:], "\n## "); end > 0 {
		section = section[:end+3]
	}
	toml := regexp.MustCompile("(?s)```toml\n(.*?)```").FindStringSubmatch(section)
	if toml == nil {
		t.Fatal("README's CI example has no studiobake.toml block")
	}
	for _, m := range regexp.MustCompile(`(?m)^\s*- run: npx studiobake (.*)$`).FindAllStringSubmatch(section, -1) {
		commands = append(commands, strings.Fields(m[1]))
	}
	if len(commands) < 3 {
		t.Fatalf("README's CI example runs %d studiobake commands, want build, publish and check", len(commands))
	}
	return toml[1], commands
}

// TestREADMECIExample runs the README's CI example end to end: its config
// file and commands as written, against versitygw (the bucket), the test
// CloudFront API (the distribution, through the SDK's endpoint variable)
// and `studiobake serve` in place of the CDN for check. Every --json
// document must match studiobake-output.schema.json.
func TestREADMECIExample(t *testing.T) {
	config, commands := readmeCIExample(t)
	src := studioSource(t)
	bin := studiobakeBin(t)
	schema, err := jsonschema.NewCompiler().Compile(filepath.Join("..", "studiobake-output.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	bucket := regexp.MustCompile(`(?m)^bucket = "([^"]+)"`).FindStringSubmatch(config)
	if bucket == nil {
		t.Fatal("the example's config names no bucket")
	}
	s3 := s3test.Start(t)
	if err := os.MkdirAll(filepath.Join(s3.Data, bucket[1]), 0o755); err != nil {
		t.Fatal(err)
	}
	cf := cdntest.New(t)
	cf.SetDistributionXML(strings.Replace(cdntest.UsualDistribution, "studio.s3.amazonaws.com", bucket[1]+".s3.amazonaws.com", 1))
	mastra := checktest.New(checktest.Options{})
	defer mastra.Close()

	work := t.TempDir()
	if err := os.WriteFile(filepath.Join(work, "studiobake.toml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(),
		// Where the runner would have AWS: the local stores stand in.
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=testsecret", "AWS_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE="+filepath.Join(work, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(work, "none"),
		"STUDIOBAKE_ENDPOINT_URL="+s3.Endpoint, "STUDIOBAKE_PATH_STYLE=true",
		"AWS_ENDPOINT_URL_CLOUDFRONT="+cf.URL(), "STUDIOBAKE_DISTRIBUTION_ID="+cdntest.DistributionID,
		// Where the project would have node_modules/mastra.
		"STUDIOBAKE_STUDIO="+src.Dir)
	var serveURL string
	for _, args := range commands {
		if args[0] == "check" {
			if serveURL == "" {
				_, serveURL = startServe(t, exec.Command(bin, "serve", "--quiet", "--dir", filepath.Join(work, "dist"), "--port", "0", "--api", mastra.URL))
			}
			args = append([]string{"check", serveURL}, args[2:]...)
		}
		var out []string
		for _, a := range args {
			if a == ">" {
				break // the workflow's redirect: the test reads stdout itself
			}
			out = append(out, a)
		}
		cmd := exec.Command(bin, out...)
		cmd.Dir, cmd.Env = work, env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("studiobake %s: %v\nstdout: %s\nstderr: %s", strings.Join(out, " "), err, stdout.String(), stderr.String())
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(stdout.Bytes()))
		if err != nil {
			t.Fatalf("studiobake %s: stdout is not JSON: %v\n%s", out[0], err, stdout.String())
		}
		if err := schema.Validate(inst); err != nil {
			t.Fatalf("studiobake %s: output does not match the schema: %v\n%s", out[0], err, stdout.String())
		}
		var doc struct {
			OK bool `json:"ok"`
		}
		if json.Unmarshal(stdout.Bytes(), &doc) != nil || !doc.OK {
			t.Fatalf("studiobake %s: ok is not true:\n%s", out[0], stdout.String())
		}
		t.Logf("studiobake %s: ok", strings.Join(out, " "))
	}
	if cf.Count("UpdateDistribution") == 0 || cf.Functions() == 0 {
		t.Errorf("publish deployed no gate: %d functions, %d distribution updates", cf.Functions(), cf.Count("UpdateDistribution"))
	}
	if !strings.Contains(cf.DistributionXML(), "studiobake-api") {
		t.Errorf("the distribution has no API origin after a one-origin publish:\n%s", cf.DistributionXML())
	}
}
