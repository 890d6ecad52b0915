package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/studiobake/studiobake/check/checktest"
)

func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/agents/"
}

func TestCheckCommandUnreachable(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"studiobake", "check", "--timeout", "1s", closedURL(t)}, &out, &errOut)
	if code != exitError {
		t.Fatalf("exit %d, want %d", code, exitError)
	}
	if errOut.Len() != 0 {
		t.Errorf("stderr %q, want nothing: the report is the output", errOut.String())
	}
	text := out.String()
	if n := strings.Count(text, "FAIL  "); n != 12 || !strings.Contains(text, "connection refused") ||
		!strings.HasSuffix(text, "check: 0 passed, 12 failed\n") || strings.Contains(text, "goroutine") {
		t.Errorf("report:\n%s", text)
	}
}

func TestCheckCommandJSON(t *testing.T) {
	var out, errOut bytes.Buffer
	// Flags after the URL, as people type them.
	code := run(context.Background(), []string{"studiobake", "check", closedURL(t), "--json", "--timeout=1s"}, &out, &errOut)
	var rep struct {
		Items  []struct{ ID, Status, Detail, Fix string }
		Failed int
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out.String())
	}
	if code != exitError || rep.Failed != 12 || rep.Items[0].ID != "page" || rep.Items[0].Fix == "" {
		t.Errorf("exit %d, report %+v", code, rep)
	}
}

func TestCheckCommandUsage(t *testing.T) {
	for _, args := range [][]string{{"check"}, {"check", "a", "b"},
		{"check", "http://x/", "--bogus"}, {"check", "http://x/", "--timeout", "soon"}} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), append([]string{"studiobake"}, args...), &out, &errOut)
		if code != exitUsage || !strings.HasPrefix(errOut.String(), "studiobake: check: ") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut.String())
		}
	}
	// An invalid value, not a usage mistake: exit 1 like every invalid value.
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"studiobake", "check", "cdn.example.com"}, &out, &errOut)
	if code != exitError || !strings.Contains(errOut.String(), `studiobake: check: invalid URL "cdn.example.com"`) {
		t.Errorf("check cdn.example.com: exit %d, stderr %q", code, errOut.String())
	}
}

// tinyBake writes the smallest bake serve accepts: one page and its manifest.
func tinyBake(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	page := []byte(`<!doctype html><html><head><script>window.MASTRA_STUDIO_BASE_PATH = '';</script></head><body><div id="root"></div></body></html>`)
	if err := os.MkdirAll(filepath.Join(dir, "site"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "site", "index.html"), page, 0o644); err != nil {
		t.Fatal(err)
	}
	manifest := `{"schema": 1, "basePath": "", "entry": "index.html", "files": [` +
		`{"path": "index.html", "size": ` + strconv.Itoa(len(page)) + `, "contentType": "text/html; charset=utf-8", "cache": "revalidate"}]}`
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestServeCommandPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"studiobake", "serve", "--dir", tinyBake(t), "--port", port}, &out, &errOut)
	want := "studiobake: cannot listen on 127.0.0.1:" + port + ": the port is in use"
	if code != exitError || !strings.HasPrefix(errOut.String(), want) || strings.Count(errOut.String(), "\n") != 1 {
		t.Errorf("exit %d, stderr %q, want one line starting %q", code, errOut.String(), want)
	}
}

func TestServeCommandServesUntilCancelled(t *testing.T) {
	t.Setenv("STUDIOBAKE_PORT", "0") // flag > env: the env var picks the port here
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"studiobake", "serve", "--dir", tinyBake(t)}, &out, &errOut) }()
	u := waitURL(t, &out)
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("GET %s: %d, CSP %q", u, resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("exit %d after Ctrl-C, want 0; stderr %q", code, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// syncBuffer is a bytes.Buffer safe to read while the command writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestCheckCommandAPIPrecedence: --api beats STUDIOBAKE_CHECK_API, which is read.
func TestCheckCommandAPIPrecedence(t *testing.T) {
	t.Setenv("STUDIOBAKE_CHECK_API", "ftp://not-http/")
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"studiobake", "check", "--timeout", "1s", closedURL(t)}, &out, &errOut)
	if code != exitError || !strings.Contains(errOut.String(), `invalid --api "ftp://not-http/"`) {
		t.Errorf("env only: exit %d, stderr %q", code, errOut.String())
	}
	out.Reset()
	errOut.Reset()
	code = run(context.Background(), []string{"studiobake", "check", closedURL(t), "--api", "http://127.0.0.1:1/api", "--timeout", "1s"}, &out, &errOut)
	if code != exitError || errOut.Len() != 0 {
		t.Errorf("flag over env: exit %d, stderr %q", code, errOut.String())
	}
}

