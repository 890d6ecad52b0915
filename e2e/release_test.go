package e2e

import (
	"debug/elf"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestReleaseReproducible builds this platform's release binary twice with
// release/build.sh: once here, once from a copy of the source at another path
// with an empty build cache. The SHA256SUMS must be the same, and the binary
// stamped, static and stripped.
func TestReleaseReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the release binary twice, once with an empty build cache (minutes)")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		need(t, "bash not found: release/build.sh is a bash script")
	}
	root := repoRoot(t)
	copyRoot := filepath.Join(t.TempDir(), "elsewhere", "studiobake")
	copyTree(t, root, copyRoot)

	build := func(src, out string, env ...string) string {
		cmd := exec.Command("bash", filepath.Join(src, "release", "build.sh"), out, "current")
		cmd.Env = append(os.Environ(), append([]string{"VERSION=1.2.3-repro"}, env...)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("release/build.sh in %s: %v\n%s", src, err, b)
		}
		sums, err := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
		if err != nil {
			t.Fatal(err)
		}
		return string(sums)
	}
	a := filepath.Join(t.TempDir(), "a")
	first := build(root, a)
	second := build(copyRoot, filepath.Join(t.TempDir(), "b"), "GOCACHE="+filepath.Join(t.TempDir(), "gocache"))
	if first != second || !regexp.MustCompile(`^[0-9a-f]{64}  \S+/studiobake(\.exe)?\n$`).MatchString(first) {
		t.Fatalf("two builds of the same source differ (or SHA256SUMS is malformed):\n%s\n%s", first, second)
	}

	bin := filepath.Join(a, strings.Fields(first)[1])
	if out, err := exec.Command(bin, "--version").Output(); err != nil || string(out) != "studiobake version v1.2.3-repro\n" {
		t.Errorf("%s --version: %q, %v; want the stamped version v1.2.3-repro", bin, out, err)
	}
	// The CloudFront client reaches publish/cdn through method values
	// (cdn.CloudFrontClient): held in an interface, it would carry all of
	// CloudFront's operations (6 MB). A call studiobake makes must be there,
	// one it never makes must not.
	exe, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(exe), "GetDistributionConfigInput") {
		t.Errorf("%s lacks CloudFront's GetDistributionConfig, which publish --associate calls", bin)
	}
	for _, unused := range []string{"AssociateDistributionTenantWebACLInput", "CreateStreamingDistributionInput"} {
		if strings.Contains(string(exe), unused) {
			t.Errorf("%s carries CloudFront's %s, which studiobake never calls: is a *cloudfront.Client held in an interface (see publish/cdn/clients.go)?", bin, unused)
		}
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Logf("not ELF, static and stripped checks skipped: %v", err)
		return
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s is dynamically linked (%v): want CGO_ENABLED=0", bin, p.Type)
		}
	}
	if f.Section(".symtab") != nil {
		t.Errorf("%s has a symbol table: want -ldflags -s", bin)
	}
}

// copyTree copies the source tree, without .git and build output.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	skip := []string{".git", "dist", filepath.Join("testdata", "artifacts"), filepath.Join("bench", "out")}
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if slices.Contains(skip, rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil // .git is a file in a git worktree
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(to, rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatalf("copy %s: %v", from, err)
	}
}

// TestReleasePlatforms: release/build.sh builds exactly the platforms the
// npm launcher depends on, and refuses bad input before building anything.
func TestReleasePlatforms(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		need(t, "bash not found: release/build.sh is a bash script")
	}
	root := repoRoot(t)
	script, err := os.ReadFile(filepath.Join(root, "release", "build.sh"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^all=\(([^)]*)\)$`).FindSubmatch(script)
	if m == nil {
		t.Fatal("release/build.sh has no all=(...) list of platforms")
	}
	built := strings.Fields(string(m[1]))
	var pkg struct {
		Version              string
		OptionalDependencies map[string]string
	}
	readJSON(t, filepath.Join(root, "npm", "studiobake", "package.json"), &pkg)
	var npm []string
	for name, v := range pkg.OptionalDependencies {
		npm = append(npm, strings.TrimPrefix(name, "@studiobake/"))
		if v != pkg.Version {
			t.Errorf("optionalDependencies %s is %s; want the package's version %s", name, v, pkg.Version)
		}
	}
	slices.Sort(built)
	slices.Sort(npm)
	if !slices.Equal(built, npm) {
		t.Errorf("release/build.sh builds %v; the npm launcher depends on %v", built, npm)
	}

	for _, c := range []struct {
		args    []string
		version string
		code    int
		msg     string
	}{
		{[]string{"out", "plan9-x64"}, "", 2, `unknown platform "plan9-x64"`},
		{[]string{"out", "linux-x64"}, "v1.0", 1, `invalid VERSION "v1.0"`},
		{nil, "", 2, "usage: release/build.sh OUTDIR"},
	} {
		dir := t.TempDir()
		cmd := exec.Command("bash", append([]string{filepath.Join(root, "release", "build.sh")}, c.args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "VERSION="+c.version)
		r := runCmd(t, cmd)
		if r.code != c.code || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("release/build.sh %q (VERSION=%q): %+v; want exit %d and %q", c.args, c.version, r, c.code, c.msg)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("release/build.sh %q wrote %d entries before refusing", c.args, len(entries))
		}
	}
}
