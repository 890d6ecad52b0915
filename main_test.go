package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/studiobake/studiobake/build"
	"github.com/studiobake/studiobake/build/npm/tartest"
	urfave "github.com/urfave/cli/v2"
)

// runCLI runs studiobake in-process with args and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"studiobake"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// treeDir is absolute: the tests change directory to read .env files.
var treeDir, _ = filepath.Abs(filepath.Join("testdata", "studio", "v1.31"))

func testTree(t *testing.T) string { return treeDir }

// TestBuildPrecedence: a flag beats the process environment, which beats
// --env-file, which beats .env.production, which beats .env.
func TestBuildPrecedence(t *testing.T) {
	cases := []struct {
		desc    string
		flag    string
		environ string
		envFile string
		prod    string
		dotenv  string
		want    string
	}{
		{"flag wins", "flag.example.com", "env.example.com", "file.example.com", "prod.example.com", "dot.example.com", "flag.example.com"},
		{"environment beats files", "", "env.example.com", "file.example.com", "prod.example.com", "dot.example.com", "env.example.com"},
		{"--env-file beats .env.production", "", "", "file.example.com", "prod.example.com", "dot.example.com", "file.example.com"},
		{".env.production beats .env", "", "", "", "prod.example.com", "dot.example.com", "prod.example.com"},
		{".env alone", "", "", "", "", "dot.example.com", "dot.example.com"},
		{"default", "", "", "", "", "", "localhost"},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			work := t.TempDir()
			t.Chdir(work)
			write := func(name, host string) {
				if host != "" {
					must(t, os.WriteFile(filepath.Join(work, name), []byte("MASTRA_SERVER_HOST="+host+"\n"), 0o644))
				}
			}
			write(".env", c.dotenv)
			write(".env.production", c.prod)
			write("staging.env", c.envFile)
			t.Setenv("MASTRA_SERVER_HOST", c.environ)
			if c.environ == "" {
				os.Unsetenv("MASTRA_SERVER_HOST")
			}
			args := []string{"build", "--studio", testTree(t), "--json"}
			if c.envFile != "" {
				args = append(args, "--env-file", "staging.env")
			}
			if c.flag != "" {
				args = append(args, "--set", "MASTRA_SERVER_HOST="+c.flag)
			}
			code, stdout, stderr := runCLI(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			m, err := build.ReadManifest(filepath.Join(work, "dist"))
			must(t, err)
			if got := m.Config["MASTRA_SERVER_HOST"]; got != c.want {
				t.Errorf("MASTRA_SERVER_HOST = %q, want %q (stdout %s)", got, c.want, stdout)
			}
		})
	}
}

