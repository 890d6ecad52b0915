package templates

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/studiobake/studiobake/build"
)

func TestCheckCloudFrontRejects(t *testing.T) {
	cases := []struct {
		desc, code, want string
	}{
		{"class", "class A {}\nfunction handler(e) { return e.request; }", "classes"},
		{"class expression", "var A = class {};", "classes"},
		{"object destructuring", "function handler(e) { var { request } = e; return request; }", "destructuring"},
		{"array destructuring", "function f(a) { var [x, y] = a; return x + y; }", "destructuring"},
		{"destructured parameter", "function f({ a }) { return a; }", "destructuring"},
		{"array spread", "function f(a) { return [...a]; }", "spread"},
		{"call spread", "function f(a) { return Math.max(...a); }", "spread"},
		{"object spread", "function f(a) { return { ...a, b: 1 }; }", "object spread"},
		{"default parameter", "function f(a = 1) { return a; }", "default parameters"},
		{"for-of", "function f(a) { for (var x of a) {} }", "for-of"},
		{"optional chaining", "function f(a) { return a?.b; }", "optional chaining"},
		{"optional call", "function f(a) { return a.b?.(); }", "optional chaining"},
		{"nullish coalescing", "function f(a) { return a ?? 1; }", "nullish coalescing"},
		{"logical assignment", "function f(a) { a.b ||= 1; }", "logical assignment"},
		{"generator", "function* g() { yield 1; }", "generators"},
		{"async generator", "async function* g() {}", "async generators"},
		{"shorthand property", "function f(a) { return { a }; }", "object literal shorthand"},
		{"method", "var o = { m() { return 1; } };", "object literal shorthand"},
		{"catch without binding", "try { f(); } catch { }", "catch without a binding"},
		{"regexp named group", "var r = /(?<y>\\d+)/;", "named groups"},
		{"module other than the runtime's", "var fs = require('fs');", `no module "fs"`},
		{"import of another module", "import x from 'node:http';", `no module "node:http"`},
		{"eval", "function f(s) { return eval(s); }", "eval"},
		{"timer", "function f() { setTimeout(f, 1); }", "setTimeout"},
		{"fetch", "async function f() { return await fetch('https://x'); }", "fetch"},
		{"over 10 KB", "var s = '" + strings.Repeat("x", MaxFunctionSize) + "';", "CloudFront allows 10240"},
	}
	for _, c := range cases {
		err := CheckCloudFront(c.code)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error mentioning %q", c.desc, err, c.want)
		}
	}
}

func TestCheckCloudFrontAccepts(t *testing.T) {
	cases := []struct{ desc, code string }{
		{"const, let, arrows, template literals", "const a = 1; let b = (x) => `${x}`; function handler(e) { return e.request; }"},
		{"rest parameters", "function f(...a) { return a.length; }"},
		{"async/await", "async function f(p) { return await p; }"},
		{"exponent", "var x = 2 ** 8;"},
		{"runtime modules", "import cf from 'cloudfront'; var c = require('crypto'), q = require('querystring'), b = require('buffer');"},
		{"local named like a missing global", "function f() { var fetch = 1; return fetch; }"},
		{"the word eval in a string", "var s = 'eval(x)';"},
	}
	for _, c := range cases {
		if err := CheckCloudFront(c.code); err != nil {
			t.Errorf("%s: %v", c.desc, err)
		}
	}
}

// TestShippedTemplatesCompile compiles every combination of modes, checks
// each against the runtime and reports sizes (the limit is 10 KB; the aim
// is half).
func TestShippedTemplatesCompile(t *testing.T) {
	u, _, _ := NewUser("alice")
	for mask := 0; mask < 16; mask++ {
		o := CloudFrontOptions{BasePath: "/agents", Routes: legacyRoutes}
		var modes []string
		if mask&1 != 0 {
			o.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
			modes = append(modes, "ip")
		}
		if mask&2 != 0 {
			o.Basic = &BasicAuth{Realm: DefaultRealm, Users: []User{u}, InKVS: mask&8 != 0}
			modes = append(modes, "basic")
		}
		if mask&4 != 0 {
			o.Cookie = &CookieAuth{Name: DefaultCookieName, LoginURL: "https://login.example.com/", ReturnParam: DefaultReturnParam}
			modes = append(modes, "cookie")
		}
		if mask&8 != 0 {
			if o.Basic == nil {
				continue
			}
			modes = append(modes, "users-in-kvs")
		}
		code, err := CompileCloudFront(o)
		if err != nil {
			t.Fatalf("%v: %v", modes, err)
		}
		if len(code) > MaxFunctionSize/2 {
			t.Errorf("%v: %d bytes, over half of CloudFront's limit", modes, len(code))
		}
		t.Logf("%-30s %5d bytes", strings.Join(modes, "+"), len(code))
		if err := CheckCloudFront(code); err != nil {
			t.Errorf("%v: %v", modes, err)
		}
		if again, _ := CompileCloudFront(o); again != code {
			t.Errorf("%v: compiling twice gives different code; deploy would republish every time", modes)
		}
	}
}

