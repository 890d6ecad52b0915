package env

import (
	"fmt"
	"net/url"
	"strings"
)

// originAPIOrigin marks values that one-origin mode (--api-origin) set.
const originAPIOrigin = "--api-origin"

// parseAPIOrigin checks --api-origin: the Mastra server that the CDN
// forwards the API prefix to. It is an origin and nothing more: the prefix
// stays MASTRA_API_PREFIX, forwarded unchanged, so the server sees the same
// paths as the page requests.
func parseAPIOrigin(raw string) (string, error) {
	fail := func(reason string) error {
		return fmt.Errorf("invalid --api-origin %s: %s", quote(raw), reason)
	}
	if err := checkText(raw); err != nil {
		return "", fail(err.Error())
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	switch {
	case err != nil:
		return "", fail("not a URL; want an origin such as https://mastra.internal.example.com")
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fail("want an absolute http:// or https:// URL such as https://mastra.internal.example.com")
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return "", fail("no host; want an origin such as https://mastra.internal.example.com")
	case u.User != nil:
		return "", fail("user info (user:password@) is not allowed")
	case u.Path != "" && u.Path != "/":
		return "", fail("a path is not allowed: the CDN forwards MASTRA_API_PREFIX unchanged, so give the server's origin only (set the prefix with MASTRA_API_PREFIX)")
	case u.RawQuery != "" || u.ForceQuery:
		return "", fail("a query (?...) is not allowed")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "", fail("a fragment (#...) is not allowed")
	}
	if _, err := normHost(u.Hostname()); err != nil {
		return "", fail(err.Error())
	}
	out := u.Scheme + "://" + strings.ToLower(u.Host)
	if p := u.Port(); p == defaultPort(u.Scheme) {
		out = strings.TrimSuffix(out, ":"+p)
	} else if p != "" {
		if _, err := normPort(p, u.Scheme); err != nil {
			return "", fail(err.Error())
		}
	}
	return out, nil
}

// applyAPIOrigin turns on one-origin mode: the page calls its own origin
// (MASTRA_AUTO_DETECT_URL) and the server settings it would otherwise use
// must not be set, since the page would ignore them; saying so beats a
// bake that silently does something else.
func applyAPIOrigin(s Sources, raw, origins map[string]string) (string, error) {
	upstream, err := parseAPIOrigin(s.APIOrigin)
	if err != nil {
		return "", fmt.Errorf("%w%s", err, s.from("api-origin"))
	}
	if s.ServerURL != "" {
		return "", fmt.Errorf("--api-origin %s and --server-url %s conflict: in one-origin mode the page calls its own origin and the CDN forwards the API to --api-origin; drop --server-url (set the prefix with MASTRA_API_PREFIX)",
			upstream, quote(s.ServerURL))
	}
	for _, name := range []string{nameProtocol, nameHost, namePort, nameCloudEndpoint} {
		// A value equal to the default (localhost, copied from .env.example)
		// asks for nothing the page would then ignore.
		if v, _ := lookup(name); origins[name] != originDefault && raw[name] != v.Default {
			return "", fmt.Errorf("--api-origin %s and %s %s (from %s) conflict: in one-origin mode the page calls its own origin and the CDN forwards the API to --api-origin; remove %s",
				upstream, name, quote(raw[name]), origins[name], name)
		}
	}
	if origins[nameAutoDetect] != originDefault {
		if v, err := boolWithDefault(nameAutoDetect)(raw[nameAutoDetect]); err == nil && v != "true" {
			return "", fmt.Errorf("--api-origin %s and %s %s (from %s) conflict: one-origin mode needs the page to call its own origin; remove %s",
				upstream, nameAutoDetect, quote(raw[nameAutoDetect]), origins[nameAutoDetect], nameAutoDetect)
		}
	}
	raw[nameAutoDetect], origins[nameAutoDetect] = "true", originAPIOrigin
	return upstream, nil
}

// apiInfo is the manifest's record of how the page reaches the API.
func apiInfo(values map[string]string, apiOrigin, upstream string) API {
	a := API{Mode: APIDirect, Prefix: values[namePrefix], Probe: apiOrigin + "/"}
	if values[nameCloudEndpoint] == "" && values[nameAutoDetect] == "true" {
		a.Mode, a.Probe = APISameOrigin, "(page origin)/"
		if upstream != "" {
			a.Mode, a.Upstream = APIOneOrigin, upstream
		}
	}
	return a
}

// apiShapeErrors rejects API prefixes that the host of the page cannot
// tell apart from Studio's own files: with the API on the page's origin, a
// prefix at or under the base path (or the base path under the prefix)
// sends one of them to the wrong place.
func apiShapeErrors(a API, values, origins map[string]string) error {
	if !a.SameOrigin() {
		return nil
	}
	base, prefix := values[nameBasePath], a.Prefix
	if prefix == base || (base != "" && strings.HasPrefix(prefix, base+"/")) || strings.HasPrefix(base, prefix+"/") {
		return fmt.Errorf("invalid %s %s (from %s): it collides with %s %s (from %s); with the API on the page's origin, one path cannot be both Studio's and the API's: choose a prefix outside the base path, e.g. /api",
			namePrefix, quote(prefix), origins[namePrefix], nameBasePath, quote(base), origins[nameBasePath])
	}
	return nil
}

// apiShapeWarnings names the shapes that work only if something the bake
// does not control answers Studio's first request (its root probe).
func apiShapeWarnings(a API, values map[string]string) []string {
	var warnings []string
	switch {
	case a.Mode == APIDirect && values[nameCloudEndpoint] == "" && strings.Count(a.Prefix, "/") > 1:
		warnings = append(warnings, fmt.Sprintf("Studio first requests %s (the host root, outside %s) and shows its \"Mastra instance URL\" form unless that answers 2xx with CORS for the page's origin: a gateway that routes only %s to Mastra must answer / too (or use --api-origin for one origin)",
			a.Probe, a.Prefix, a.Prefix))
	case a.Mode == APISameOrigin && values[nameBasePath] != "":
		warnings = append(warnings, fmt.Sprintf("%s=true with base path %s and no --api-origin: Studio first requests the page origin's root / and then calls %s/... on the same origin, so the host must answer / with 2xx and forward %s to the Mastra server; --api-origin URL makes every edge output do both",
			nameAutoDetect, values[nameBasePath], a.Prefix, a.Prefix))
	}
	return warnings
}
