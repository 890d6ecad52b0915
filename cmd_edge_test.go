package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/studiobake/studiobake/build"
	"github.com/studiobake/studiobake/publish/cdn"
	"github.com/studiobake/studiobake/publish/cdn/cdntest"
	"github.com/studiobake/studiobake/templates"
	"github.com/urfave/cli/v2"
)

// parseEdge runs the edge flags through a bare app, as build does before
// baking, and returns edgeOptions' result.
func parseEdge(t *testing.T, args ...string) (*templates.EdgeOptions, error) {
	t.Helper()
	var opts *templates.EdgeOptions
	var optErr error
	app := &cli.App{Name: "t", Flags: edgeFlags(), Writer: &bytes.Buffer{}, ErrWriter: &bytes.Buffer{},
		Action: func(c *cli.Context) error { opts, optErr = edgeOptions(c); return nil }}
	if err := app.Run(append([]string{"t"}, args...)); err != nil {
		t.Fatal(err)
	}
	return opts, optErr
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAuthAddUser(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"studiobake", "auth", "add-user", "alice"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	line := strings.TrimSpace(stdout.String())
	users, err := templates.ParseUsers(strings.NewReader(line), "stdout")
	if err != nil || len(users) != 1 || users[0].Name != "alice" {
		t.Fatalf("stdout %q: %v", line, err)
	}
	pw := regexp.MustCompile(`: (\S+)\n$`).FindStringSubmatch(stderr.String())
	if pw == nil || templates.HashPassword(users[0].Salt, pw[1]) != users[0].Hash {
		t.Fatalf("stderr %q does not hold the password of the hash line", stderr.String())
	}
	if strings.Contains(stdout.String(), pw[1]) {
		t.Error("password printed to stdout")
	}
	if code := run(context.Background(), []string{"studiobake", "auth", "add-user", "bad name"}, &stdout, &stderr); code != exitError {
		t.Error("bad name accepted")
	}
}

func TestEdgeFlags(t *testing.T) {
	u, _, _ := templates.NewUser("alice")
	users := writeFile(t, "users.txt", u.Line()+"\n")
	secret := writeFile(t, "secret", strings.Repeat("k", 40)+"\n")
	arn := "arn:aws:cloudfront::123456789012:key-value-store/abc"
	o, err := parseEdge(t, "--edge", "cloudfront,nginx", "--auth", "basic", "--auth", "ip,cookie", "--auth-users", users,
		"--allow-cidr", "10.0.0.0/8", "--allow-cidr", "2001:db8::1", "--login-url", "https://login.example.com/",
		"--cookie-secret-file", secret, "--kvs-arn", arn)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Hosts) != 2 || o.Auth.Basic == nil || o.Auth.Cookie == nil || len(o.Auth.AllowCIDRs) != 2 {
		t.Fatalf("options: %+v", o)
	}
	if o.Auth.AllowCIDRs[1].Bits() != 128 {
		t.Errorf("cidr %v", o.Auth.AllowCIDRs[1])
	}
	if o, err := parseEdge(t); o != nil || err != nil {
		t.Errorf("no --edge: %v %v", o, err)
	}
	t.Setenv("STUDIOBAKE_EDGE", "netlify")
	if o, err := parseEdge(t); err != nil || o.Hosts[0] != templates.Netlify {
		t.Errorf("STUDIOBAKE_EDGE: %v %v", o, err)
	}
	if o, _ := parseEdge(t, "--edge", "nginx"); o.Hosts[0] != templates.Nginx {
		t.Errorf("flag does not beat the environment: %v", o.Hosts)
	}
}

