package npm

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// isolatedEnv is an environ with a fresh HOME and no global npmrc, so that
// the machine's own npm config can't leak into a test.
func isolatedEnv(t *testing.T, extra ...string) []string {
	t.Helper()
	home := t.TempDir()
	return append([]string{"HOME=" + home, "npm_config_globalconfig=" + filepath.Join(home, "no-global-npmrc")}, extra...)
}

// fakeNpm replaces `npm config get registry` for the test.
func fakeNpm(t *testing.T, out string, err error) {
	t.Helper()
	old := npmConfigGetRegistry
	npmConfigGetRegistry = func(context.Context, string, []string) (string, error) { return out, err }
	t.Cleanup(func() { npmConfigGetRegistry = old })
}

func writeTestFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestResolveRegistryPrecedence(t *testing.T) {
	tests := []struct {
		desc       string
		flag       string
		env        string // npm_config_registry
		project    string // registry= in the project .npmrc (two levels up from dir)
		user       string // registry= in $HOME/.npmrc
		global     string // registry= in the global npmrc
		npm        string // what `npm config get registry` says
		want, from string
	}{
		{"flag beats everything", "http://flag.test/", "http://env.test/", "http://project.test/", "http://user.test/", "http://global.test/", "http://npm.test/", "http://flag.test/", "--registry"},
		{"env beats the files", "", "http://env.test/", "http://project.test/", "http://user.test/", "http://global.test/", "http://npm.test/", "http://env.test/", "npm_config_registry"},
		{"project .npmrc beats the user one", "", "", "http://project.test/", "http://user.test/", "http://global.test/", "http://npm.test/", "http://project.test/", "project"},
		{"user .npmrc beats the global one", "", "", "", "http://user.test/", "http://global.test/", "http://npm.test/", "http://user.test/", "user"},
		{"global npmrc beats npm", "", "", "", "", "http://global.test/", "http://npm.test/", "http://global.test/", "global"},
		{"npm config get registry last", "", "", "", "", "", "http://npm.test/", "http://npm.test/", "npm config get registry"},
		{"trailing slash added", "http://flag.test/npm", "", "", "", "", "", "http://flag.test/npm/", "--registry"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			root := t.TempDir()
			home := filepath.Join(root, "home")
			global := filepath.Join(root, "global", "npmrc")
			dir := filepath.Join(root, "work", "app", "sub")
			os.MkdirAll(dir, 0o755)
			environ := []string{"HOME=" + home, "npm_config_globalconfig=" + global}
			if tc.env != "" {
				environ = append(environ, "npm_config_registry="+tc.env)
			}
			files := map[string]string{filepath.Join(root, "work", ".npmrc"): tc.project, filepath.Join(home, ".npmrc"): tc.user, global: tc.global}
			for p, reg := range files {
				writeTestFile(t, p, "; comment\nfund=false\n")
				if reg != "" {
					writeTestFile(t, p, "# comment\nregistry = \""+reg+"\"\n")
				}
			}
			fakeNpm(t, tc.npm+"\n", nil)
			reg, err := ResolveRegistry(context.Background(), tc.flag, dir, environ)
			if err != nil {
				t.Fatal(err)
			}
			from := map[string]string{"project": filepath.Join(root, "work", ".npmrc"), "user": filepath.Join(home, ".npmrc"), "global": global}[tc.from]
			if from == "" {
				from = tc.from
			}
			if reg.URL != tc.want || reg.Source != from {
				t.Errorf("got %s from %s, want %s from %s", reg.URL, reg.Source, tc.want, from)
			}
		})
	}
}

func TestResolveRegistryEnvSpellings(t *testing.T) {
	fakeNpm(t, "", nil)
	tests := []struct {
		desc    string
		environ []string
		want    string
	}{
		{"upper case", []string{"NPM_CONFIG_REGISTRY=http://upper.test"}, "http://upper.test/"},
		{"lower case wins over upper", []string{"NPM_CONFIG_REGISTRY=http://upper.test", "npm_config_registry=http://lower.test"}, "http://lower.test/"},
		{"npm_config_userconfig names the user file", []string{"npm_config_userconfig=USERRC"}, "http://userconfig.test/"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			rc := filepath.Join(t.TempDir(), "rc")
			writeTestFile(t, rc, "registry=http://userconfig.test\n")
			environ := isolatedEnv(t)
			for _, kv := range tc.environ {
				environ = append(environ, strings.ReplaceAll(kv, "USERRC", rc))
			}
			reg, err := ResolveRegistry(context.Background(), "", t.TempDir(), environ)
			if err != nil || reg.URL != tc.want {
				t.Errorf("got %q, %v; want %q", reg.URL, err, tc.want)
			}
		})
	}
}

