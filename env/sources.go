package env

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/joho/godotenv"
)

// Origins other than a file path.
const (
	originFlag      = "flag"
	originEnviron   = "environment"
	originServerURL = "--server-url"
	originPresets   = "--request-context-presets"
	originDefault   = "default"
)

// errMalformedEnv stands in for godotenv's parse errors, which quote the rest
// of the file: a .env usually holds secrets, and an error message ends up in
// CI logs.
var errMalformedEnv = errors.New("not a valid env file (the parser's message is withheld: it quotes file content, which may hold secrets)")

// layer is one source of values; only known MASTRA_* names ever get in.
type layer struct {
	origin string
	values map[string]string
}

// DefaultMode is the env-file mode of a bake, as Vite's and Mastra's
// builds use it.
const DefaultMode = "production"

var modeRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// EnvFiles are the files Load reads, lowest priority first. Like Vite: .env,
// .env.local, .env.[mode], .env.[mode].local in Dir. --env-file names the
// files instead (a staging bake must not pick up .env.production); with
// --mode as well, the named files go on top of the mode's.
func (s Sources) EnvFiles() ([]string, error) {
	mode := s.Mode
	if mode == "" {
		mode = DefaultMode
	}
	if !modeRE.MatchString(mode) || mode == "local" {
		return nil, fmt.Errorf("invalid --mode %s: want a name such as production or staging (letters, digits, '-', '_', '.'; not \"local\")", quote(mode))
	}
	var files []string
	if s.Dir != "" && (len(s.EnvFileFlags) == 0 || s.Mode != "") {
		for _, name := range []string{".env", ".env.local", ".env." + mode, ".env." + mode + ".local"} {
			files = append(files, filepath.Join(s.Dir, name))
		}
	}
	return append(files, s.EnvFileFlags...), nil
}

// collect reads every source into layers, lowest priority first.
func collect(s Sources) ([]layer, []string, error) {
	var layers []layer
	var warnings []string
	files, err := s.EnvFiles()
	if err != nil {
		return nil, nil, err
	}
	named := map[string]bool{}
	for _, f := range s.EnvFileFlags {
		named[f] = true
	}
	for _, path := range files {
		values, warns, err := readEnvFile(path, named[path])
		if err != nil {
			return nil, nil, err
		}
		warnings = append(warnings, warns...)
		layers = append(layers, layer{path, values})
	}
	if len(s.Config) > 0 {
		values := map[string]string{}
		for name, v := range s.Config {
			if _, ok := lookup(name); !ok {
				return nil, nil, fmt.Errorf("config value for unknown variable %s", name)
			}
			values[name] = v
		}
		layers = append(layers, layer{s.ConfigOrigin, values})
	}
	environ, warns := parseEnviron(s.Environ)
	warnings = append(warnings, warns...)
	layers = append(layers, layer{originEnviron, environ})
	if s.ServerURL != "" {
		values, err := parseServerURL(s.ServerURL)
		if err != nil {
			return nil, nil, fmt.Errorf("%w%s", err, s.from("server-url"))
		}
		layers = append(layers, layer{originServerURL, values})
	}
	flags := map[string]string{}
	for name, v := range s.Flags {
		if _, ok := lookup(name); !ok {
			// Flags are declared by the command layer: an unknown name is a
			// programming error, not user input.
			return nil, nil, fmt.Errorf("flag for unknown variable %s", name)
		}
		flags[name] = v
	}
	layers = append(layers, layer{originFlag, flags})
	return layers, warnings, nil
}

// readEnvFile reads one dotenv file and keeps its known MASTRA_* values. A
// missing file is an error only when the user named it (--env-file).
func readEnvFile(path string, required bool) (map[string]string, []string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !required {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read env file: %w", err)
	}
	// Editors on Windows may start the file with a byte order mark, which
	// godotenv reads as part of the first name.
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	all, line, err := parseTolerant(data)
	if err != nil {
		return nil, nil, fmt.Errorf("env file %s: line %d: %w", path, line, errMalformedEnv)
	}
	values := map[string]string{}
	var warnings []string
	for _, name := range slices.Sorted(maps.Keys(all)) {
		if !strings.HasPrefix(strings.ToUpper(name), prefix) {
			continue // not ours, and possibly a secret: never looked at
		}
		if _, ok := lookup(name); ok {
			values[name] = all[name]
			continue
		}
		warnings = append(warnings, unknownWarning(path, name))
	}
	return values, warnings, nil
}

