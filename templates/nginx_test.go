package templates

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/studiobake/studiobake/build"
	"github.com/studiobake/studiobake/templates/proxytest"
)

// TestNginxRouting runs the generated server block in a real nginx and
// replays the routing fixtures: a pass-through must serve that file (or 404
// when the bake lacks it), an answer must have the fixture's status.
func TestNginxRouting(t *testing.T) {
	exe := nginxExe(t)
	fx := loadRouting(t)
	for bake := range fx.Bakes {
		t.Run(bake, func(t *testing.T) {
			m := fx.manifest(bake)
			base := startNginx(t, exe, m, nil)
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			for _, c := range fx.Cases {
				if c.Bake != bake {
					continue
				}
				checkServedCase(t, client, base, m, c.Name, c.URI, c.Query, c.Want.URI, c.Want.Status, c.Want.Location)
			}
		})
	}
}

func nginxExe(t *testing.T) string {
	t.Helper()
	exe, err := exec.LookPath("nginx")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("nginx not installed: CI tests the generated server block in a real nginx")
		}
		t.Skip("nginx not installed")
	}
	return exe
}

// checkServedCase checks one routing fixture against a host serving the
// bake's files (nginx, wrangler pages dev), each holding "file PATH": a
// pass-through must serve that file (or 404 when the bake lacks it) with
// the security and cache headers, an answer must have the fixture's status.
func checkServedCase(t *testing.T, client *http.Client, base string, m *build.Manifest, name, uri, query, wantURI string, wantStatus int, wantLoc string) {
	t.Helper()
	req, err := http.NewRequest("GET", base+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Opaque sends the URI as written, bad escapes included.
	req.URL.Opaque, req.URL.RawQuery = uri, query
	resp, err := client.Do(req)
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if wantURI == "" {
		if resp.StatusCode != wantStatus {
			t.Errorf("%s: GET %s: status %d, want %d", name, uri, resp.StatusCode, wantStatus)
		}
		if loc := resp.Header.Get("Location"); wantLoc != "" && !strings.HasSuffix(loc, wantLoc) {
			t.Errorf("%s: Location %q, want %q", name, loc, wantLoc)
		}
		return
	}
	file := strings.TrimPrefix(wantURI, m.BasePath+"/")
	if m.File(file) == nil {
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: GET %s: status %d for a file the bake lacks, want 404", name, uri, resp.StatusCode)
		}
		return
	}
	if resp.StatusCode != 200 || string(body) != "file "+file {
		t.Errorf("%s: GET %s: %d %q, want the content of %s", name, uri, resp.StatusCode, body, file)
	}
	if resp.Header.Get("Content-Security-Policy") == "" || resp.Header.Get("Cache-Control") == "" {
		t.Errorf("%s: GET %s: security or cache headers missing: %v", name, uri, resp.Header)
	}
}

// startNginx writes the bake's files (each holding "file PATH") under the
// base path of a document root and runs nginx on a free loopback port with
// the generated configuration, changed by edit when it is not nil.
func startNginx(t *testing.T, exe string, m *build.Manifest, edit func(string) string) string {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	for _, f := range m.Files {
		p := filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(m.BasePath, "/")), filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("file "+f.Path), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	headers := map[string]string{HeaderCSP: "default-src 'self'", HeaderNoSniff: "nosniff"}
	files, err := nginxFiles(m, headers)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	server := strings.Replace(string(files[NginxFile]), "listen 80;", "listen "+addr+";", 1)
	server = strings.Replace(server, "root /srv/studio;", "root "+root+";", 1)
	if edit != nil {
		server = edit(server)
	}
	conf := fmt.Sprintf("pid %[1]s/nginx.pid;\nerror_log %[1]s/error.log;\nevents {}\nhttp {\n  access_log off;\n"+
		"  client_body_temp_path %[1]s/body; proxy_temp_path %[1]s/proxy; fastcgi_temp_path %[1]s/fcgi;\n"+
		"  uwsgi_temp_path %[1]s/uwsgi; scgi_temp_path %[1]s/scgi;\n%[2]s}\n", dir, server)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// master_process off: one process, no switch to an unprivileged user
	// that could not read the temporary directory.
	cmd := exec.Command(exe, "-p", dir, "-c", confPath, "-g", "daemon off; master_process off;")
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "http://" + addr
		}
		time.Sleep(50 * time.Millisecond)
	}
	errLog, _ := os.ReadFile(filepath.Join(dir, "error.log"))
	t.Fatalf("nginx did not start: %s\n%s", out, errLog)
	return ""
}

