// Package s3test starts a real S3-compatible server (versitygw) for tests:
// publish's own, the command layer's and the end-to-end ones.
package s3test

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Server is a running versitygw on 127.0.0.1 with the bucket "site",
// access key "test" and secret "testsecret".
type Server struct {
	Endpoint string // http://127.0.0.1:PORT
	LogPath  string // access log: one line per request, with its operation
	Data     string // the posix backend's directory: a bucket is a folder
}

// Find returns the versitygw binary: $VERSITYGW, PATH, ~/go/bin.
func Find() string {
	if p := os.Getenv("VERSITYGW"); p != "" && exists(p) {
		return p
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	if home, err := os.UserHomeDir(); err == nil {
		if p := filepath.Join(home, "go", "bin", "versitygw"); exists(p) {
			return p
		}
	}
	return ""
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// Start starts a server for the test, stopped when it ends. Without the
// binary the test is skipped, except with CI=true, where it fails.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Find()
	if bin == "" {
		msg := "versitygw not found ($VERSITYGW, PATH, ~/go/bin): go install github.com/versity/versitygw/cmd/versitygw@v1.8.0"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	data := t.TempDir()
	if err := os.Mkdir(filepath.Join(data, "site"), 0o755); err != nil {
		t.Fatal(err)
	}
	addr := FreeAddr(t)
	logPath := filepath.Join(t.TempDir(), "access.log")
	cmd := exec.Command(bin, "--access", "test", "--secret", "testsecret", "--port", addr,
		"--access-log", logPath, "--quiet", "posix", data)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	WaitListening(t, addr, &out)
	return &Server{Endpoint: "http://" + addr, LogPath: logPath, Data: data}
}

// Env isolates the AWS SDK from the user's configuration and gives it the
// server's credentials.
func Env(t testing.TB) {
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "testsecret",
		"AWS_SESSION_TOKEN": "", "AWS_PROFILE": "", "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE": filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(t.TempDir(), "none")} {
		t.Setenv(k, v)
	}
}

// FreeAddr is a free 127.0.0.1:PORT.
func FreeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// WaitListening polls until a server accepts connections (versitygw takes
// about 0.2 s); there is no readiness signal to wait on instead.
func WaitListening(t testing.TB, addr string, log *bytes.Buffer) {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the S3 server did not listen on %s: %s", addr, log.String())
}