func TestBadOptions(t *testing.T) {
	u, _, _ := NewUser("alice")
	cookie := func(mod func(*CookieAuth)) *CookieAuth {
		c := &CookieAuth{Name: DefaultCookieName, LoginURL: "https://login.example.com/"}
		mod(c)
		return c
	}
	cases := []struct {
		desc string
		o    CloudFrontOptions
		want string
	}{
		{"relative login URL", CloudFrontOptions{Cookie: cookie(func(c *CookieAuth) { c.LoginURL = "/login" })}, `invalid --login-url "/login"`},
		{"login URL without scheme", CloudFrontOptions{Cookie: cookie(func(c *CookieAuth) { c.LoginURL = "login.example.com" })}, "--login-url"},
		{"javascript login URL", CloudFrontOptions{Cookie: cookie(func(c *CookieAuth) { c.LoginURL = "javascript:alert(1)" })}, "--login-url"},
		{"no login URL", CloudFrontOptions{Cookie: cookie(func(c *CookieAuth) { c.LoginURL = "" })}, "needs --login-url"},
		{"bad KVS ARN", CloudFrontOptions{KVSARN: "arn:aws:s3:::bucket", Cookie: cookie(func(*CookieAuth) {})}, "invalid --kvs-arn"},
		{"bad cookie name", CloudFrontOptions{Cookie: cookie(func(c *CookieAuth) { c.Name = "a b" })}, "--cookie-name"},
		{"basic without users", CloudFrontOptions{Basic: &BasicAuth{Realm: "x"}}, "no users"},
		{"realm with a quote", CloudFrontOptions{Basic: &BasicAuth{Realm: `a"b`, Users: []User{u}}}, "--auth-realm"},
		{"bad user", CloudFrontOptions{Basic: &BasicAuth{Realm: "x", Users: []User{{Name: "a:b", Salt: u.Salt, Hash: u.Hash}}}}, "invalid user name"},
		{"base with trailing slash", CloudFrontOptions{BasePath: "/agents/"}, "invalid base path"},
		{"invalid prefix", CloudFrontOptions{AllowCIDRs: []netip.Prefix{{}}}, "--allow-cidr"},
	}
	for _, c := range cases {
		_, err := CompileCloudFront(c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.desc, err, c.want)
		}
	}
}

func TestParseUsers(t *testing.T) {
	u, pw, err := NewUser("alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(pw) < 22 || HashPassword(u.Salt, pw) != u.Hash {
		t.Fatalf("password %q does not hash to the line", pw)
	}
	good := "# team\n\n" + u.Line() + "\n"
	users, err := ParseUsers(strings.NewReader(good), "users.txt")
	if err != nil || len(users) != 1 || users[0] != u {
		t.Fatalf("got %v, %v", users, err)
	}
	bad := []struct{ desc, text, want string }{
		{"plain password", "alice:hunter2\n", "users.txt line 1: want NAME:sha256:SALT:HASH:CHECK"},
		{"wrong algorithm", "alice:md5:" + u.Salt + ":" + u.Hash, "line 1"},
		{"short hash", "alice:sha256:" + u.Salt + ":" + u.Hash[2:], "line 1: user alice: salt must be 32 and hash 64"},
		{"duplicate", good + u.Line() + "\n", "line 4: user alice already defined on line 3"},
		{"bad name", "al ice:sha256:" + u.Salt + ":" + u.Hash, "invalid user name"},
		{"name JavaScript reserves", "__proto__:sha256:" + u.Salt + ":" + u.Hash, `line 1: invalid user name "__proto__"`},
		{"empty", "# nobody\n", "no users"},
	}
	for _, c := range bad {
		_, err := ParseUsers(strings.NewReader(c.text), "users.txt")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.desc, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: error quotes the line: %v", c.desc, err)
		}
	}
}

// TestWriteEdgeNothingOnError: a bad option fails before any file exists.
func TestWriteEdgeNothingOnError(t *testing.T) {
	dir, m := testBake(t, "/agents", false)
	o := EdgeOptions{Hosts: Hosts, Auth: CloudFrontOptions{Cookie: &CookieAuth{Name: "s", LoginURL: "/login"}}}
	if err := WriteEdge(dir, m, o); err == nil {
		t.Fatal("no error")
	}
	if _, err := os.Stat(filepath.Join(dir, build.EdgeDir)); !os.IsNotExist(err) {
		t.Errorf("edge/ exists after a failed write: %v", err)
	}
	// And a good one writes every host, and no KeyValueStore entries.
	o.Auth = CloudFrontOptions{Cookie: &CookieAuth{Name: "s", LoginURL: "https://l.example.com/"}}
	if err := WriteEdge(dir, m, o); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, build.EdgeDir, "cloudfront", legacyKVSFile)); !os.IsNotExist(err) {
		t.Errorf("kvs.json written: %v", err)
	}
	code, ok, err := LoadCloudFront(dir)
	if err != nil || !ok || !strings.HasPrefix(code, kvsImport) {
		t.Errorf("LoadCloudFront: ok=%v err=%v", ok, err)
	}
	if _, err := os.Stat(filepath.Join(dir, build.SiteDir, "_headers")); !os.IsNotExist(err) {
		t.Error("edge output went into site/")
	}
}

func TestTooManyUsersHint(t *testing.T) {
	var users []User
	for i := 0; i < 120; i++ {
		u, _, _ := NewUser(fmt.Sprintf("user%03d", i))
		users = append(users, u)
	}
	_, err := CompileCloudFront(CloudFrontOptions{Basic: &BasicAuth{Realm: "S", Users: users}})
	if err == nil || !strings.Contains(err.Error(), "--users-in-kvs") || !strings.Contains(err.Error(), "CloudFront allows 10240") {
		t.Errorf("got %v", err)
	}
}