func TestEdgeFlagsBadInput(t *testing.T) {
	u, _, _ := templates.NewUser("alice")
	users := writeFile(t, "users.txt", u.Line()+"\n")
	badUsers := writeFile(t, "bad.txt", u.Line()+"\nbob:hunter2\n")
	binary := writeFile(t, "binary-secret", "\xff\xfe"+strings.Repeat("k", 40))
	arn := "arn:aws:cloudfront::123456789012:key-value-store/abc"
	cases := []struct {
		desc string
		args []string
		want string
	}{
		{"unknown host", []string{"--edge", "vercel"}, `invalid --edge "vercel"`},
		{"unknown mode", []string{"--edge", "cloudfront", "--auth", "oauth"}, `invalid --auth "oauth"`},
		{"auth without cloudfront", []string{"--edge", "netlify", "--auth", "ip", "--allow-cidr", "10.0.0.0/8"}, "add --edge cloudfront"},
		{"malformed users line", []string{"--edge", "cloudfront", "--auth", "basic", "--auth-users", badUsers}, "bad.txt line 2"},
		{"missing users file", []string{"--edge", "cloudfront", "--auth", "basic"}, "needs --auth-users"},
		{"bad CIDR", []string{"--edge", "cloudfront", "--auth", "ip", "--allow-cidr", "10.0.0.0/33"}, `invalid --allow-cidr "10.0.0.0/33"`},
		{"relative login URL", []string{"--edge", "cloudfront", "--auth", "cookie", "--login-url", "/login", "--kvs-arn", arn}, `invalid --login-url "/login"`},
		{"secret not UTF-8", []string{"--edge", "cloudfront", "--auth", "cookie", "--login-url", "https://l.example.com/", "--kvs-arn", arn,
			"--cookie-secret-file", binary}, "invalid --cookie-secret-file " + binary + ": the secret is not UTF-8 text"},
		{"setting without its mode", []string{"--edge", "cloudfront", "--auth", "basic", "--auth-users", users, "--login-url", "https://x/"}, "--login-url is only used with --auth cookie"},
		{"realm without basic", []string{"--edge", "cloudfront", "--auth", "ip", "--allow-cidr", "10.0.0.0/8", "--auth-realm", "R"}, "--auth-realm is only used with --auth basic"},
		{"cookie name without cookie", []string{"--edge", "cloudfront", "--auth", "ip", "--allow-cidr", "10.0.0.0/8", "--cookie-name", "s"}, "--cookie-name is only used with --auth cookie"},
		{"weak-users override without basic", []string{"--edge", "cloudfront", "--auth", "ip", "--allow-cidr", "10.0.0.0/8", "--allow-weak-users"}, "--allow-weak-users is only used with --auth basic"},
		{"KVS ARN nothing reads", []string{"--edge", "cloudfront", "--auth", "basic", "--auth-users", users, "--kvs-arn", arn}, "--kvs-arn is only used with"},
	}
	for _, c := range cases {
		_, err := parseEdge(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.desc, err, c.want)
		}
	}
	t.Setenv("STUDIOBAKE_COOKIE_SECRET", strings.Repeat("z", 32))
	_, err := parseEdge(t, "--edge", "cloudfront", "--auth", "cookie", "--login-url", "/login", "--kvs-arn", arn)
	if err == nil || !strings.Contains(err.Error(), `invalid --login-url "/login"`) {
		t.Errorf("relative login URL with a secret: %v", err)
	}
}

// TestBuildWeakUsers: a users line made by hand (a hash of a chosen
// password) fails the build, exit 1, naming the file and the user, unless
// --allow-weak-users turns it into a warning; add-user's lines pass quietly.
func TestBuildWeakUsers(t *testing.T) {
	t.Chdir(t.TempDir())
	gen, _, _ := templates.NewUser("alice")
	salt := strings.Repeat("5a", 16)
	byHand := "bob:sha256:" + salt + ":" + templates.HashPassword(salt, "Summer2024!")
	must(t, os.WriteFile("users.txt", []byte(gen.Line()+"\n"+byHand+"\n"), 0o600))
	must(t, os.WriteFile("good.txt", []byte(gen.Line()+"\n"), 0o600))
	build := func(users string, extra ...string) (int, string) {
		args := append([]string{"build", "--studio", testTree(t), "--out", "out", "-q", "--force",
			"--edge", "cloudfront", "--auth", "basic", "--auth-users", users}, extra...)
		code, _, stderr := runCLI(t, args...)
		return code, stderr
	}
	code, stderr := build("users.txt")
	want := "studiobake: users.txt: user bob without add-user's check"
	if code != 1 || !strings.HasPrefix(stderr, want) || !strings.Contains(stderr, "--allow-weak-users") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("exit %d, stderr %q; want exit 1 and one line starting %q", code, stderr, want)
	}
	if _, err := os.Stat("out"); !os.IsNotExist(err) {
		t.Error("a refused build wrote out/")
	}
	code, stderr = build("users.txt", "--allow-weak-users")
	if code != 0 || !strings.Contains(stderr, "studiobake: warning: users.txt: user bob without add-user's check") {
		t.Errorf("with --allow-weak-users: exit %d, stderr %q; want 0 and a warning", code, stderr)
	}
	if code, stderr = build("good.txt"); code != 0 || stderr != "" {
		t.Errorf("add-user's lines: exit %d, stderr %q; want 0 and nothing", code, stderr)
	}
}

