package e2e

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// needNode skips (fails in CI) without node, npm and npx.
func needNode(t *testing.T) {
	t.Helper()
	for _, name := range []string{"node", "npm", "npx", "bash"} {
		if _, err := exec.LookPath(name); err != nil {
			need(t, "%s not found on PATH (install Node.js 18+ with npm)", name)
		}
	}
}

// repoRoot is the module root, where release/ and npm/ live.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// npmPlatform is this machine's platform as Node names it, and the binary's
// file name there.
func npmPlatform(t *testing.T) (platform, exe string) {
	t.Helper()
	out, err := exec.Command("node", "-p", `process.platform + "-" + process.arch`).Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	exe = "studiobake"
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	return strings.TrimSpace(string(out)), exe
}

// result is how a command ended.
type result struct {
	code           int
	stdout, stderr string
}

func runCmd(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%s: %v", cmd, err)
	}
	return result{cmd.ProcessState.ExitCode(), out.String(), errb.String()}
}

// installedLayout stages the npm packages around bin with npm/stage.js, as
// npm/pack.sh does, and lays them out the way npm installs them:
// proj/node_modules/studiobake and proj/node_modules/@studiobake/PLATFORM.
// It returns the launcher script and the platform package's directory.
func installedLayout(t *testing.T, bin string) (launcher, pkgDir string) {
	t.Helper()
	platform, exe := npmPlatform(t)
	tmp := t.TempDir()
	build := filepath.Join(tmp, "build")
	copyFile(t, bin, filepath.Join(build, platform, exe))
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	writeFile(t, filepath.Join(build, "SHA256SUMS"), fmt.Sprintf("%s  %s/%s\n", hex.EncodeToString(sum[:]), platform, exe))
	stage := filepath.Join(tmp, "stage")
	if out, err := exec.Command("node", filepath.Join(repoRoot(t), "npm", "stage.js"), build, stage, "0.1.0-test", platform).CombinedOutput(); err != nil {
		t.Fatalf("npm/stage.js: %v\n%s", err, out)
	}
	nm := filepath.Join(tmp, "proj", "node_modules")
	pkgDir = filepath.Join(nm, "@studiobake", platform)
	for from, to := range map[string]string{"studiobake": filepath.Join(nm, "studiobake"), platform: pkgDir} {
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(stage, from), to); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(nm, "studiobake", "bin", "studiobake.js"), pkgDir
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeBytes(t, to, b, 0o755)
}

func writeFile(t *testing.T, name, text string) { writeBytes(t, name, []byte(text), 0o644) }

func writeBytes(t *testing.T, name string, b []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, b, mode); err != nil {
		t.Fatal(err)
	}
}