// TestBuildServeCheckCLI runs the user's path through the CLI: build the real
// Studio for /agents against a fake Mastra API, serve it, check it (exit 0),
// then break the API's CORS and check again (exit 1, the API items fail).
func TestBuildServeCheckCLI(t *testing.T) {
	studio := os.Getenv("STUDIOBAKE_STUDIO_DIR")
	if studio == "" && testing.Short() {
		t.Skip("-short: not fetching mastra; set STUDIOBAKE_STUDIO_DIR to a Studio tree")
	}
	api := checktest.New(checktest.Options{})
	defer api.Close()
	out := filepath.Join(t.TempDir(), "dist")
	args := []string{"studiobake", "build", "-q", "--out", out, "--base-path", "/agents",
		"--server-url", api.URL + "/api", "--set", "MASTRA_TELEMETRY_DISABLED=true"}
	if studio != "" {
		args = append(args, "--studio", studio)
	}
	var bout, berr bytes.Buffer
	if code := run(context.Background(), args, &bout, &berr); code != exitOK {
		if os.Getenv("CI") != "true" && studio == "" {
			t.Skipf("no Studio tree (set STUDIOBAKE_STUDIO_DIR): %s", berr.String())
		}
		t.Fatalf("build: exit %d: %s", code, berr.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	var sout, serr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"studiobake", "serve", "-q", "--dir", out, "--port", "0"}, &sout, &serr)
	}()
	defer func() { cancel(); <-done }()
	site := waitURL(t, &sout)
	api.AllowOrigin(strings.TrimSuffix(site, "/agents/"))

	var cout, cerr bytes.Buffer
	if code := run(context.Background(), []string{"studiobake", "check", site}, &cout, &cerr); code != exitOK {
		t.Fatalf("check: exit %d\n%s%s", code, cout.String(), cerr.String())
	}
	api.SetCORS(checktest.NoCORS)
	cout.Reset()
	code := run(context.Background(), []string{"studiobake", "check", site, "--json"}, &cout, &cerr)
	var rep struct{ Items []struct{ ID, Status string } }
	if err := json.Unmarshal(cout.Bytes(), &rep); err != nil || code != exitError {
		t.Fatalf("check without CORS: exit %d, %v\n%s", code, err, cout.String())
	}
	var failed []string
	for _, it := range rep.Items {
		if it.Status == "fail" {
			failed = append(failed, it.ID)
		}
	}
	if strings.Join(failed, ",") != "api-root,api-preflight,api-auth-capabilities" {
		t.Errorf("without CORS failed %v", failed)
	}
}

// waitURL reads the Studio URL serve prints.
func waitURL(t *testing.T, out *syncBuffer) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if i := strings.Index(out.String(), "http://127.0.0.1:"); i >= 0 {
			return strings.Fields(out.String()[i:])[0]
		}
	}
	t.Fatalf("serve printed no URL: %q", out.String())
	return ""
}

// TestServeArguments: the bake directory may be given as the one argument;
// more arguments are a usage error (2), an invalid port an error (1).
func TestServeArguments(t *testing.T) {
	notBake := t.TempDir()
	cases := []struct {
		desc string
		args []string
		code int
		want string
	}{
		{"directory as the argument", []string{"serve", notBake}, 1, notBake},
		{"the argument beats --dir", []string{"serve", "--dir", "/nonexistent/x", notBake}, 1, notBake},
		{"two arguments", []string{"serve", notBake, "extra"}, 2, `unexpected argument "extra"`},
		{"invalid port", []string{"serve", "--port", "70000", notBake}, 1, "invalid --port 70000"},
	}
	for _, c := range cases {
		code, _, stderr := runCLI(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d and %q", c.desc, code, stderr, c.code, c.want)
		}
	}
}

// TestServeCommandAPIRefused: a bad --api (or STUDIOBAKE_SERVE_API) is one
// line naming the flag and the value, exit 1, and nothing listens.
func TestServeCommandAPIRefused(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  string
		want string
	}{
		{[]string{"--api", "localhost:4111"}, "", `studiobake: invalid --api "localhost:4111": want an absolute http:// or https:// URL`},
		{nil, "http://localhost:4111/api", `studiobake: invalid --api "http://localhost:4111/api": a path is not allowed`},
		{[]string{"--api", "http://localhost:4111"}, "", "studiobake: --api http://localhost:4111: this bake's page calls the Mastra API at"},
	} {
		t.Setenv("STUDIOBAKE_SERVE_API", c.env)
		var out, errOut bytes.Buffer
		args := append([]string{"studiobake", "serve", "--port", "0", "--dir", tinyBake(t)}, c.args...)
		code := run(context.Background(), args, &out, &errOut)
		if code != exitError || !strings.HasPrefix(errOut.String(), c.want) || strings.Count(errOut.String(), "\n") != 1 || out.Len() != 0 {
			t.Errorf("%v (env %q): exit %d, stdout %q, stderr %q, want one line starting %q", c.args, c.env, code, out.String(), errOut.String(), c.want)
		}
	}
}