// TestGateFlags: --associate and --headers-policy need --function-name,
// and --function-name on a bake without a gate is a usage error, all before
// any AWS request.
func TestGateFlags(t *testing.T) {
	plain := filepath.Join(t.TempDir(), "d")
	if code, _, stderr := runCLI(t, "build", "--studio", testTree(t), "-q", "--out", plain); code != 0 {
		t.Fatalf("build: exit %d: %s", code, stderr)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--associate"}, "--associate needs --function-name"},
		{[]string{"--headers-policy"}, "--headers-policy needs --function-name"},
		{[]string{"--function-name", "gate"}, "build it with --edge cloudfront"},
		{[]string{"--function-name", "gate", "--replace-functions"}, "--replace-functions is only used with --associate"},
		{[]string{"--function-name", "gate", "--bucket-origin", "s3"}, "--bucket-origin is only used with --associate"},
	}
	for _, c := range cases {
		args := append([]string{"publish", "--dir", plain, "--bucket", "my-studio"}, c.args...)
		code, _, stderr := runCLI(t, args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", c.args, code, stderr, c.want)
		}
	}
}

// TestBuildEdgeBadInputWritesNothing runs build end to end: a bad edge
// setting found before the bake creates no output directory, and one found
// only when compiling the gate (too many users for 10 KB) leaves an earlier
// bake as it was.
func TestBuildEdgeBadInputWritesNothing(t *testing.T) {
	t.Chdir(t.TempDir())
	base := []string{"build", "--studio", testTree(t), "-q", "--out", "d", "--edge", "cloudfront"}
	code, _, stderr := runCLI(t, append(base, "--auth", "ip", "--allow-cidr", "10.0.0.0/33")...)
	if code != 1 || !strings.Contains(stderr, `invalid --allow-cidr "10.0.0.0/33"`) || strings.Count(stderr, "\n") != 1 {
		t.Errorf("bad CIDR: exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat("d"); !os.IsNotExist(err) {
		t.Fatalf("bad CIDR created the output directory: %v", err)
	}
	if code, _, stderr := runCLI(t, base...); code != 0 {
		t.Fatalf("good build: exit %d: %s", code, stderr)
	}
	fn := filepath.Join("d", build.EdgeDir, "cloudfront", templates.FunctionFile)
	before, err := os.ReadFile(fn)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for i := 0; i < 120; i++ {
		u, _, _ := templates.NewUser(fmt.Sprintf("user%d", i))
		lines = append(lines, u.Line())
	}
	users := writeFile(t, "users.txt", strings.Join(lines, "\n")+"\n")
	code, _, stderr = runCLI(t, append(base, "--auth", "basic", "--auth-users", users)...)
	if code != 1 || !strings.Contains(stderr, "CloudFront allows 10240") || !strings.Contains(stderr, "--users-in-kvs") {
		t.Errorf("gate over 10 KB: exit %d, stderr %q", code, stderr)
	}
	if after, _ := os.ReadFile(fn); !bytes.Equal(after, before) {
		t.Error("a failed build changed the earlier bake's gate")
	}
}

// TestEdgeExitCodes: an invalid value exits 1; calling the command wrongly
// (a setting without what it needs) exits 2.
func TestEdgeExitCodes(t *testing.T) {
	tree, err := filepath.Abs(filepath.Join("testdata", "studio", "v1.31"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		code int
	}{
		{[]string{"--edge", "vercel"}, exitError},
		{[]string{"--edge", "cloudfront", "--auth", "oauth"}, exitError},
		{[]string{"--edge", "netlify", "--auth", "ip", "--allow-cidr", "10.0.0.0/8"}, exitUsage},
	}
	for _, c := range cases {
		args := append([]string{"studiobake", "build", "--studio", tree, "--out", filepath.Join(t.TempDir(), "d")}, c.args...)
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, &out, &errb); code != c.code {
			t.Errorf("%v: exit %d (%s), want %d", c.args, code, errb.String(), c.code)
		}
	}
}

// TestBuildEdgeOutputs: build --edge writes the CloudFormation stack beside
// the gate and the ready folders beside site/, each with the site in it.
func TestBuildEdgeOutputs(t *testing.T) {
	work := t.TempDir()
	t.Chdir(work)
	code, _, stderr := runCLI(t, "build", "--studio", testTree(t), "--base-path", "/agents", "-q",
		"--edge", "cloudfront,netlify,cloudflare", "--stack-domain", "studio.example.com",
		"--stack-certificate-arn", "arn:aws:acm:us-east-1:123456789012:certificate/abc")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	stack, err := os.ReadFile(filepath.Join("dist", "edge", "cloudfront", cdn.StackFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"AWS::CloudFront::Distribution", "Default: studio.example.com", "Prefix:", "Value: agents/"} {
		if !strings.Contains(string(stack), want) {
			t.Errorf("stack.yaml lacks %q", want)
		}
	}
	for _, h := range []string{"netlify", "cloudflare"} {
		for _, f := range []string{"_headers", "_redirects", "404.html", "agents/index.html"} {
			if _, err := os.Stat(filepath.Join("dist", h, f)); err != nil {
				t.Errorf("dist/%s: %v", h, err)
			}
		}
	}
	// A second build replaces the first, ready folders included.
	if code, _, stderr := runCLI(t, "build", "--studio", testTree(t), "--base-path", "/agents", "-q", "--edge", "netlify"); code != 0 {
		t.Fatalf("rebuild: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join("dist", "cloudflare")); !os.IsNotExist(err) {
		t.Errorf("dist/cloudflare survived a build without --edge cloudflare: %v", err)
	}
}

// TestStoreNamedAtDeploy: a gate that reads a KeyValueStore builds without
// --kvs-arn (its code names no store): the stack creates the store and
// names it in an output, and publish --dir takes the store and the
// secrets when it deploys; a store to write to that nothing names is an
// error before any upload.
func TestStoreNamedAtDeploy(t *testing.T) {
	u, _, _ := templates.NewUser("alice")
	users := writeFile(t, "users.txt", u.Line()+"\n")
	secret := writeFile(t, "secret", strings.Repeat("k", 40)+"\n")
	out := filepath.Join(t.TempDir(), "dist")
	if code, _, stderr := runCLI(t, "build", "--studio", testTree(t), "-q", "--out", out, "--edge", "cloudfront",
		"--auth", "basic,cookie", "--auth-users", users, "--users-in-kvs", "--login-url", "https://login.example.com/"); code != 0 {
		t.Fatalf("build without --kvs-arn: exit %d: %s", code, stderr)
	}
	edge := filepath.Join(out, build.EdgeDir, "cloudfront")
	stack, _ := os.ReadFile(filepath.Join(edge, cdn.StackFile))
	if !strings.Contains(string(stack), "Type: AWS::CloudFront::KeyValueStore") || !strings.Contains(string(stack), cdn.OutputKVSARN+":") {
		t.Errorf("stack.yaml creates no KeyValueStore or has no %s output", cdn.OutputKVSARN)
	}
	if info, err := templates.ReadFunctionInfo(out); err != nil || info.KVSARN != "" || !info.UsesKVS() {
		t.Errorf("function.json: %+v %v", info, err)
	}

	old := map[string]string{cdn.OutputBucket: "studio-b", cdn.OutputPrefix: "/", cdn.OutputDistributionID: "E1"}
	fakeStacksEnv(t).Put("old", cdntest.Stack{Outputs: old})
	secrets := []string{"--cookie-secret-file", secret, "--auth-users", users}
	for _, c := range []struct {
		desc string
		args []string
		want string
	}{
		{"stack without the store's output", []string{"--stack", "old"}, `--stack "old" has no output KeyValueStoreArn, which this bake needs`},
		{"function without a store", []string{"--bucket", "studio-b", "--function-name", "gate"}, "give --kvs-arn ARN"},
		{"store that is not one", []string{"--bucket", "studio-b", "--function-name", "gate", "--kvs-arn", "kvs-1"}, `invalid --kvs-arn "kvs-1"`},
	} {
		code, _, stderr := runCLI(t, append(append([]string{"publish", "--dir", out}, c.args...), secrets...)...)
		if code != exitError || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit 1 and %q", c.desc, code, stderr, c.want)
		}
	}
}
