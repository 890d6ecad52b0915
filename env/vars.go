package env

import "strings"

// Var is one known variable.
type Var struct {
	Name    string // "MASTRA_SERVER_HOST"
	Default string // mastra studio's default, as written into the page
	Doc     string // one line for .env.example and --help
	Token   bool   // true when it is a %%MASTRA_*%% page token (MASTRA_THEME_TOGGLE is known but not a token)
}

// Names of the variables Load treats specially (unexported: callers use
// the strings, which are the stable interface).
const (
	nameBasePath       = "MASTRA_STUDIO_BASE_PATH"
	nameHost           = "MASTRA_SERVER_HOST"
	namePort           = "MASTRA_SERVER_PORT"
	nameProtocol       = "MASTRA_SERVER_PROTOCOL"
	namePrefix         = "MASTRA_API_PREFIX"
	nameTelemetryOff   = "MASTRA_TELEMETRY_DISABLED"
	nameCloudEndpoint  = "MASTRA_CLOUD_API_ENDPOINT"
	nameAutoDetect     = "MASTRA_AUTO_DETECT_URL"
	namePresets        = "MASTRA_REQUEST_CONTEXT_PRESETS"
	nameObservability  = "MASTRA_PLATFORM_OBSERVABILITY_ENDPOINT"
	nameDevInstance    = "MASTRA_DEV_SERVER_INSTANCE_ID"
	nameThemeToggle    = "MASTRA_THEME_TOGGLE"
	prefix             = "MASTRA_"
	defaultPrefixValue = "/api"
)

// Vars is every known variable: the 19 page tokens of mastra 1.31.0 (base
// path and API location first, then switches, then platform values), then the
// known non-token MASTRA_THEME_TOGGLE. .env.example and --help list them in
// this order; new tokens go at the end of the tokens.
//
// Defaults are what studiobake writes when nothing is set. They equal what
// `mastra studio` writes, except where mastra writes an empty string or
// leaves the token in the page (TELEMETRY_DISABLED, HIDE_CLOUD_CTA,
// AUTO_DETECT_URL): studiobake writes "false", which the SPA reads alike.
var Vars = []Var{
	{nameBasePath, "", "path Studio is served under on the CDN, e.g. /agents; empty = site root", true},
	{nameHost, "localhost", "host name or IP of the Mastra API server (no scheme, port or path)", true},
	{namePort, "4111", "port of the Mastra API server; empty = the protocol's port (443 for https, 80 for http)", true},
	{nameProtocol, "http", "protocol of the Mastra API server: http or https", true},
	{namePrefix, "/api", "path prefix of the Mastra API routes", true},
	{nameTelemetryOff, "false", "true turns Studio's browser telemetry off", true},
	{"MASTRA_HIDE_CLOUD_CTA", "false", "true hides the Mastra Cloud call-to-action", true},
	{nameCloudEndpoint, "", "Mastra platform only: REPLACES the API endpoint; leave empty when self-hosting", true},
	{"MASTRA_EXPERIMENTAL_FEATURES", "false", "true enables experimental features", true},
	{"MASTRA_TEMPLATES", "false", "true enables templates", true},
	{"MASTRA_EXPERIMENTAL_UI", "false", "true enables the experimental UI (agent builder)", true},
	{"MASTRA_SIGNALS_UI", "false", "true enables the signals UI", true},
	{"MASTRA_AGENT_SIGNALS", "true", "false disables agent signals", true},
	{nameAutoDetect, "false", "true calls the API on the page's own origin (Studio and API on one origin)", true},
	{namePresets, "", `request context presets as a JSON object of objects, e.g. {"dev":{"userId":"1"}}`, true},
	{"MASTRA_ORGANIZATION_ID", "", "Mastra platform only: organization id", true},
	{"MASTRA_PLATFORM_PROJECT_ID", "", "Mastra platform only: project id", true},
	{nameObservability, "", "Mastra platform only: observability endpoint URL", true},
	{nameDevInstance, "", "dev server reload only; always written empty (a set value is ignored)", true},
	{nameThemeToggle, "", "accepted for compatibility with Mastra's example .env; not used by the page", false},
}

// lookup returns the known variable called name.
func lookup(name string) (Var, bool) {
	for _, v := range Vars {
		if v.Name == name {
			return v, true
		}
	}
	return Var{}, false
}

// ClosestName returns the known variable name closest to name, or "" when
// nothing is close. It ignores case and a missing MASTRA_ prefix, so that
// "server_host" suggests MASTRA_SERVER_HOST.
func ClosestName(name string) string {
	n := strings.ToUpper(strings.TrimSpace(name))
	if n == "" {
		return ""
	}
	if !strings.HasPrefix(n, prefix) {
		n = prefix + n
	}
	names := make([]string, len(Vars))
	for i, v := range Vars {
		names[i] = v.Name
	}
	// Allow about one typo per four characters of the part after MASTRA_,
	// at least one and at most three: further than that, a suggestion is
	// more likely to mislead than to help.
	return nearest(n, names, min(max((len(n)-len(prefix))/4, 1), 3))
}

// Nearest is the candidate closest to word within about one typo per four
// characters (at least one, at most three), or "": the did-you-mean of
// command and flag names.
func Nearest(word string, candidates []string) string {
	return nearest(word, candidates, min(max(len(word)/4, 1), 3))
}

func nearest(word string, candidates []string, limit int) string {
	best, bestDist := "", -1
	for _, c := range candidates {
		if d := editDistance(word, c); bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	if bestDist < 0 || bestDist > limit {
		return ""
	}
	return best
}

// editDistance is the Damerau (optimal string alignment) distance, so that a
// swap of two letters (HOTS for HOST) counts as one typo.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