// TestNpmLauncherErrors breaks an installed layout the ways a machine can and
// requires one clear error from the launcher, naming the platform and what to
// do, with exit 1 and nothing run.
func TestNpmLauncherErrors(t *testing.T) {
	needNode(t)
	bin := studiobakeBin(t)
	platform, exe := npmPlatform(t)
	other := "darwin-arm64"
	if platform == other {
		other = "linux-x64"
	}
	cases := []struct {
		name    string
		breakIt func(t *testing.T, pkgDir string)
		arch    string // pretend process.arch is this
		want    []string
	}{
		{"unsupported platform", nil, "mips",
			[]string{"no prebuilt binary for this platform (" + runtime.GOOS + "-mips)", "linux-x64", "go install github.com/studiobake/studiobake@v0.1.0-test"}},
		{"platform package not installed", func(t *testing.T, dir string) { os.RemoveAll(dir) }, "",
			[]string{"the package @studiobake/" + platform, "is not installed", "--omit=optional"}},
		{"node_modules from another platform", func(t *testing.T, dir string) {
			if err := os.Rename(dir, filepath.Join(filepath.Dir(dir), other)); err != nil {
				t.Fatal(err)
			}
		}, "", []string{"@studiobake/" + other + " is", "installed on another machine", "npm ci"}},
		{"package.json unreadable", func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, "package.json"), "{not json") }, "",
			[]string{"is damaged: its package.json cannot be read", "run npm install again"}},
		{"versions differ", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "package.json"), `{"name": "@studiobake/`+platform+`", "version": "9.9.9"}`)
		}, "", []string{"is version 9.9.9 but studiobake is 0.1.0-test", "npm install -D studiobake@0.1.0-test"}},
		{"binary missing", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "bin", exe)) }, "",
			[]string{"is damaged", exe + " is missing"}},
		{"binary truncated", func(t *testing.T, dir string) {
			if err := os.Truncate(filepath.Join(dir, "bin", exe), 1<<20); err != nil {
				t.Fatal(err)
			}
		}, "", []string{"is damaged", "has 1048576 bytes, the release has"}},
		{"binary overwritten", func(t *testing.T, dir string) {
			f, err := os.OpenFile(filepath.Join(dir, "bin", exe), os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt([]byte("#!/bin/sh\necho ran\n"), 0); err != nil {
				t.Fatal(err)
			}
		}, "", []string{"is damaged", "is not a " + runtime.GOOS + " executable"}},
		{"no execute permission", func(t *testing.T, dir string) {
			if err := os.Chmod(filepath.Join(dir, "bin", exe), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "", []string{"has no execute permission", "mode 644", "chmod +x"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			launcher, pkgDir := installedLayout(t, bin)
			args := []string{launcher, "version"}
			if c.arch != "" {
				pre := filepath.Join(t.TempDir(), "arch.js")
				writeFile(t, pre, fmt.Sprintf("Object.defineProperty(process, 'arch', { value: %q });\n", c.arch))
				args = append([]string{"--require", pre}, args...)
			}
			if c.breakIt != nil {
				c.breakIt(t, pkgDir)
			}
			r := runCmd(t, exec.Command("node", args...))
			if r.code != 1 || r.stdout != "" || !strings.HasPrefix(r.stderr, "studiobake: ") {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 1 and one error", r.code, r.stdout, r.stderr)
			}
			if c.arch == "" && !strings.Contains(r.stderr, platform) {
				t.Errorf("error does not name the platform %s: %s", platform, r.stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("error lacks %q:\n%s", w, r.stderr)
				}
			}
		})
	}
}

// TestNpmLauncherPassesThrough runs commands through the launcher and
// directly, and requires the same stdout, stderr and exit code: arguments
// with spaces, quotes and non-ASCII text arrive unchanged.
func TestNpmLauncherPassesThrough(t *testing.T) {
	needNode(t)
	bin := studiobakeBin(t)
	launcher, _ := installedLayout(t, bin)
	out := t.TempDir()
	cases := [][]string{
		{"version"},
		{"build", "--no-such-flag"},
		{"build", "--studio", "/no such dir/ünïcode 'q' \"dq\" $HOME", "--out", out},
		{"build", "-q", "--studio", filepath.Join("..", "testdata", "studio", "v1.31"), "--base-path", "/a?b", "--out", out},
		{"build", "-q", "--studio", filepath.Join("..", "testdata", "studio", "v1.31"), "--base-path", "/agents", "--out", out},
	}
	for _, args := range cases {
		direct := runCmd(t, exec.Command(bin, args...))
		via := runCmd(t, exec.Command("node", append([]string{launcher}, args...)...))
		if via != direct {
			t.Errorf("%q through the launcher: %+v\ndirectly: %+v", args, via, direct)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "manifest.json")); err != nil {
		t.Errorf("the bake through the launcher wrote no manifest: %v", err)
	}
}

// TestNpmLauncherSignals runs `studiobake serve` through the launcher and
// stops it the ways a terminal, a CI runner and the kernel do.
func TestNpmLauncherSignals(t *testing.T) {
	needNode(t)
	if runtime.GOOS == "windows" {
		t.Skip("POSIX signals")
	}
	bin := studiobakeBin(t)
	launcher, _ := installedLayout(t, bin)
	dist := filepath.Join(t.TempDir(), "dist")
	if r := runCmd(t, exec.Command(bin, "build", "-q", "--studio", filepath.Join("..", "testdata", "studio", "v1.31"), "--out", dist)); r.code != 0 {
		t.Fatalf("build: %+v", r)
	}
	serve := func(t *testing.T) *child {
		cmd := exec.Command("node", launcher, "serve", "--quiet", "--port", "0", dist)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a group of its own, as a shell's job
		c, url := startServe(t, cmd)
		conn, err := net.Dial("tcp", strings.TrimPrefix(strings.TrimSuffix(url, "/"), "http://"))
		if err != nil {
			t.Fatalf("serve at %s: %v", url, err)
		}
		conn.Close()
		return c
	}
	wait := func(t *testing.T, c *child) {
		select {
		case <-c.done:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
			<-c.done
			t.Fatal("still running 15s after the signal")
		}
	}
	t.Run("SIGTERM to the launcher reaches the binary", func(t *testing.T) {
		c := serve(t)
		if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		wait(t, c)
		if c.err != nil || c.stderr.String() != "" {
			t.Errorf("after SIGTERM: %v, stderr %q; want a clean stop (exit 0)", c.err, c.stderr.String())
		}
	})
	t.Run("Ctrl-C to the process group stops it once, cleanly", func(t *testing.T) {
		c := serve(t)
		// The terminal signals the whole group: the binary gets it directly
		// and again from the launcher.
		if err := syscall.Kill(-c.cmd.Process.Pid, syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		wait(t, c)
		if c.err != nil || c.stderr.String() != "" {
			t.Errorf("after Ctrl-C: %v, stderr %q; want a clean stop (exit 0)", c.err, c.stderr.String())
		}
	})
	t.Run("a binary killed by a signal: the launcher ends by it too", func(t *testing.T) {
		if runtime.GOOS != "linux" {
			t.Skip("finds the child through /proc")
		}
		c := serve(t)
		pid := c.cmd.Process.Pid
		kids, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		if err != nil || len(strings.Fields(string(kids))) != 1 {
			t.Fatalf("the launcher's children: %q, %v", kids, err)
		}
		var kid int
		fmt.Sscan(string(kids), &kid)
		if err := syscall.Kill(kid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		wait(t, c)
		ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Errorf("launcher ended with %v; want killed by SIGKILL, as the binary was", c.cmd.ProcessState)
		}
	})
}

// TestNpmPackedInstall takes the path a user takes, without the network:
// npm/pack.sh packs the launcher and this platform's package, npm installs
// both into a fresh Node project offline (the registry is a closed port on
// 127.0.0.1, so any fetch fails), with the pinned mastra unpacked where npm
// puts it, and npx runs studiobake there: --version, a bake of that
// node_modules/mastra, and failing commands whose exit code and message
// pass through.
func TestNpmPackedInstall(t *testing.T) {
	needNode(t)
	tgz := os.Getenv("STUDIOBAKE_MASTRA_TGZ")
	if tgz == "" {
		need(t, "STUDIOBAKE_MASTRA_TGZ is not set (the tarball `npm pack mastra@1.31.0` writes; .ci/run sets it)")
	}
	root := repoRoot(t)
	var pkg struct{ Version string }
	readJSON(t, filepath.Join(root, "npm", "studiobake", "package.json"), &pkg)
	platform, _ := npmPlatform(t)

	packed := t.TempDir()
	pack := exec.Command("bash", filepath.Join(root, "npm", "pack.sh"), packed)
	if out, err := pack.CombinedOutput(); err != nil {
		t.Fatalf("npm/pack.sh: %v\n%s", err, out)
	}
	tarballs := []string{
		filepath.Join(packed, "studiobake-"+pkg.Version+".tgz"),
		filepath.Join(packed, "studiobake-"+platform+"-"+pkg.Version+".tgz"),
	}

	proj, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(proj, "package.json"), `{"name": "studio-app", "version": "1.0.0", "private": true}`+"\n")
	env := offlineEnv(t, proj)
	npm := func(args ...string) result {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir, cmd.Env = proj, env
		return runCmd(t, cmd)
	}
	if r := npm(append([]string{"npm", "install", "-D"}, tarballs...)...); r.code != 0 {
		t.Fatalf("npm install of the packed tarballs, offline: %+v", r)
	}
	untar(t, tgz, filepath.Join(proj, "node_modules", "mastra"))

	if r := npm("npx", "studiobake", "--version"); r.code != 0 || r.stdout != "studiobake version v"+pkg.Version+"\n" {
		t.Errorf("npx studiobake --version: %+v; want studiobake version v%s", r, pkg.Version)
	}
	if r := npm("npx", "studiobake", "build", "-q", "--base-path", "/agents"); r.code != 0 {
		t.Fatalf("npx studiobake build: %+v", r)
	}
	var m struct {
		Studio struct{ Origin, Version string }
	}
	readJSON(t, filepath.Join(proj, "dist", "manifest.json"), &m)
	if want := "node_modules " + filepath.Join(proj, "node_modules", "mastra"); m.Studio.Origin != want || m.Studio.Version != "1.31.0" {
		t.Errorf("the bake's studio: origin %q, version %q; want %q (the project's own mastra), 1.31.0", m.Studio.Origin, m.Studio.Version, want)
	}
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"build", "--base-path", "/a?b"}, 1, `invalid MASTRA_STUDIO_BASE_PATH "/a?b"`},
		{[]string{"build", "--no-such-flag"}, 2, "no-such-flag"},
	} {
		r := npm(append([]string{"npx", "studiobake"}, c.args...)...)
		if r.code != c.code || !strings.HasPrefix(r.stderr, "studiobake: ") || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("npx studiobake %q: %+v; want exit %d and studiobake's error naming %q", c.args, r, c.code, c.msg)
		}
	}
}

