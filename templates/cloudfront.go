// Package templates generates the edge side of a bake: the CloudFront
// Function that routes and gates Studio, the security headers computed from
// the baked page, and the equivalent configuration for Netlify, Cloudflare
// Pages and nginx.
//
// The CloudFront Function is written as plain JavaScript in js/, embedded in
// the binary and compiled by esbuild with the configuration injected through
// define, then checked against what cloudfront-js-2.0 accepts and against
// CloudFront's 10 KB code limit.
package templates

import (
	"crypto/sha256"
	"embed"
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/studiobake/studiobake/build"
)

//go:embed js/*.js
var jsFS embed.FS

// CloudFrontOptions configures the viewer-request gate. The zero value of
// each auth field means that mode is off; with all off the gate only routes.
type CloudFrontOptions struct {
	// BasePath is where Studio is served: "" or "/agents" (no trailing slash).
	BasePath string
	// Routes are Studio's top-level route segments: a path whose first
	// segment under the base is one of them is a deep link into the SPA.
	Routes []string
	// PassFiles are files of the bake (relative to the base, leading "/")
	// that routing would otherwise rewrite to index.html: extensionless
	// files and files under a route segment. They pass unchanged.
	PassFiles []string
	// Encoded are the files of the bake (relative to the base, leading "/")
	// that have every precompressed variant (build.Encodings): the gate
	// sends viewers that accept one to it.
	Encoded []string
	// APIPrefix is forwarded to the Mastra server untouched when the page
	// calls its own origin ("" otherwise): no SPA routing, only the IP rule.
	APIPrefix string
	// RootProbe answers Studio's first request, GET / on its own origin,
	// when Studio lives under a base path and / is not its page.
	RootProbe bool
	// AllowCIDRs is the IP allow-list (--auth ip).
	AllowCIDRs []netip.Prefix
	// Basic enables HTTP basic auth (--auth basic).
	Basic *BasicAuth
	// Cookie enables the signed session cookie (--auth cookie).
	Cookie *CookieAuth
	// KVSARN is an existing CloudFront KeyValueStore for the cookie secret
	// and Basic.InKVS users, recorded for deploy (optional: the code reads
	// the store associated with the function, and the stack creates one).
	KVSARN string
}

// BasicAuth configures HTTP basic auth.
type BasicAuth struct {
	Realm string
	Users []User
	// InKVS keeps the users in the KeyValueStore (key "user:NAME") instead
	// of the code, so users change without a redeploy of the function.
	InKVS bool
}

// CookieAuth configures the signed session cookie check.
type CookieAuth struct {
	// Name of the cookie holding an HS256 JWT or a payload.signature session.
	Name string
	// LoginURL is where a viewer without a valid session is sent; absolute.
	LoginURL string
	// ReturnParam names the query parameter carrying the URL to come back
	// to ("" sends none).
	ReturnParam string
	// The HMAC-SHA256 key is not an option: it is never compiled into the
	// code nor written into the bake; the gate reads it from the
	// KeyValueStore ("cookie-secret"), where publish puts it (GateKVS).
}

// Default settings that users rarely change.
const (
	DefaultRealm       = "Mastra Studio"
	DefaultCookieName  = "studio_session"
	DefaultReturnParam = "return_to"
	// MaxFunctionSize is CloudFront's limit on a function's code.
	MaxFunctionSize = 10 * 1024
	// KVS keys written by deploy and read by the gate.
	KVSCookieSecret = "cookie-secret"
	KVSUserPrefix   = "user:"
)

// legacyRoutes stand in for routes-manifest.json on Studio versions that do
// not ship one (before 1.10): the top-level pages those versions had, so
// deep links with dotted ids (agents/gpt-4.1) still reach the SPA.
var legacyRoutes = []string{"agents", "mcps", "networks", "observability", "playground",
	"runtime-context", "scorers", "templates", "tools", "workflows"}

