package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mastraToken signs in to the test app's SimpleAuth (e2e/testdata/mastra-app).
const mastraToken = "sk-test-studiobake-e2e"

// mastraOptions choose how the real Mastra server starts: the test app reads
// these at start, so one `mastra build` serves every scenario.
type mastraOptions struct {
	Port       int    // 0 picks a free one
	Auth       bool   // SimpleAuth with mastraToken (STUDIO_E2E_AUTH=1)
	CORSOrigin string // answered with credentials (STUDIO_E2E_CORS_ORIGIN); "" keeps Mastra's default
}

// mastraServer is a running real Mastra server.
type mastraServer struct {
	Origin string // http://127.0.0.1:PORT
	Port   int
	log    lockedBuffer
}

// mastraApp finds what .ci/run prepared: Node >= 22.13 (STUDIOBAKE_NODE22)
// and the test app's `mastra build` output (STUDIOBAKE_MASTRA_APP).
func mastraApp(t *testing.T) (node, app string) {
	t.Helper()
	node, app = os.Getenv("STUDIOBAKE_NODE22"), os.Getenv("STUDIOBAKE_MASTRA_APP")
	if node == "" || app == "" {
		need(t, "no real Mastra server: set STUDIOBAKE_NODE22 (Node >= 22.13) and STUDIOBAKE_MASTRA_APP "+
			"(e2e/testdata/mastra-app built with `mastra build`, its .mastra/output); .ci/run shows how")
	}
	if _, err := os.Stat(node); err != nil {
		need(t, "STUDIOBAKE_NODE22=%s: %v", node, err)
	}
	if _, err := os.Stat(filepath.Join(app, "index.mjs")); err != nil {
		need(t, "STUDIOBAKE_MASTRA_APP=%s is not a mastra build output: %v", app, err)
	}
	return node, app
}

// freePort asks the kernel for a free loopback port. Someone else may take
// it before it is used; the tests start their servers right away.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startMastra runs the test app's built server on 127.0.0.1, waits until
// it answers GET /, and stops it (SIGTERM) when the test ends.
func startMastra(t *testing.T, o mastraOptions) *mastraServer {
	t.Helper()
	node, app := mastraApp(t)
	if o.Port == 0 {
		o.Port = freePort(t)
	}
	m := &mastraServer{Port: o.Port, Origin: "http://127.0.0.1:" + strconv.Itoa(o.Port)}
	cmd := exec.Command(node, "index.mjs")
	cmd.Dir = app
	auth := ""
	if o.Auth {
		auth = "1"
	}
	cmd.Env = append(os.Environ(), "STUDIO_E2E_PORT="+strconv.Itoa(o.Port), "STUDIO_E2E_HOST=127.0.0.1",
		"STUDIO_E2E_AUTH="+auth, "STUDIO_E2E_CORS_ORIGIN="+o.CORSOrigin, "MASTRA_TELEMETRY_DISABLED=1", "NODE_ENV=production")
	cmd.Stdout, cmd.Stderr = &m.log, &m.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the Mastra server: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { m.stop(t, cmd, done) })
	if err := m.waitReady(done, 60*time.Second); err != nil {
		t.Fatalf("Mastra server on port %d: %v\n%s", o.Port, err, m.log.String())
	}
	return m
}

// waitReady polls GET / until the server answers 200 (its welcome page).
func (m *mastraServer) waitReady(done chan error, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", m.Origin+"/", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-done:
			done <- err // for stop
			return fmt.Errorf("exited before answering (%v)", err)
		case <-ctx.Done():
			return fmt.Errorf("no 200 on GET / within %v", limit)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop ends the server the way a process manager would and keeps its log.
func (m *mastraServer) stop(t *testing.T, cmd *exec.Cmd, done chan error) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Errorf("the Mastra server did not stop within 10s of SIGTERM")
	}
	name := "mastra-" + sanitize(t.Name()) + ".log"
	if err := os.WriteFile(filepath.Join(artifactsDir(t), name), []byte(m.log.String()), 0o644); err != nil {
		t.Errorf("server log: %v", err)
	}
}

