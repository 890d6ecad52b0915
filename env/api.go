package env

// APIMode says how the page reaches the Mastra API.
type APIMode string

const (
	// APIDirect: the page calls the API at APIOrigin (another origin, with
	// CORS and credentials, or the same origin by coincidence).
	APIDirect APIMode = "direct"
	// APISameOrigin: MASTRA_AUTO_DETECT_URL without an upstream; the page
	// calls its own origin and whoever hosts it must serve the API there.
	APISameOrigin APIMode = "same-origin"
	// APIOneOrigin: the page calls its own origin and the CDN (every edge
	// output, and serve --api) forwards Prefix to Upstream.
	APIOneOrigin APIMode = "one-origin"
)

// API is the manifest's record of the API: what the page calls and what the
// host of the page must do for it.
type API struct {
	Mode APIMode `json:"mode"`
	// Prefix is MASTRA_API_PREFIX: "/api".
	Prefix string `json:"prefix"`
	// Upstream is the Mastra server the CDN forwards Prefix to (one-origin
	// mode only): scheme://host, with :port only when not the scheme's own.
	Upstream string `json:"upstream,omitempty"`
	// Probe is the URL Studio requests before anything else (its root
	// probe): the API origin's root, or "(page origin)/" when it calls its
	// own origin. Unless it answers 2xx, Studio shows its instance URL form.
	Probe string `json:"probe"`
}

// OneOrigin says whether the host of the page forwards the API prefix.
func (a API) OneOrigin() bool { return a.Mode == APIOneOrigin }

// SameOrigin says whether the page calls its own origin for the API.
func (a API) SameOrigin() bool { return a.Mode == APISameOrigin || a.Mode == APIOneOrigin }