// CloudFrontOptionsFromManifest is the no-auth gate for a bake.
func CloudFrontOptionsFromManifest(m *build.Manifest) CloudFrontOptions {
	routes := m.Routes
	if len(routes) == 0 {
		routes = legacyRoutes
	}
	o := CloudFrontOptions{BasePath: m.BasePath, Routes: append([]string(nil), routes...)}
	if m.API.SameOrigin() {
		o.APIPrefix, o.RootProbe = m.API.Prefix, m.BasePath != ""
	}
	isRoute := map[string]bool{}
	for _, r := range o.Routes {
		isRoute[r] = true
	}
	for _, f := range m.Files {
		first, _, nested := strings.Cut(f.Path, "/")
		if !strings.Contains(path.Base(f.Path), ".") || (nested && isRoute[first]) {
			o.PassFiles = append(o.PassFiles, "/"+f.Path)
		}
		if len(f.Variants) == len(build.Encodings) {
			o.Encoded = append(o.Encoded, "/"+f.Path)
		}
	}
	return o
}

// usesKVS says whether the compiled code reads the KeyValueStore.
func (o CloudFrontOptions) usesKVS() bool {
	return o.Cookie != nil || (o.Basic != nil && o.Basic.InKVS)
}

var (
	routeSegment = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._~-]*$`)
	apiPrefix    = regexp.MustCompile(`^(/[A-Za-z0-9._~-]+)+$`)
)

// Validate rejects options the gate cannot honour, naming the setting.
func (o CloudFrontOptions) Validate() error {
	if o.BasePath != "" && (!strings.HasPrefix(o.BasePath, "/") || strings.HasSuffix(o.BasePath, "/")) {
		return fmt.Errorf("invalid base path %q: want \"\" or /segment without a trailing slash", o.BasePath)
	}
	if o.APIPrefix != "" && (!apiPrefix.MatchString(o.APIPrefix) || o.APIPrefix == o.BasePath) {
		return fmt.Errorf("invalid API prefix %q for the gate: want /segment[/segment...] outside the base path", o.APIPrefix)
	}
	for _, r := range o.Routes {
		if !routeSegment.MatchString(r) {
			return fmt.Errorf("invalid route segment %q in routes-manifest", r)
		}
	}
	for _, p := range o.AllowCIDRs {
		if !p.IsValid() {
			return fmt.Errorf("invalid --allow-cidr %v", p)
		}
	}
	if o.Basic != nil {
		if err := o.Basic.validate(); err != nil {
			return err
		}
	}
	if o.Cookie != nil {
		if err := o.Cookie.validate(); err != nil {
			return err
		}
	}
	if o.KVSARN != "" {
		return CheckKVSARN("--kvs-arn", o.KVSARN)
	}
	return nil
}

func (b *BasicAuth) validate() error {
	if len(b.Users) == 0 {
		return fmt.Errorf("--auth basic: no users (give --auth-users FILE; create lines with studiobake auth add-user NAME)")
	}
	if strings.ContainsAny(b.Realm, "\"\\\r\n") {
		return fmt.Errorf("invalid --auth-realm %q: quotes, backslashes and line breaks are not allowed", b.Realm)
	}
	for _, u := range b.Users {
		if err := u.validate(); err != nil {
			return err
		}
	}
	return nil
}

func (c *CookieAuth) validate() error {
	if !cookieName.MatchString(c.Name) {
		return fmt.Errorf("invalid --cookie-name %q", c.Name)
	}
	u, err := url.Parse(c.LoginURL)
	if c.LoginURL == "" {
		return fmt.Errorf("--auth cookie needs --login-url: where to send viewers without a session")
	}
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("invalid --login-url %q: want an absolute http(s) URL such as https://login.example.com/start", c.LoginURL)
	}
	if c.ReturnParam != "" && url.QueryEscape(c.ReturnParam) != c.ReturnParam {
		return fmt.Errorf("invalid --login-return-param %q", c.ReturnParam)
	}
	return nil
}

var cookieName = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+.^_|~-]+$`)

// CheckKVSARN refuses what is not a KeyValueStore ARN; setting names
// where it came from.
func CheckKVSARN(setting, arn string) error {
	_, id, ok := strings.Cut(arn, ":key-value-store/")
	if !ok || !strings.HasPrefix(arn, "arn:aws") || id == "" || strings.ContainsAny(id, "/:") {
		return fmt.Errorf("invalid %s %q: want arn:aws:cloudfront::ACCOUNT:key-value-store/ID", setting, arn)
	}
	return nil
}

func (o CloudFrontOptions) hasAuth() bool {
	return len(o.AllowCIDRs) > 0 || o.Basic != nil || o.Cookie != nil
}