func TestBuildJSONAndQuiet(t *testing.T) {
	work := t.TempDir()
	t.Chdir(work)
	code, stdout, stderr := runCLI(t, "build", "--studio", testTree(t), "--server-url", "https://api.example.com:8443/mastra/api", "--base-path", "/agents", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got struct {
		Files       int    `json:"files"`
		APIEndpoint string `json:"apiEndpoint"`
		BasePath    string `json:"basePath"`
		Site        string `json:"site"`
	}
	must(t, json.Unmarshal([]byte(stdout), &got))
	if got.APIEndpoint != "https://api.example.com:8443/mastra/api" || got.BasePath != "/agents" || got.Files != 8 {
		t.Errorf("--json = %+v", got)
	}
	code, stdout, _ = runCLI(t, "build", "--studio", testTree(t), "-q")
	if code != 0 || stdout != "" {
		t.Errorf("-q: exit %d, printed %q", code, stdout)
	}
}

// TestBuildErrors: bad input gets one line naming the setting and value,
// exit 1 (2 for usage), and no output directory.
func TestBuildErrors(t *testing.T) {
	cases := []struct {
		desc string
		args []string
		code int
		want string
	}{
		{"bad port", []string{"--set", "MASTRA_SERVER_PORT=80a"}, 1, `invalid MASTRA_SERVER_PORT "80a"`},
		{"bad base path", []string{"--base-path", "/a b"}, 1, `invalid MASTRA_STUDIO_BASE_PATH "/a b"`},
		{"host with scheme", []string{"--set", "MASTRA_SERVER_HOST=https://x.example.com"}, 1, "MASTRA_SERVER_HOST"},
		{"bad server url", []string{"--server-url", "ftp://x.example.com"}, 1, "--server-url"},
		{"missing studio tree", []string{"--studio", "/nonexistent/studio"}, 1, "/nonexistent/studio"},
		{"missing env file", []string{"--env-file", "nope.env"}, 1, "nope.env"},
		{"bad --set", []string{"--set", "HOST=x"}, 2, `invalid --set "HOST=x"`},
		{"--set with a typo", []string{"--set", "MASTRA_SERVR_HOST=x"}, 1, "did you mean MASTRA_SERVER_HOST?"},
		{"corrupt tarball", []string{"--studio", "corrupt.tgz"}, 1, "studio tarball corrupt.tgz"},
		{"tree without index.html", []string{"--studio", "."}, 1, "no index.html"},
		{"unreachable registry", []string{"--mastra-version", "1.31.0", "--registry", "http://127.0.0.1:1/", "--cache-dir", "cache"}, 1, "mastra@1.31.0"},
		{"output that would destroy the working directory", []string{"--out", "."}, 1, "refusing output ."},
		{"unknown flag", []string{"--bogus"}, 2, "bogus"},
		{"api origin with a path", []string{"--api-origin", "https://gw.example.com/mastra"}, 1, `invalid --api-origin "https://gw.example.com/mastra": a path is not allowed`},
		{"api origin not absolute", []string{"--api-origin", "mastra.internal:4111"}, 1, `invalid --api-origin "mastra.internal:4111"`},
		{"api origin and server url", []string{"--api-origin", "https://m.example.com", "--server-url", "https://api.example.com/api"}, 1, "conflict"},
		{"api prefix on a Studio page", []string{"--api-origin", "https://m.example.com", "--set", "MASTRA_API_PREFIX=/agents"}, 1, "/agents is a Studio page"},
		{"api prefix is the base path", []string{"--api-origin", "https://m.example.com", "--base-path", "/api"}, 1, "collides with MASTRA_STUDIO_BASE_PATH"},
		{"stack domain without certificate", []string{"--edge", "cloudfront", "--stack-domain", "studio.example.com"}, 1, "--stack-domain \"studio.example.com\" needs --stack-certificate-arn"},
		{"stack certificate without domain", []string{"--edge", "cloudfront", "--stack-certificate-arn", "arn:aws:acm:us-east-1:123456789012:certificate/abc"}, 1, "needs --stack-domain"},
		{"stack domain without the stack", []string{"--edge", "netlify", "--stack-domain", "studio.example.com"}, 2, "add --edge cloudfront"},
		{"stack CloudFront cannot express", []string{"--edge", "cloudfront", "--api-origin", "http://10.0.0.5:4111"}, 1, "CloudFront takes a domain name as origin"},
		{"unknown precompress level", []string{"--precompress", "max"}, 1, `invalid --precompress "max": want best, fast or off`},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			work := t.TempDir()
			t.Chdir(work)
			must(t, os.WriteFile("corrupt.tgz", []byte("not gzip"), 0o644))
			args := append([]string{"build"}, c.args...)
			if joined := strings.Join(c.args, " "); !strings.Contains(joined, "--studio") && !strings.Contains(joined, "--mastra-version") {
				args = append(args, "--studio", testTree(t))
			}
			code, _, stderr := runCLI(t, args...)
			if code != c.code || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, c.code, c.want)
			}
			if !strings.HasPrefix(stderr, "studiobake: ") {
				t.Errorf("error not reported as 'studiobake: ...': %q", stderr)
			}
			if _, err := os.Stat(filepath.Join(work, "dist")); !os.IsNotExist(err) {
				t.Errorf("a failed build left dist/ behind")
			}
			if left, _ := filepath.Glob(filepath.Join(work, ".*.tmp-*")); len(left) > 0 {
				t.Errorf("a failed build left %v behind", left)
			}
		})
	}
}