func TestResolveRegistryNothingFound(t *testing.T) {
	for _, npmErr := range []error{nil, errors.New("exit status 1")} {
		fakeNpm(t, "", npmErr)
		_, err := ResolveRegistry(context.Background(), "", t.TempDir(), isolatedEnv(t))
		if err == nil || !strings.Contains(err.Error(), "pass --registry URL or set npm_config_registry") {
			t.Errorf("error %v, want a hint to pass --registry or set npm_config_registry", err)
		}
		if npmErr != nil && !errors.Is(err, npmErr) {
			t.Errorf("error %v does not carry npm's failure", err)
		}
	}
}

func TestResolveRegistryInvalid(t *testing.T) {
	fakeNpm(t, "", nil)
	for _, bad := range []string{"ftp://x.test/", "not a url", "http:///path", "http://x.test/?q=1"} {
		_, err := ResolveRegistry(context.Background(), bad, t.TempDir(), isolatedEnv(t))
		if err == nil || !strings.Contains(err.Error(), "invalid registry") {
			t.Errorf("%q: error %v, want invalid registry", bad, err)
		}
	}
	_, err := ResolveRegistry(context.Background(), "ftp://user:pw@x.test/", t.TempDir(), isolatedEnv(t))
	if err == nil || strings.Contains(err.Error(), "pw") {
		t.Errorf("error %v shows the password", err)
	}
}

func TestAuthTokenMatching(t *testing.T) {
	npmrc := strings.Join([]string{
		"//reg.test/:_authToken=host-token",
		"//reg.test/deep/path/:_authToken=path-token",
		"//reg.test:8443/:_authToken=port-token",
		"//other.test/:_authToken=other-token",
		`//quoted.test/:_authToken="quoted-token"`,
		"//env.test/:_authToken=${MY_TOKEN}",
	}, "\n")
	tests := []struct{ registry, want string }{
		{"https://reg.test/", "host-token"},
		{"https://reg.test/deep/path/", "path-token"},
		{"https://reg.test/deep/path/more/", "path-token"},
		{"https://reg.test/deep/", "host-token"},
		{"https://reg.test:8443/", "port-token"},
		{"https://quoted.test/", "quoted-token"},
		{"https://env.test/", "from-env"},
		{"https://unknown.test/", ""},
	}
	for _, tc := range tests {
		t.Run(tc.registry, func(t *testing.T) {
			fakeNpm(t, "", nil)
			dir := t.TempDir()
			writeTestFile(t, filepath.Join(dir, ".npmrc"), npmrc)
			reg, err := ResolveRegistry(context.Background(), tc.registry, dir, isolatedEnv(t, "MY_TOKEN=from-env"))
			if err != nil {
				t.Fatal(err)
			}
			if reg.AuthToken != tc.want {
				t.Errorf("token %q, want %q", reg.AuthToken, tc.want)
			}
		})
	}
}

// TestResolveRegistryRealNpm asks the npm on PATH, when there is one.
func TestResolveRegistryRealNpm(t *testing.T) {
	if _, err := exec.LookPath("npm"); err != nil {
		t.Skip("npm is not on PATH")
	}
	dir := t.TempDir()
	out, err := runNpmConfigGetRegistry(context.Background(), dir, append(os.Environ(), "npm_config_registry=http://from-env.test/"))
	if err != nil {
		t.Fatal(err)
	}
	if out != "http://from-env.test/" {
		t.Errorf("npm config get registry = %q, want the registry from the environment", out)
	}
	out, err = runNpmConfigGetRegistry(context.Background(), dir, os.Environ())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := normalizeRegistryURL(out); err != nil {
		t.Errorf("npm's own registry %q is not usable: %v", redactURL(out), err)
	}
}
