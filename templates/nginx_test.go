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
)

// TestNginxRouting runs the generated server block in a real nginx and
// replays the routing fixtures: a pass-through must serve that file (or 404
// when the bake lacks it), an answer must have the fixture's status.
func TestNginxRouting(t *testing.T) {
	exe, err := exec.LookPath("nginx")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("nginx not installed: CI tests the generated server block in a real nginx")
		}
		t.Skip("nginx not installed")
	}
	fx := loadRouting(t)
	for bake := range fx.Bakes {
		t.Run(bake, func(t *testing.T) {
			m := fx.manifest(bake)
			base := startNginx(t, exe, m)
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			for _, c := range fx.Cases {
				if c.Bake != bake {
					continue
				}
				checkNginxCase(t, client, base, m, c.Name, c.URI, c.Query, c.Want.URI, c.Want.Status, c.Want.Location)
			}
		})
	}
}

func checkNginxCase(t *testing.T, client *http.Client, base string, m *build.Manifest, name, uri, query, wantURI string, wantStatus int, wantLoc string) {
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
// the generated server block.
func startNginx(t *testing.T, exe string, m *build.Manifest) string {
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
	server := strings.Replace(string(files["studio.conf"]), "listen 80;", "listen "+addr+";", 1)
	server = strings.Replace(server, "root /srv/studio;", "root "+root+";", 1)
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
