package npm

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"
)

// Registry is the npm registry to fetch from.
type Registry struct {
	URL       string // with trailing slash
	AuthToken string // from .npmrc `//host/path/:_authToken=...` matching URL, sent as Bearer; never logged
	Source    string // where URL came from: "--registry", "npm_config_registry", a .npmrc path, "npm config get registry"
}

// String prints the registry without its token or any password in the URL,
// so that a Registry printed with %v by mistake leaks nothing.
func (r Registry) String() string { return redactURL(r.URL) }

// GoString keeps %#v from printing the token too.
func (r Registry) GoString() string {
	return fmt.Sprintf("npm.Registry{URL: %q, Source: %q}", redactURL(r.URL), r.Source)
}

// npmConfigGetRegistry asks npm itself, the last resort, for the registry it
// would use (its built-in default included). A variable so that tests do not
// depend on npm being installed.
var npmConfigGetRegistry = runNpmConfigGetRegistry

// ResolveRegistry finds the registry the way npm would, highest first: flag;
// npm_config_registry in environ; the project .npmrc (walking up from dir);
// the user .npmrc ($HOME/.npmrc or npm_config_userconfig); the global npmrc;
// finally `npm config get registry` when npm is on PATH.
func ResolveRegistry(ctx context.Context, flag, dir string, environ []string) (Registry, error) {
	rc, err := loadNpmrc(dir, environ)
	if err != nil {
		return Registry{}, err
	}
	raw, source := strings.TrimSpace(flag), "--registry"
	if raw == "" {
		raw, source = envConfig(environ, "registry"), "npm_config_registry"
	}
	if raw == "" {
		raw, source = rc.get("registry")
	}
	var npmErr error
	if raw == "" {
		raw, npmErr = npmConfigGetRegistry(ctx, dir, environ)
		raw, source = strings.TrimSpace(raw), "npm config get registry"
	}
	if raw == "" || raw == "undefined" {
		msg := "no npm registry configured: pass --registry URL or set npm_config_registry"
		if npmErr != nil {
			return Registry{}, fmt.Errorf("%s (npm config get registry: %w)", msg, npmErr)
		}
		return Registry{}, errors.New(msg)
	}
	u, err := normalizeRegistryURL(raw)
	if err != nil {
		return Registry{}, fmt.Errorf("invalid registry %q (from %s): %w", redactURL(raw), source, err)
	}
	return Registry{URL: u, AuthToken: rc.authToken(u), Source: source}, nil
}

func normalizeRegistryURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("scheme must be http or https")
	}
	if u.Host == "" {
		return "", fmt.Errorf("no host")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("no query or fragment allowed")
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		u.RawPath = ""
	}
	return u.String(), nil
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = nil
	return u.String()
}

// envLookup reads a variable from environ; for npm_config_* names it ignores
// case like npm does, preferring the lower-case spelling.
func envLookup(environ []string, key string) (string, bool) {
	var upper string
	found := false
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if k == key {
			return v, true
		}
		if strings.HasPrefix(strings.ToLower(key), "npm_config_") && strings.EqualFold(k, key) {
			upper, found = v, true
		}
	}
	return upper, found
}

func envConfig(environ []string, name string) string {
	v, _ := envLookup(environ, "npm_config_"+name)
	return strings.TrimSpace(v)
}

// npmrc holds the .npmrc files npm would read, highest precedence first.
type npmrc struct {
	files []npmrcFile
}

type npmrcFile struct {
	path   string
	values map[string]string
}

func (rc npmrc) get(key string) (value, source string) {
	for _, f := range rc.files {
		if v := f.values[key]; v != "" {
			return v, f.path
		}
	}
	return "", ""
}

// authToken finds the `//host/path/:_authToken` npm would send to registryURL:
// the longest path prefix wins, down to `//host/`. Tokens for other hosts are
// never sent.
func (rc npmrc) authToken(registryURL string) string {
	u, err := url.Parse(registryURL)
	if err != nil {
		return ""
	}
	p := u.Path
	for {
		if tok, _ := rc.get("//" + u.Host + p + ":_authToken"); tok != "" {
			return tok
		}
		if p == "/" || p == "" {
			return ""
		}
		p = p[:strings.LastIndex(strings.TrimSuffix(p, "/"), "/")+1]
	}
}

func loadNpmrc(dir string, environ []string) (npmrc, error) {
	var rc npmrc
	var paths []string
	if p := findProjectNpmrc(dir); p != "" {
		paths = append(paths, p)
	}
	if p := userNpmrcPath(environ); p != "" {
		paths = append(paths, p)
	}
	if p := globalNpmrcPath(environ); p != "" {
		paths = append(paths, p)
	}
	for _, p := range paths {
		values, err := readNpmrc(p, environ)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return npmrc{}, fmt.Errorf("read npm config %s: %w", p, err)
		}
		rc.files = append(rc.files, npmrcFile{path: p, values: values})
	}
	return rc, nil
}

func findProjectNpmrc(dir string) string {
	if dir == "" {
		dir = "."
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	for {
		p := filepath.Join(abs, ".npmrc")
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
		parent := filepath.Dir(abs)
		if parent == abs {
			return ""
		}
		abs = parent
	}
}

func userNpmrcPath(environ []string) string {
	if p := envConfig(environ, "userconfig"); p != "" {
		return p
	}
	home, ok := envLookup(environ, "HOME")
	if !ok && runtime.GOOS == "windows" {
		home, ok = envLookup(environ, "USERPROFILE")
	}
	if !ok {
		home, _ = os.UserHomeDir()
	}
	if home == "" {
		return ""
	}
	return filepath.Join(home, ".npmrc")
}

// globalNpmrcPath follows npm: <prefix>/etc/npmrc, where the prefix is the
// directory above node's bin/ (node's own directory on Windows).
func globalNpmrcPath(environ []string) string {
	if p := envConfig(environ, "globalconfig"); p != "" {
		return p
	}
	prefix := envConfig(environ, "prefix")
	if prefix == "" {
		node, err := exec.LookPath("node")
		if err != nil {
			return ""
		}
		if real, err := filepath.EvalSymlinks(node); err == nil {
			node = real
		}
		prefix = filepath.Dir(node)
		if runtime.GOOS != "windows" {
			prefix = filepath.Dir(prefix)
		}
	}
	return filepath.Join(prefix, "etc", "npmrc")
}

var envRefRe = regexp.MustCompile(`\$\{([^${}?]+)(\?)?\}`)

// readNpmrc parses the ini subset npm users write: key = value lines, ';' and
// '#' comments, quoted values, and ${VAR} references (tokens are usually kept
// out of the file as `_authToken=${NPM_TOKEN}`).
func readNpmrc(path string, environ []string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	expand := func(ref string) string {
		val, _ := envLookup(environ, envRefRe.FindStringSubmatch(ref)[1])
		return val
	}
	values := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == ';' || line[0] == '#' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		values[envRefRe.ReplaceAllStringFunc(k, expand)] = envRefRe.ReplaceAllStringFunc(v, expand)
	}
	return values, sc.Err()
}

func runNpmConfigGetRegistry(ctx context.Context, dir string, environ []string) (string, error) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", nil // no npm: nothing more to ask, not an error
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "config", "get", "registry")
	cmd.Dir = dir
	cmd.Env = environ
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%w: %s", err, strings.TrimSpace(lastLine(stderr.String())))
	}
	return strings.TrimSpace(lastLine(string(out))), nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