func unknownWarning(path, name string) string {
	if c := ClosestName(name); c != "" {
		return fmt.Sprintf("%s: unknown %s; did you mean %s?", path, name, c)
	}
	return fmt.Sprintf("%s: unknown %s (not a Studio setting; ignored)", path, name)
}

// badLine finds the line where a file stops parsing: one past the longest
// prefix of whole lines that parses. That points at a bad name and at the
// opening of an unterminated quote alike. Files are small; a huge one is not
// searched.
func badLine(data []byte) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines) > 2000 {
		return 0
	}
	good := 0
	for n := 1; n <= len(lines); n++ {
		if _, err := godotenv.Parse(bytes.NewReader(bytes.Join(lines[:n], nil))); err == nil {
			good = n
		}
	}
	return good + 1
}

// parseTolerant parses a dotenv file, leaving out lines that are not ours
// and that the parser cannot read (a dashed name used by another tool): a
// .env file is shared, and only MASTRA_* lines are Studio's business. A
// broken MASTRA_* line is still an error, with its line number (from 1).
func parseTolerant(data []byte) (map[string]string, int, error) {
	lines := bytes.SplitAfter(data, []byte("\n"))
	number := make([]int, len(lines)) // original line number of each kept line
	for i := range number {
		number[i] = i + 1
	}
	for range len(number) + 1 {
		joined := bytes.Join(lines, nil)
		all, err := godotenv.Parse(bytes.NewReader(joined))
		if err == nil {
			return all, 0, nil
		}
		n := badLine(joined) - 1
		if n < 0 || n >= len(lines) {
			return nil, 0, err
		}
		if isOurs(lines[n]) {
			return nil, number[n], err
		}
		lines, number = slices.Delete(lines, n, n+1), slices.Delete(number, n, n+1)
	}
	return nil, 0, errMalformedEnv
}

// isOurs says whether a dotenv line sets a MASTRA_* name.
func isOurs(line []byte) bool {
	l := strings.TrimSpace(string(line))
	l = strings.TrimSpace(strings.TrimPrefix(l, "export "))
	return strings.HasPrefix(strings.ToUpper(l), prefix)
}

// parseEnviron keeps the known variables of an os.Environ()-style list.
// CI environments carry many MASTRA_* names of the Mastra server's own, so
// only a name close to a Studio setting is warned about (a typo where CI
// sets the values).
func parseEnviron(environ []string) (map[string]string, []string) {
	values := map[string]string{}
	var warnings []string
	for _, kv := range environ {
		name, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if _, known := lookup(name); known {
			values[name] = v
		} else if strings.HasPrefix(name, prefix) {
			if c := ClosestName(name); c != "" {
				warnings = append(warnings, fmt.Sprintf("environment: unknown %s; did you mean %s?", name, c))
			}
		}
	}
	slices.Sort(warnings)
	return values, warnings
}

// parseServerURL splits --server-url into protocol, host, port and prefix.
// A URL without a path (or with "/") leaves the prefix to the other sources:
// Studio cannot call an API at the root, since it reads an empty prefix as
// /api.
func parseServerURL(raw string) (map[string]string, error) {
	fail := func(reason string) error {
		return fmt.Errorf("invalid --server-url %s: %s", quote(raw), reason)
	}
	if err := checkText(raw); err != nil {
		return nil, fail(err.Error())
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	switch {
	case err != nil:
		return nil, fmt.Errorf("invalid --server-url %s: %w", quote(raw), err)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fail("want an http:// or https:// URL such as https://api.example.com/api")
	case u.Opaque != "" || u.Host == "":
		return nil, fail("no host; want a URL such as https://api.example.com/api")
	case u.User != nil:
		return nil, fail("user info (user:password@) is not allowed: it would be published in the page")
	case u.RawQuery != "" || u.ForceQuery:
		return nil, fail("a query (?...) is not allowed")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return nil, fail("a fragment (#...) is not allowed")
	}
	port := u.Port()
	if port == "" {
		port = defaultPort(u.Scheme)
	}
	values := map[string]string{
		nameProtocol: u.Scheme,
		nameHost:     u.Hostname(),
		namePort:     port,
	}
	if p := u.EscapedPath(); p != "" && p != "/" {
		values[namePrefix] = p
	}
	return values, nil
}

func defaultPort(protocol string) string {
	if protocol == "https" {
		return "443"
	}
	return "80"
}

// originOf returns scheme://host:port of an absolute URL, with the port
// always written, so that callers can compare origins.
func originOf(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = defaultPort(u.Scheme)
	}
	return u.Scheme + "://" + net.JoinHostPort(u.Hostname(), port)
}