// offlineEnv keeps npm off the network: offline, a fresh cache, and a
// registry on a closed 127.0.0.1 port so that any fetch fails at once.
func offlineEnv(t *testing.T, proj string) []string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	env := []string{
		"npm_config_offline=true",
		"npm_config_registry=http://" + closed + "/",
		"npm_config_cache=" + filepath.Join(t.TempDir(), "npm-cache"),
		"npm_config_userconfig=" + filepath.Join(proj, "no-user-npmrc"),
		"npm_config_fetch_retries=0",
		"npm_config_audit=false",
		"npm_config_fund=false",
		"npm_config_update_notifier=false",
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(strings.ToLower(kv), "npm_config_") {
			env = append(env, kv)
		}
	}
	return env
}

func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// untar unpacks an npm tarball's package/ into dest, as npm would.
func untar(t *testing.T, tgz, dest string) {
	t.Helper()
	f, err := os.Open(tgz)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", tgz, err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", tgz, err)
		}
		rel, ok := strings.CutPrefix(h.Name, "package/")
		if h.Typeflag != tar.TypeReg || !ok || !filepath.IsLocal(rel) {
			continue
		}
		name := filepath.Join(dest, rel)
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, tr); err != nil {
			t.Fatal(err)
		}
		out.Close()
	}
}