// sanitize makes a test name a file name.
func sanitize(name string) string {
	return strings.NewReplacer("/", "-", " ", "_").Replace(name)
}

// TestRealMastraServer pins what studiobake relies on about the real
// server: `/` answers 200 (Studio's root probe), the auth capabilities
// Studio reads, and SimpleAuth's session cookie (SameSite=Lax, host-only, no
// Secure even behind an https proxy), which is why Studio Auth needs one
// site and, for CDNs, one origin.
func TestRealMastraServer(t *testing.T) {
	t.Run("no auth", func(t *testing.T) {
		m := startMastra(t, mastraOptions{})
		resp, body := get(t, m.Origin+"/", nil)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Errorf("GET /: %d %s, want 200 text/html", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if _, body = get(t, m.Origin+"/api/auth/capabilities", nil); body != `{"enabled":false,"login":null}` {
			t.Errorf("capabilities without auth: %s", body)
		}
		if _, body = get(t, m.Origin+"/api/agents", nil); !strings.Contains(body, `"weather-agent":`) || !strings.Contains(body, `"support.bot-v1.2":`) {
			t.Errorf("GET /api/agents lacks the app's agents: %.200s", body)
		}
		if resp, _ = get(t, m.Origin+"/api/agents/support.bot-v1.2", nil); resp.StatusCode != 200 {
			t.Errorf("GET /api/agents/support.bot-v1.2: %d", resp.StatusCode)
		}
	})
	t.Run("SimpleAuth and CORS", func(t *testing.T) {
		const studio = "http://studio.example.test:8080"
		m := startMastra(t, mastraOptions{Auth: true, CORSOrigin: studio})
		resp, body := get(t, m.Origin+"/api/auth/capabilities", http.Header{"Origin": {studio}})
		if body != `{"enabled":true,"login":{"type":"credentials","signUpEnabled":false}}` {
			t.Errorf("capabilities with SimpleAuth: %s", body)
		}
		if resp.Header.Get("Access-Control-Allow-Origin") != studio || resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
			t.Errorf("CORS for %s: %v", studio, resp.Header)
		}
		if resp, _ = get(t, m.Origin+"/api/auth/capabilities", http.Header{"Origin": {"http://other.example.test"}}); resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("an origin not listed got Access-Control-Allow-Origin %q", resp.Header.Get("Access-Control-Allow-Origin"))
		}
		if resp, _ = get(t, m.Origin+"/", nil); resp.StatusCode != 200 {
			t.Errorf("GET / with auth on: %d, want 200 (Studio's root probe carries no credentials)", resp.StatusCode)
		}
		if resp, _ = get(t, m.Origin+"/api/agents", nil); resp.StatusCode != 401 {
			t.Errorf("GET /api/agents without a session: %d, want 401", resp.StatusCode)
		}
		cookie := signInCookie(t, m.Origin)
		want := "mastra-token=" + mastraToken + "; Path=/; HttpOnly; SameSite=Lax; Max-Age=86400"
		if cookie != want {
			t.Errorf("sign-in behind an https proxy set %q, want %q", cookie, want)
		}
		if resp, _ = get(t, m.Origin+"/api/agents", http.Header{"Cookie": {"mastra-token=" + mastraToken}}); resp.StatusCode != 200 {
			t.Errorf("GET /api/agents with the session cookie: %d", resp.StatusCode)
		}
	})
}

// signInCookie signs in the way Studio does, through a proxy that says the
// page was https on another host, and returns the Set-Cookie header.
func signInCookie(t *testing.T, origin string) string {
	t.Helper()
	req, err := http.NewRequest("POST", origin+"/api/auth/credentials/sign-in",
		strings.NewReader(`{"email":"e2e@example.com","password":"`+mastraToken+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-Host", "studio.example.test")
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	return resp.Header.Get("Set-Cookie")
}

func get(t *testing.T, u string, h http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h
	if req.Header == nil {
		req.Header = http.Header{}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return resp, string(b)
}
