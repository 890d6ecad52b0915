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

// collect reads every source into layers, lowest priority first.
func collect(s Sources) ([]layer, []string, error) {
	var layers []layer
	var warnings []string
	var files []string
	if s.Dir != "" {
		// .env.production is read after .env so that it overrides it: the
		// mastra CLI loads it first with dotenv, which keeps the first value.
		files = append(files, filepath.Join(s.Dir, ".env"), filepath.Join(s.Dir, ".env.production"))
	}
	for i, path := range append(files, s.EnvFiles...) {
		required := i >= len(files)
		values, warns, err := readEnvFile(path, required)
		if err != nil {
			return nil, nil, err
		}
		warnings = append(warnings, warns...)
		layers = append(layers, layer{path, values})
	}
	layers = append(layers, layer{originEnviron, parseEnviron(s.Environ)})
	if s.ServerURL != "" {
		values, err := parseServerURL(s.ServerURL)
		if err != nil {
			return nil, nil, err
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
	all, err := godotenv.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, nil, fmt.Errorf("env file %s: line %d: %w", path, badLine(data), errMalformedEnv)
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

// parseEnviron keeps the known variables of an os.Environ()-style list.
// Unknown MASTRA_* names are not warned about: CI environments carry many.
func parseEnviron(environ []string) map[string]string {
	values := map[string]string{}
	for _, kv := range environ {
		name, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if _, known := lookup(name); known {
			values[name] = v
		}
	}
	return values
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
