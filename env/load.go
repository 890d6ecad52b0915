package env

import (
	"errors"
	"fmt"
	"net/url"
	"os"
)

// Sources says where Load looks for values.
type Sources struct {
	Dir          string            // where .env, .env.local, .env.[mode], .env.[mode].local are looked for (working dir); "" = don't read them
	Mode         string            // --mode: which .env.[mode] files ("" = production, and --env-file replaces them)
	EnvFileFlags []string          // --env-file, in the order given; a later file overrides an earlier one; a missing one is an error
	Environ      []string          // the process environment in os.Environ() form (tests pass their own)
	Flags        map[string]string // explicit values from command-line flags, by variable name; highest priority
	ServerURL    string            // --server-url convenience, e.g. https://api.example.com:8443/mastra/api
	PresetsFile  string            // --request-context-presets FILE (JSON file); overrides MASTRA_REQUEST_CONTEXT_PRESETS
	APIOrigin    string            // --api-origin: one-origin mode, the Mastra server the CDN forwards the API prefix to
	// Config holds Studio values from the config file (its set and
	// base-path), above the .env files and below the environment;
	// ConfigOrigin names the file (and environment) in messages.
	Config       map[string]string
	ConfigOrigin string
	// From says where --server-url and --api-origin came from when not the
	// command line ("studiobake.toml [env.staging]"), for their errors.
	From map[string]string
}

// from is " (from X)" for a flag whose value came from elsewhere.
func (s Sources) from(flag string) string {
	if o := s.From[flag]; o != "" {
		return " (from " + o + ")"
	}
	return ""
}

// Config is the validated configuration of one bake.
type Config struct {
	Values           map[string]string // every known TOKEN variable (Token==true) -> exact string to write into the page; DEV_SERVER_INSTANCE_ID is ""
	Origins          map[string]string // variable -> where its value came from: "flag", "environment", "<path of env file>", "--server-url", "--request-context-presets", "default"
	BasePath         string            // normalised base path: "" or "/agents"
	APIEndpoint      string            // what the page will call, e.g. "https://api.example.com:443/api"; with auto-detect "(page origin)/api"; with CLOUD_API_ENDPOINT set, that value + prefix
	APIOrigin        string            // scheme://host:port of the API, "" when auto-detect (same origin as the page)
	API              API               // how the page reaches the API, for the manifest and every edge output
	TelemetryEnabled bool
}

// Load reads every source, applies precedence, and validates and normalises
// every value. Warnings are for the user (one line each); an error means
// nothing should be baked. When several values are invalid, the error lists
// each on its own line.
func Load(s Sources) (*Config, []string, error) {
	layers, warnings, err := collect(s)
	if err != nil {
		return nil, nil, err
	}
	raw, origins := resolve(layers)
	warnings = append(warnings, overriddenServerURL(layers)...)
	if s.PresetsFile != "" {
		if v, ok := s.Flags[namePresets]; ok && v != "" {
			return nil, nil, fmt.Errorf("both --request-context-presets %s and a %s flag are given; use one", s.PresetsFile, namePresets)
		}
		presets, err := readPresetsFile(s.PresetsFile)
		if err != nil {
			return nil, nil, err
		}
		raw[namePresets], origins[namePresets] = presets, originPresets
	}
	upstream := ""
	if s.APIOrigin != "" {
		if upstream, err = applyAPIOrigin(s, raw, origins); err != nil {
			return nil, nil, err
		}
	}
	values, err := normalise(raw, origins)
	if err != nil {
		return nil, nil, err
	}
	if raw[nameDevInstance] != "" {
		warnings = append(warnings, fmt.Sprintf("%s (from %s) is ignored: it only serves the dev server's reload script", nameDevInstance, origins[nameDevInstance]))
		origins[nameDevInstance] = originDefault
	}
	cfg := &Config{
		Values:           values,
		Origins:          origins,
		BasePath:         values[nameBasePath],
		TelemetryEnabled: values[nameTelemetryOff] != "true",
	}
	cfg.APIEndpoint, cfg.APIOrigin = endpoint(values)
	cfg.API = apiInfo(values, cfg.APIOrigin, upstream)
	if err := apiShapeErrors(cfg.API, values, origins); err != nil {
		return nil, nil, err
	}
	warnings = append(warnings, endpointWarnings(values, origins)...)
	warnings = append(warnings, apiShapeWarnings(cfg.API, values)...)
	return cfg, warnings, nil
}

// resolve picks, for every token, the value of the highest layer that has it.
func resolve(layers []layer) (raw, origins map[string]string) {
	raw, origins = map[string]string{}, map[string]string{}
	for _, v := range Vars {
		if !v.Token {
			continue
		}
		raw[v.Name], origins[v.Name] = v.Default, originDefault
		for _, l := range layers {
			if val, ok := l.values[v.Name]; ok {
				raw[v.Name], origins[v.Name] = val, l.origin
			}
		}
	}
	return raw, origins
}