// TestBuildHostileTarball: a --studio tarball made to fill the disk is refused
// at its first bad entry, naming the file and the entry, exit 1, and leaves
// nothing in the output or the temporary directory.
func TestBuildHostileTarball(t *testing.T) {
	cases := map[string]func(w *tartest.Tar){
		"huge declared size": func(w *tartest.Tar) { w.Declared("package/dist/studio/assets/a.js", 1<<40) },
	}
	for _, f := range tartest.SparseFormats {
		cases["sparse "+f] = func(w *tartest.Tar) {
			// Each under the size cap, together over it: 600 MiB from ~2 KB.
			w.Sparse(f, "package/dist/studio/assets/a.js", 300<<20)
			w.Sparse(f, "package/dist/studio/assets/b.js", 300<<20)
		}
	}
	for desc, add := range cases {
		t.Run(desc, func(t *testing.T) {
			work, tmp := t.TempDir(), t.TempDir()
			t.Chdir(work)
			t.Setenv("TMPDIR", tmp)
			w := tartest.Package("1.31.0")
			add(w)
			must(t, os.WriteFile("bomb.tgz", w.Gzip(), 0o644))
			code, _, stderr := runCLI(t, "build", "--studio", "bomb.tgz", "--out", "out")
			want := `studiobake: studio tarball bomb.tgz: `
			if code != 1 || !strings.HasPrefix(stderr, want) || !strings.Contains(stderr, `"package/dist/studio/assets/a.js"`) {
				t.Errorf("exit %d, stderr %q; want exit 1 and %q naming package/dist/studio/assets/a.js", code, stderr, want)
			}
			if _, err := os.Stat("out"); !os.IsNotExist(err) {
				t.Errorf("a failed build left out/ behind")
			}
			if left, _ := os.ReadDir(tmp); len(left) > 0 {
				t.Errorf("the temporary directory holds %v after the failure", left)
			}
		})
	}
}

// TestPublicManifest: the manifest is served only when asked for.
func TestPublicManifest(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, public := range []bool{false, true} {
		args := []string{"build", "--studio", testTree(t), "-q", "--out", "d"}
		if public {
			args = append(args, "--public-manifest")
		}
		if code, _, stderr := runCLI(t, args...); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		_, err := os.Stat(filepath.Join("d", "site", build.PublicManifest))
		if public != (err == nil) {
			t.Errorf("--public-manifest=%v: site/%s exists = %v", public, build.PublicManifest, err == nil)
		}
	}
}

