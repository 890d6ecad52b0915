package env

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A normaliser turns a raw value into what the page gets, or says why it
// cannot; Load adds the variable's name and the value to the reason.
type normaliser func(string) (string, error)

// normalisers holds the rule of every token with one; the others (ids) only
// pass checkText. The port is missing: its empty value depends on the
// protocol, so normaliseOne supplies its rule.
var normalisers = map[string]normaliser{
	nameBasePath:                   normBasePath,
	nameHost:                       normHost,
	nameProtocol:                   normProtocol,
	namePrefix:                     normPrefix,
	nameTelemetryOff:               boolWithDefault(nameTelemetryOff),
	"MASTRA_HIDE_CLOUD_CTA":        boolWithDefault("MASTRA_HIDE_CLOUD_CTA"),
	"MASTRA_EXPERIMENTAL_FEATURES": boolWithDefault("MASTRA_EXPERIMENTAL_FEATURES"),
	"MASTRA_TEMPLATES":             boolWithDefault("MASTRA_TEMPLATES"),
	"MASTRA_EXPERIMENTAL_UI":       boolWithDefault("MASTRA_EXPERIMENTAL_UI"),
	"MASTRA_SIGNALS_UI":            boolWithDefault("MASTRA_SIGNALS_UI"),
	"MASTRA_AGENT_SIGNALS":         boolWithDefault("MASTRA_AGENT_SIGNALS"),
	nameAutoDetect:                 boolWithDefault(nameAutoDetect),
	namePresets:                    normPresets,
	nameCloudEndpoint:              normCloudEndpoint,
	nameObservability:              normObservability,
}

// checkText rejects what no page value may hold. The build package escapes
// values for JavaScript; it cannot repair broken UTF-8, and a NUL byte is
// never intended.
func checkText(v string) error {
	if !utf8.ValidString(v) {
		return errors.New("not valid UTF-8")
	}
	if strings.ContainsRune(v, 0) {
		return errors.New("contains a NUL byte")
	}
	return nil
}

// quote prints a value for an error message, cut short when long (presets
// can be kilobytes) so that the message stays one readable line.
func quote(v string) string {
	const limit = 100
	if len(v) <= limit {
		return strconv.Quote(v)
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(v[cut]) {
		cut--
	}
	return strconv.Quote(v[:cut]) + "..."
}

// pathChars reports whether p holds only unreserved URL characters and
// slashes, which need no escaping in an HTML attribute, a JS string or a URL.
func pathChars(p string) bool {
	for _, c := range p {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.ContainsRune("-._~/", c)
		if !ok {
			return false
		}
	}
	return true
}

// normBasePath applies mastra's base path rules, plus path characters only:
// the value is written raw (unescaped) into <base href> and a JS string.
func normBasePath(v string) (string, error) {
	p := strings.TrimSpace(v)
	switch {
	case strings.Contains(p, ".."):
		return "", errors.New(`".." is not allowed`)
	case strings.ContainsAny(p, "?#"):
		return "", errors.New(`"?" and "#" are not allowed: a base path is a path only`)
	case !pathChars(p):
		return "", errors.New("only letters, digits, '-', '.', '_', '~' and '/' are allowed")
	}
	return cleanPath(p), nil
}

// cleanPath collapses "//", adds the leading "/" and strips the trailing one;
// "/" and "" become "".
func cleanPath(p string) string {
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	p = strings.TrimSuffix(p, "/")
	if p != "" && !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return p
}

// normPrefix follows the mastra CLI's normaliser (trim, add the leading "/",
// strip trailing ones, empty means /api) and allows path characters only.
// "/" is an error rather than mastra's silent /api: Studio reads an empty
// prefix as /api, so an API at the root cannot be reached.
func normPrefix(v string) (string, error) {
	p := strings.TrimSpace(v)
	if p == "" {
		return defaultPrefixValue, nil
	}
	if !pathChars(p) {
		return "", errors.New("only letters, digits, '-', '.', '_', '~' and '/' are allowed")
	}
	p = cleanPath(p)
	if p == "" {
		return "", errors.New("Studio cannot call an API at the root (it reads an empty prefix as /api); mount the API under a prefix such as /api")
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == "." || seg == ".." {
			return "", errors.New(`"." and ".." segments are not allowed`)
		}
	}
	return p, nil
}

func normProtocol(v string) (string, error) {
	p := strings.ToLower(strings.TrimSpace(v))
	p = strings.TrimSuffix(strings.TrimSuffix(p, "//"), ":")
	switch p {
	case "":
		return "http", nil
	case "http", "https":
		return p, nil
	}
	return "", errors.New("want http or https")
}

// normPort checks a port number; empty means the protocol's own port, never
// a blank in the page, since Studio reads a blank port as 4111.
func normPort(v, protocol string) (string, error) {
	p := strings.TrimSpace(v)
	if p == "" {
		return defaultPort(protocol), nil
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 || strings.ContainsAny(p, "+-") {
		return "", errors.New("not a port number (1-65535)")
	}
	return strconv.Itoa(n), nil
}

// boolWithDefault parses the usual spellings and writes "true" or "false";
// empty means the variable's default.
func boolWithDefault(name string) normaliser {
	def, _ := lookup(name)
	return func(v string) (string, error) {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "":
			return def.Default, nil
		case "true", "1", "yes":
			return "true", nil
		case "false", "0", "no":
			return "false", nil
		}
		return "", errors.New("not a boolean (true/false, 1/0, yes/no)")
	}
}

// normPresets validates like `mastra studio --request-context-presets`: JSON
// whose top level is an object and whose every value is an object. The text
// is compacted but keeps the user's key order, which is the order Studio
// lists the presets in.
func normPresets(v string) (string, error) {
	data := []byte(strings.TrimPrefix(v, "\uFEFF"))
	if len(bytes.TrimSpace(data)) == 0 {
		return "", nil
	}
	var top any
	if err := json.Unmarshal(data, &top); err != nil {
		return "", fmt.Errorf("not valid JSON: %w", err)
	}
	presets, ok := top.(map[string]any)
	if !ok {
		return "", errors.New(`the top level must be a JSON object of named presets, e.g. {"dev":{"userId":"1"}}`)
	}
	names := make([]string, 0, len(presets))
	for name := range presets {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, ok := presets[name].(map[string]any); !ok {
			return "", fmt.Errorf("preset %q must be a JSON object", name)
		}
	}
	var out bytes.Buffer
	if err := json.Compact(&out, data); err != nil {
		return "", fmt.Errorf("not valid JSON: %w", err)
	}
	return out.String(), nil
}

// normCloudEndpoint accepts an absolute http(s) URL without query or
// fragment; the trailing "/" goes, since Studio appends the prefix to it.
func normCloudEndpoint(v string) (string, error) {
	s := strings.TrimSpace(v)
	if s == "" {
		return "", nil
	}
	if _, err := absoluteURL(s); err != nil {
		return "", err
	}
	return strings.TrimRight(s, "/"), nil
}

func normObservability(v string) (string, error) {
	s := strings.TrimSpace(v)
	if s == "" {
		return "", nil
	}
	if _, err := absoluteURL(s); err != nil {
		return "", err
	}
	return s, nil
}

func absoluteURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return nil, fmt.Errorf("not a URL: %w", err)
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.Opaque != "":
		return nil, errors.New("want an absolute http:// or https:// URL")
	case u.User != nil:
		return nil, errors.New("user info (user:password@) is not allowed: it would be published in the page")
	case u.RawQuery != "" || u.ForceQuery || strings.Contains(s, "#"):
		return nil, errors.New("a query or fragment is not allowed")
	}
	return u, nil
}