// overriddenServerURL warns when a flag for one variable beats the part of
// --server-url that sets it: the more specific flag wins, but the user may
// not have meant both.
func overriddenServerURL(layers []layer) []string {
	var fromURL, flags map[string]string
	for _, l := range layers {
		switch l.origin {
		case originServerURL:
			fromURL = l.values
		case originFlag:
			flags = l.values
		}
	}
	var warnings []string
	for _, name := range []string{nameProtocol, nameHost, namePort, namePrefix} {
		u, inURL := fromURL[name]
		f, inFlags := flags[name]
		if inURL && inFlags && u != f {
			warnings = append(warnings, fmt.Sprintf("the %s flag (%q) overrides --server-url's %q", name, f, u))
		}
	}
	return warnings
}

// readPresetsFile reads and validates a presets file; errors name the file
// rather than quoting its content.
func readPresetsFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read request context presets: %w", err)
	}
	v := string(data)
	if err := checkText(v); err != nil {
		return "", fmt.Errorf("invalid request context presets file %s: %w", path, err)
	}
	if _, err := normPresets(v); err != nil {
		return "", fmt.Errorf("invalid request context presets file %s: %w", path, err)
	}
	return v, nil
}

// normalise validates every token in Vars order and returns the values to
// write. All failures are reported at once so that one run shows them all.
func normalise(raw, origins map[string]string) (map[string]string, error) {
	// An empty port means the protocol's port, so the protocol comes first;
	// if it is invalid, its own error is reported below.
	protocol, _ := normProtocol(raw[nameProtocol])
	if protocol == "https" && origins[namePort] == originDefault {
		// mastra's 4111 is its local dev server's port; nobody serves that
		// with TLS, so an https API with no port set is on 443.
		raw[namePort] = "443"
	}
	values := map[string]string{}
	var errs []error
	for _, v := range Vars {
		if !v.Token {
			continue
		}
		val, err := normaliseOne(v.Name, raw[v.Name], origins[v.Name], protocol)
		if err != nil {
			errs = append(errs, err)
		}
		values[v.Name] = val
	}
	values[nameDevInstance] = ""
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return values, nil
}

// normaliseOne validates one value; the error ends with where the value was
// set, since the same name can come from five places.
func normaliseOne(name, raw, origin, protocol string) (string, error) {
	if err := checkText(raw); err != nil {
		return "", fmt.Errorf("invalid %s %s: %w (from %s)", name, quote(raw), err, origin)
	}
	norm, ok := normalisers[name]
	if name == namePort {
		norm, ok = func(v string) (string, error) { return normPort(v, protocol) }, true
	}
	if !ok {
		return raw, nil
	}
	v, err := norm(raw)
	if err != nil {
		return "", fmt.Errorf("invalid %s %s: %w (from %s)", name, quote(raw), err, origin)
	}
	return v, nil
}

// endpoint computes what the page calls, as Studio does:
// CLOUD_API_ENDPOINT || (AUTO_DETECT_URL ? location.origin : proto://host:port), then + prefix.
func endpoint(values map[string]string) (apiEndpoint, apiOrigin string) {
	prefix := values[namePrefix]
	if cloud := values[nameCloudEndpoint]; cloud != "" {
		u, err := url.Parse(cloud)
		if err != nil { // cannot happen: normalise accepted it
			return cloud + prefix, ""
		}
		return cloud + prefix, originOf(u)
	}
	if values[nameAutoDetect] == "true" {
		return "(page origin)" + prefix, ""
	}
	origin := values[nameProtocol] + "://" + values[nameHost] + ":" + values[namePort]
	return origin + prefix, origin
}

// endpointWarnings flags settings that will not do what the user likely
// meant: a platform endpoint in a self-hosted bake, server settings that
// auto-detect ignores, and https on mastra's dev port.
func endpointWarnings(values, origins map[string]string) []string {
	var warnings []string
	cloud, auto := values[nameCloudEndpoint], values[nameAutoDetect] == "true"
	if cloud != "" {
		warnings = append(warnings, fmt.Sprintf("%s (from %s) replaces the API endpoint: Studio will call %s%s and ignore MASTRA_SERVER_*; leave it empty when self-hosting",
			nameCloudEndpoint, origins[nameCloudEndpoint], cloud, values[namePrefix]))
	}
	if auto && cloud == "" {
		for _, name := range []string{nameProtocol, nameHost, namePort} {
			if origins[name] != originDefault {
				warnings = append(warnings, fmt.Sprintf("%s (from %s) is ignored: %s=true makes Studio call the page's own origin",
					name, origins[name], nameAutoDetect))
			}
		}
	}
	return warnings
}
