// Package nginxtest runs generated nginx configuration (edge/nginx/) in a
// real nginx on a free loopback port, for the tests of templates and e2e.
package nginxtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BrotliModule is where Debian's libnginx-mod-http-brotli-static puts the
// brotli_static module.
const BrotliModule = "/usr/lib/nginx/modules/ngx_http_brotli_static_module.so"

// mimeTypes is the Debian package's table of types by extension.
const mimeTypes = "/etc/nginx/mime.types"

// Exe finds nginx: PATH, then /usr/sbin. Without it the test is skipped,
// except in CI, where it must not pass unseen.
func Exe(t testing.TB) string {
	t.Helper()
	if exe, err := exec.LookPath("nginx"); err == nil {
		return exe
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("nginx not installed: CI tests the generated server block in a real nginx")
	}
	t.Skip("nginx not installed")
	return ""
}

// Options say how to run the configuration.
type Options struct {
	// Files are edge/nginx/'s files by name: the server configuration
	// (Conf) and the files it includes, installed beside nginx.conf.
	Files map[string][]byte
	Conf  string
	// Root replaces root /srv/studio.
	Root string
	// Modules are loaded with load_module (absolute paths).
	Modules []string
	// Edit changes the configuration further.
	Edit func(string) string
}

// Start runs nginx with o until the test ends and returns its base URL,
// http://127.0.0.1:PORT.
func Start(t testing.TB, exe string, o Options) string {
	t.Helper()
	dir := t.TempDir()
	addr := freeAddr(t)
	server := strings.Replace(string(o.Files[o.Conf]), "listen 80;", "listen "+addr+";", 1)
	server = strings.Replace(server, "root /srv/studio;", "root "+o.Root+";", 1)
	if o.Edit != nil {
		server = o.Edit(server)
	}
	for name, b := range o.Files {
		if name != o.Conf {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	var load strings.Builder
	for _, m := range o.Modules {
		fmt.Fprintf(&load, "load_module %s;\n", m)
	}
	if _, err := os.Stat(mimeTypes); err == nil {
		// What nginx.conf of a package install includes: types by extension.
		server = "include " + mimeTypes + ";\n" + server
	}
	conf := fmt.Sprintf("%[3]spid %[1]s/nginx.pid;\nerror_log %[1]s/error.log;\nevents {}\nhttp {\n  access_log off;\n"+
		"  client_body_temp_path %[1]s/body; proxy_temp_path %[1]s/proxy; fastcgi_temp_path %[1]s/fcgi;\n"+
		"  uwsgi_temp_path %[1]s/uwsgi; scgi_temp_path %[1]s/scgi;\n%[2]s}\n", dir, server, load.String())
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

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