// normHost accepts a bare host name or IP address. IPv6 is written in
// brackets: Studio builds `${protocol}://${host}:${port}`.
func normHost(v string) (string, error) {
	h := v
	switch {
	case h == "":
		return "localhost", nil
	case strings.Contains(h, "://"):
		return "", fmt.Errorf("a URL, not a host name; use --server-url %s", h)
	case strings.ContainsAny(h, " \t\r\n\"'`"):
		return "", errors.New("spaces and quotes are not allowed")
	case strings.HasPrefix(h, "["):
		inner, ok := strings.CutSuffix(h, "]")
		if !ok {
			return "", errors.New("a bracketed IPv6 address must end with ']'; put a port in MASTRA_SERVER_PORT or use --server-url")
		}
		return normIPv6(inner[1:])
	case strings.Count(h, ":") >= 2:
		return normIPv6(h)
	case strings.Contains(h, "/"):
		return "", errors.New("a host name has no path; set MASTRA_API_PREFIX or use --server-url")
	case strings.Contains(h, ":"):
		return "", errors.New("a host name has no port; set MASTRA_SERVER_PORT or use --server-url")
	}
	return normHostName(h)
}

func normIPv6(s string) (string, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() || a.Zone() != "" {
		return "", errors.New("not an IPv6 address (zones such as %eth0 are not allowed)")
	}
	return "[" + a.String() + "]", nil
}

// normHostName checks a DNS name (underscores allowed: container names use
// them) or an IPv4 address, and writes it in lower case.
func normHostName(h string) (string, error) {
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	if strings.Trim(h, "0123456789.") == "" {
		if _, err := netip.ParseAddr(h); err != nil {
			return "", errors.New("not an IPv4 address")
		}
		return h, nil
	}
	if len(h) > 253 {
		return "", errors.New("a host name has at most 253 characters")
	}
	for _, label := range strings.Split(h, ".") {
		switch {
		case label == "" || len(label) > 63:
			return "", errors.New("each dot-separated part of a host name has 1 to 63 characters")
		case strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-"):
			return "", errors.New("a part of a host name cannot start or end with '-'")
		case strings.Trim(label, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "":
			return "", errors.New("only letters, digits, '-', '_' and '.' are allowed (write international names in punycode, xn--...)")
		}
	}
	return h, nil
}