func TestVersionAndHelp(t *testing.T) {
	if code, out, _ := runCLI(t, "version"); code != 0 || !strings.HasPrefix(out, "studiobake ") {
		t.Errorf("version: exit %d, %q", code, out)
	}
	for _, args := range [][]string{{"--help"}, {"build", "--help"}} {
		code, out, _ := runCLI(t, args...)
		if code != 0 || !strings.Contains(out, "studiobake") {
			t.Errorf("%v: exit %d, %q", args, code, out)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestReadmeListsEveryFlag keeps the README true: every command and every
// flag of the CLI must appear in it.
func TestReadmeListsEveryFlag(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	must(t, err)
	app := newApp(io.Discard, io.Discard)
	for _, c := range app.Commands {
		if !bytes.Contains(readme, []byte("studiobake "+c.Name)) {
			t.Errorf("README has no example of `studiobake %s`", c.Name)
		}
		for _, f := range allFlags(c) {
			for _, name := range f.Names() {
				if len(name) > 1 && name != "help" && !bytes.Contains(readme, []byte("`--"+name)) {
					t.Errorf("README does not document %s --%s", c.Name, name)
				}
			}
		}
	}
}

func allFlags(c *urfave.Command) []urfave.Flag {
	flags := append([]urfave.Flag{}, c.Flags...)
	for _, s := range c.Subcommands {
		flags = append(flags, allFlags(s)...)
	}
	return flags
}

// TestSeveralInvalidValues: every invalid setting is reported at once, one
// "studiobake: " line each.
func TestSeveralInvalidValues(t *testing.T) {
	t.Chdir(t.TempDir())
	code, _, stderr := runCLI(t, "build", "--studio", testTree(t), "--set", "MASTRA_SERVER_PORT=80a", "--set", "MASTRA_SERVER_PROTOCOL=ftp")
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if code != 1 || len(lines) != 2 {
		t.Fatalf("exit %d, stderr %q: want exit 1 and two lines", code, stderr)
	}
	for i, want := range []string{"MASTRA_SERVER_PROTOCOL", "MASTRA_SERVER_PORT"} {
		if !strings.HasPrefix(lines[i], "studiobake: invalid ") || !strings.Contains(stderr, want) {
			t.Errorf("line %q: want 'studiobake: invalid ...' naming %s", lines[i], want)
		}
	}
}

// TestExitCodes: 0, 1 and 2 and nothing else, whatever the path, each
// failure with one line that says what to do.
func TestExitCodes(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"bogus"}, 2, `unknown command "bogus"`},
		{[]string{"biuld"}, 2, `did you mean "build"?`},
		{[]string{"help", "bogus"}, 2, `no help topic "bogus"`},
		{[]string{"build", "/path/to/studio"}, 2, `build takes no arguments, got "/path/to/studio"`},
		{[]string{"build", "extra", "--out", "site"}, 2, "flags go before arguments"},
		{[]string{"releases", "x"}, 2, "releases takes no arguments"},
		{[]string{"build", "--bsae-path", "/x"}, 2, "unknown flag --bsae-path; did you mean --base-path?"},
		{[]string{"publish", "--distrbution-id", "E1"}, 2, "did you mean --distribution-id?"},
		{[]string{"build", "--zzz"}, 2, "unknown flag --zzz"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			work := t.TempDir()
			t.Chdir(work)
			code, stdout, stderr := runCLI(t, c.args...)
			if code != c.code || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
				t.Fatalf("exit %d, stderr %q, stdout %q; want exit %d and one line with %q", code, stderr, stdout, c.code, c.want)
			}
			if _, err := os.Stat("site"); !os.IsNotExist(err) {
				t.Fatal("a usage error wrote output")
			}
		})
	}
	// A child process's status satisfies cli.ExitCoder; it must not leak out.
	var errb bytes.Buffer
	child := exec.Command("sh", "-c", "exit 7").Run()
	if code := exitCode(context.Background(), fmt.Errorf("npm config get registry: %w", child), &errb); code != exitError {
		t.Fatalf("a child's exit 7 became exit %d", code)
	}
	// Cancelled work (Ctrl-C) says so and exits 1.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	errb.Reset()
	if code := exitCode(ctx, fmt.Errorf("fetch: %w", context.Canceled), &errb); code != exitError || !strings.Contains(errb.String(), "interrupted (Ctrl-C)") {
		t.Fatalf("cancelled: exit %d, %q", code, errb.String())
	}
}

// TestNothingIgnored: a flag given twice that takes one value, and build
// settings next to publish --dir, are usage errors before anything runs.
func TestNothingIgnored(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"publish", "--bucket", "b", "--distribution-id", "E1", "--distribution-id=E2"}, `--distribution-id is given twice ("E1" and "E2")`},
		{[]string{"build", "--out", "a", "--out", "b"}, `--out is given twice`},
		{[]string{"publish", "--dir", "dist", "--bucket", "b", "--base-path", "/x", "--edge", "nginx"}, "publish --dir dist publishes that bake as it is, so --base-path, --edge would do nothing"},
	} {
		work := t.TempDir()
		t.Chdir(work)
		code, _, stderr := runCLI(t, c.args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", c.args, code, stderr, c.want)
		}
	}
	// Repeatable flags stay repeatable.
	work := t.TempDir()
	t.Chdir(work)
	if code, _, stderr := runCLI(t, "build", "--studio", testTree(t), "-q", "--edge", "nginx", "--edge", "netlify", "--set", "MASTRA_TEMPLATES=true", "--set", "MASTRA_TELEMETRY_DISABLED=true"); code != 0 {
		t.Fatalf("repeated slice flags: exit %d %s", code, stderr)
	}
}