// TestNginxAPI runs the one-origin configuration in a real nginx against a
// fake Mastra server: the API prefix reaches it unchanged (dotted agent ids
// included), with the forwarding headers and without buffering the agent's
// event stream; Studio's root probe answers 200; Studio's files still route.
// In same-origin mode the user's own plain location /api/ must win over
// Studio's regex locations.
func TestNginxAPI(t *testing.T) {
	exe := nginxExe(t)
	up := proxytest.New(t)
	files := []string{"index.html", "assets/main-AbCdEf12.js", "mastra-dark-tile.svg"}
	userAPI := func(conf string) string {
		return strings.Replace(conf, "server {\n", "server {\n    location /api/ {\n        proxy_pass "+up.URL+";\n    }\n", 1)
	}
	for _, c := range []struct {
		name, base string
		mode       build.APIMode
		edit       func(string) string
	}{
		{"one-origin at /agents", "/agents", build.APIOneOrigin, nil},
		{"one-origin at the root", "", build.APIOneOrigin, nil},
		{"same-origin with the user's location", "/agents", build.APISameOrigin, userAPI},
		{"same-origin at the root with the user's location", "", build.APISameOrigin, userAPI},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := &build.Manifest{Schema: build.ManifestSchema, BasePath: c.base, Entry: build.EntryFile, Routes: []string{"agents"},
				API: build.API{Mode: c.mode, Prefix: "/api", Probe: "(page origin)/"}}
			if c.mode == build.APIOneOrigin {
				m.API.Upstream = up.URL
			}
			for _, f := range files {
				m.Files = append(m.Files, build.File{Path: f, Cache: map[bool]build.CacheClass{true: build.Immutable, false: build.Revalidate}[strings.HasPrefix(f, "assets/")]})
			}
			base := startNginx(t, exe, m, c.edit)
			page := strings.TrimPrefix(base, "http://")
			fwd := proxytest.Forwarded{Host: page, Proto: "http", For: "127.0.0.1"}
			if c.edit != nil {
				// The user's location forwards as it likes; it only has to get the request.
				up.Send(t, base, "GET", "/api/agents/support.bot-v1.2?x=1", "")
				return
			}
			up.CheckEcho(t, base, "GET", "/api/agents/support.bot-v1.2?x=1", "", fwd)
			up.CheckEcho(t, base, "POST", "/api/auth/sso/callback", `{"a":1}`, fwd)
			up.CheckEcho(t, base, "GET", "/api/auth/capabilities", "", fwd)
			up.CheckStream(t, base)
			checkNginxStudio(t, base, c.base)
		})
	}
}

// checkNginxStudio checks what Studio needs beside the API: the root probe,
// deep links, cache headers per file.
func checkNginxStudio(t *testing.T, origin, basePath string) {
	t.Helper()
	for _, c := range []struct{ path, body, cache string }{
		{"/", "", "no-store"},
		{basePath + "/agents/support.bot-v1.2", "file index.html", "public, max-age=0, must-revalidate"},
		{basePath + "/assets/main-AbCdEf12.js", "file assets/main-AbCdEf12.js", "public, max-age=31536000, immutable"},
		{basePath + "/refresh-events", "", "no-store"},
	} {
		if basePath == "" && c.path == "/" {
			c.body, c.cache = "file index.html", "public, max-age=0, must-revalidate"
		}
		resp, err := http.Get(origin + c.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 || (c.body != "" && string(body) != c.body) || resp.Header.Get("Cache-Control") != c.cache {
			t.Errorf("GET %s: %d %q Cache-Control %q, want 2xx %q Cache-Control %q", c.path, resp.StatusCode, body, resp.Header.Get("Cache-Control"), c.body, c.cache)
		}
	}
}