// sources lists the template files the options need, in order.
func (o CloudFrontOptions) sources() []string {
	files := []string{"gate.js"}
	if len(o.Encoded) > 0 {
		files = append(files, "encoding.js")
	}
	if o.APIPrefix != "" {
		files = append(files, "api.js")
	}
	if o.hasAuth() {
		files = append(files, "auth.js")
	}
	if len(o.AllowCIDRs) > 0 {
		files = append(files, "ip.js")
	}
	if o.Basic != nil || o.Cookie != nil {
		files = append(files, "util.js")
	}
	if o.Basic != nil {
		files = append(files, "basic.js")
	}
	if o.Cookie != nil {
		files = append(files, "cookie.js")
	}
	if o.usesKVS() {
		files = append(files, "kv.js")
	}
	return files
}

// defines are the esbuild define values: every name the templates use.
func (o CloudFrontOptions) defines() (map[string]string, error) {
	routes := append([]string{}, o.Routes...)
	sort.Strings(routes)
	vals := map[string]any{
		"BASE": o.BasePath, "REFRESH": build.RefreshEvents, "STATE": "/" + build.StateDir,
		"ROUTES": routes, "PASS": append([]string{}, o.PassFiles...),
		"CIDRS": nil, "BASIC": nil, "COOKIE": nil, "DUMMY": "",
		"AUTH": o.hasAuth(), "USERS_IN_KVS": o.Basic != nil && o.Basic.InKVS,
		"API": o.APIPrefix, "PROBE": o.RootProbe, "ENC": encodedByDir(o.Encoded), "CODINGS": codings(),
	}
	if len(o.AllowCIDRs) > 0 {
		vals["CIDRS"] = cidrGroups(o.AllowCIDRs)
	}
	if o.Basic != nil {
		users := map[string]string{}
		if !o.Basic.InKVS {
			for _, u := range o.Basic.Users {
				users[u.Name] = u.Salt + ":" + u.Hash
			}
		}
		vals["BASIC"] = map[string]any{"realm": o.Basic.Realm, "users": users}
		vals["DUMMY"] = dummyUser()
	}
	if o.Cookie != nil {
		vals["COOKIE"] = map[string]string{"name": o.Cookie.Name, "login": o.Cookie.LoginURL, "param": o.Cookie.ReturnParam}
	}
	out := map[string]string{}
	for k, v := range vals {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("define %s: %w", k, err)
		}
		out[k] = string(b)
	}
	return out, nil
}

// encodedByDir groups the encoded files by directory, names joined by "/"
// (which no name contains): {"/assets/": "a.js/b.css", "/": "index.html"}.
// nil when there are none, which compiles encoding.js out.
func encodedByDir(files []string) map[string]string {
	if len(files) == 0 {
		return nil
	}
	out := map[string]string{}
	for _, f := range slices.Sorted(slices.Values(files)) {
		i := strings.LastIndex(f, "/") + 1
		if out[f[:i]] != "" {
			out[f[:i]] += "/"
		}
		out[f[:i]] += f[i:]
	}
	return out
}

// codings are [Content-Encoding, suffix] of build.Encodings, best first.
func codings() [][2]string {
	out := make([][2]string, len(build.Encodings))
	for i, e := range build.Encodings {
		out[i] = [2]string{e.Name, e.Ext}
	}
	return out
}

// cidrGroups encodes prefixes as [16-bit groups of the masked network,
// prefix bits]: 2 groups for IPv4, 8 for IPv6, which is how the gate parses
// the viewer's address.
func cidrGroups(ps []netip.Prefix) [][]any {
	var out [][]any
	for _, p := range ps {
		p = p.Masked()
		b := p.Addr().AsSlice()
		groups := make([]int, len(b)/2)
		for i := range groups {
			groups[i] = int(b[2*i])<<8 | int(b[2*i+1])
		}
		out = append(out, []any{groups, p.Bits()})
	}
	return out
}

// dummyUser is compared against when a name is unknown, so a miss costs the
// same as a wrong password. Its hash is not hex, so it never matches, and it
// is constant so that the same configuration compiles to the same code
// (deploy skips unchanged code).
func dummyUser() string {
	return "0:" + strings.Repeat("x", sha256.Size*2)
}
