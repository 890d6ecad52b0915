// Package hosttest runs a ready folder (build --edge netlify, cloudflare) in
// its host's own local runtime, for the routing tests of templates and for
// check's end-to-end tests: Cloudflare's `wrangler pages dev` (workerd, the
// runtime Pages deploys to) and Netlify's `netlify dev` (its redirect and
// headers engines in front of a static server). Each needs no network
// beyond loopback; .ci/run installs both from npm, pinned.
package hosttest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// WranglerCompatDate pins the Workers runtime behaviour the tests run.
const WranglerCompatDate = "2025-01-01"

// Wrangler finds wrangler: $STUDIOBAKE_WRANGLER (what .ci/run installs),
// else wrangler on PATH; it skips the test without one, and fails it in CI.
func Wrangler(t *testing.T) string {
	return find(t, "STUDIOBAKE_WRANGLER", "wrangler",
		"CI runs the Cloudflare Pages folder in wrangler pages dev",
		"npm install wrangler, then set STUDIOBAKE_WRANGLER to node_modules/.bin/wrangler")
}

// Netlify finds the Netlify CLI: $STUDIOBAKE_NETLIFY (a script .ci/run
// writes, running the pinned netlify-cli under Node 22), else netlify on
// PATH.
func Netlify(t *testing.T) string {
	return find(t, "STUDIOBAKE_NETLIFY", "netlify",
		"CI runs the Netlify folder in netlify dev",
		"npm install netlify-cli (it needs Node 22), then set STUDIOBAKE_NETLIFY to node_modules/.bin/netlify")
}

func find(t *testing.T, envVar, name, why, how string) string {
	t.Helper()
	exe := os.Getenv(envVar)
	if exe == "" {
		exe, _ = exec.LookPath(name)
	}
	if exe == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found (%s unset, none on PATH): %s", name, envVar, why)
		}
		t.Skipf("%s not installed: %s", name, how)
	}
	return exe
}

// StartWrangler serves the Cloudflare Pages folder pub with wrangler pages
// dev on a free loopback port and returns its origin. Telemetry, update
// checks and the Request.cf download are off.
//
// Its inspector gets a free port too (its default, 9229, is shared by every
// wrangler on the machine: tests of two packages run at once), and a start
// that loses a port to another process between the pick and the listen is
// tried again.
func StartWrangler(t *testing.T, exe, pub string) string {
	t.Helper()
	for attempt := 1; ; attempt++ {
		port, inspector := freePort(t), freePort(t)
		work := t.TempDir()
		cmd := exec.Command(exe, "pages", "dev", pub, "--ip", "127.0.0.1", "--port", fmt.Sprint(port),
			"--inspector-port", fmt.Sprint(inspector), "--compatibility-date", WranglerCompatDate, "--log-level", "warn")
		cmd.Env = append(os.Environ(), "WRANGLER_SEND_METRICS=false", "WRANGLER_SEND_ERROR_REPORTS=false",
			"WRANGLER_HIDE_BANNER=true", "CLOUDFLARE_CF_FETCH_ENABLED=false", "WRANGLER_LOG_PATH="+filepath.Join(work, "logs"))
		if origin := start(t, cmd, work, port, "wrangler pages dev", attempt < 3); origin != "" {
			return origin
		}
	}
}

// StartNetlify serves the Netlify folder pub with netlify dev, offline, on
// a free loopback port and returns its origin. Edge functions are off (the
// folder has none, and their runtime is downloaded on start): the flag is
// the CLI's own, internal, and pinned with it in .ci/run.
//
// Unlike Netlify itself, netlify dev's static server sets Cache-Control:
// public, max-age=0 on every file, over the _headers rules.
func StartNetlify(t *testing.T, exe, pub string) string {
	t.Helper()
	port := freePort(t)
	work := t.TempDir()
	// netlify dev listens on every interface and has no flag to change it.
	loopback := filepath.Join(work, "loopback.cjs")
	if err := os.WriteFile(loopback, []byte(loopbackJS), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "dev", "--offline", "--dir", pub, "--port", fmt.Sprint(port), "--no-open",
		"--internal-disable-edge-functions", "--skip-gitignore")
	cmd.Env = append(os.Environ(), "NETLIFY_TELEMETRY_DISABLED=1", "BROWSER=none",
		"NODE_OPTIONS=--require "+loopback)
	return start(t, cmd, work, port, "netlify dev", false)
}

// loopbackJS makes every server of a node process that names no host listen
// on 127.0.0.1 instead of on every interface.
const loopbackJS = `const net = require('net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const a = args[0];
  if (a !== null && typeof a === 'object' && a.host === undefined && a.path === undefined && !(a instanceof net.Server)) {
    args[0] = Object.assign({}, a, { host: '127.0.0.1' });
  } else if (typeof a === 'number' && typeof args[1] !== 'string') {
    args.splice(1, 0, '127.0.0.1');
  }
  return listen.apply(this, args);
};
`

// start runs cmd in work with a home of its own, in its own process group
// (the runners start children: workerd, a static server) so that the whole
// group ends with the test, and waits for the port to answer. With
// retryBusy, a runner that exits because a port was taken returns "".
func start(t *testing.T, cmd *exec.Cmd, work string, port int, what string, retryBusy bool) string {
	t.Helper()
	cmd.Dir = work
	// The runner's own node (npm's node package beside it) comes first.
	cmd.Env = append(cmd.Env, "PATH="+filepath.Dir(cmd.Path)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"HOME="+work, "XDG_CONFIG_HOME="+filepath.Join(work, "config"), "CI=")
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		if t.Failed() {
			t.Logf("%s output:\n%s", what, out)
		}
	})
	origin := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			if retryBusy && strings.Contains(out.String(), "Address already in use") {
				t.Logf("%s lost a port to another process; starting it again", what)
				return ""
			}
			t.Fatalf("%s exited:\n%s", what, out)
		default:
		}
		if resp, err := http.Get(origin + "/studiobake-ready-probe"); err == nil {
			resp.Body.Close()
			return origin
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s did not answer within 90 s:\n%s", what, out)
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
