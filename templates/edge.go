package templates

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/studiobake/studiobake/build"
)

// Host is an edge target of `studiobake build --edge`.
type Host string

const (
	CloudFront Host = "cloudfront"
	Netlify    Host = "netlify"
	Cloudflare Host = "cloudflare"
	Nginx      Host = "nginx"
)

// Hosts lists the supported hosts.
var Hosts = []Host{CloudFront, Netlify, Cloudflare, Nginx}

// ParseHost checks a --edge value.
func ParseHost(s string) (Host, error) {
	for _, h := range Hosts {
		if string(h) == strings.ToLower(strings.TrimSpace(s)) {
			return h, nil
		}
	}
	return "", fmt.Errorf("invalid --edge %q: want cloudfront, netlify, cloudflare or nginx", s)
}

// Files in edge/cloudfront/.
const (
	FunctionFile      = "function.js"
	FunctionInfoFile  = "function.json"
	HeadersPolicyFile = "headers-policy.json"
	// legacyKVSFile held KeyValueStore entries, the cookie secret
	// included, in bakes of earlier versions; no bake has it now.
	legacyKVSFile = "kvs.json"
	ReadmeFile    = "README.md"
	Runtime       = "cloudfront-js-2.0"
)

// FunctionInfo is edge/cloudfront/function.json: what deploy needs beside
// the code.
type FunctionInfo struct {
	Runtime   string `json:"runtime"`
	EventType string `json:"eventType"`
	// KVSARN is the existing store given at build (--kvs-arn), "" when the
	// stack creates one or publish --kvs-arn names it.
	KVSARN   string   `json:"keyValueStoreARN,omitempty"`
	Size     int      `json:"size"`
	BasePath string   `json:"basePath"`
	Auth     []string `json:"auth,omitempty"`
	// UsersInKVS: the gate reads basic-auth users from the KeyValueStore,
	// so deploying it needs the users file (--auth-users).
	UsersInKVS bool `json:"usersInKVS,omitempty"`
}

// UsesKVS says whether the gate reads a KeyValueStore: the cookie secret
// (--auth cookie) or the users (--users-in-kvs). Its code names no store:
// it reads the one associated with the function.
func (i FunctionInfo) UsesKVS() bool {
	return i.UsersInKVS || slices.Contains(i.Auth, "cookie")
}

// EdgeOptions says which hosts to write for and how the CloudFront gate
// authenticates. Routing comes from the manifest.
type EdgeOptions struct {
	Hosts []Host
	// Auth carries the auth fields of the gate (AllowCIDRs, Basic, Cookie,
	// KVSARN); its routing fields are ignored.
	Auth CloudFrontOptions
}

// GateOptions is the full gate configuration for a bake.
func (o EdgeOptions) GateOptions(m *build.Manifest) CloudFrontOptions {
	g := CloudFrontOptionsFromManifest(m)
	g.AllowCIDRs, g.Basic, g.Cookie, g.KVSARN = o.Auth.AllowCIDRs, o.Auth.Basic, o.Auth.Cookie, o.Auth.KVSARN
	return g
}

// ReadyFolder says whether the host deploys a folder as it is (netlify
// deploy --dir, wrangler pages deploy): build writes OUT/<host>/ with the
// site under its base path and the host's files beside it, and nothing else.
func (h Host) ReadyFolder() bool { return h == Netlify || h == Cloudflare }

// WriteEdge writes the edge output of o into the bake directory dir:
// edge/<host>/ for each host, and each ready folder with the site's files
// in it. Everything is generated and checked before anything is written,
// so a bad option writes nothing; build calls it on its temporary output
// directory for the same reason.
func WriteEdge(dir string, m *build.Manifest, o EdgeOptions) error {
	files, err := EdgeFiles(dir, m, o)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, files[name], 0o644); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
	}
	for _, h := range o.Hosts {
		if h.ReadyFolder() {
			if err := copySite(dir, m, h); err != nil {
				return fmt.Errorf("edge %s: %w", h, err)
			}
		}
	}
	return nil
}

// EdgeFiles generates the edge output in memory, by slash-separated path
// relative to the bake directory: edge/<host>/... for configuration, and
// <host>/... for the host files of a ready folder (its site files are
// linked in by WriteEdge).
func EdgeFiles(dir string, m *build.Manifest, o EdgeOptions) (map[string][]byte, error) {
	site := filepath.Join(dir, build.SiteDir)
	headers, err := SecurityHeaders(m, site)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	for _, h := range o.Hosts {
		var conf, ready map[string][]byte
		switch h {
		case CloudFront:
			conf, err = cloudFrontFiles(m, o, headers)
		case Netlify, Cloudflare:
			conf, ready, err = pagesFiles(h, m, headers)
		case Nginx:
			conf, err = nginxFiles(m, headers)
		default:
			err = fmt.Errorf("unknown edge host %q", h)
		}
		if err != nil {
			return nil, fmt.Errorf("edge %s: %w", h, err)
		}
		for name, b := range conf {
			files[path.Join(build.EdgeDir, string(h), name)] = b
		}
		for name, b := range ready {
			files[path.Join(string(h), name)] = b
		}
	}
	return files, nil
}

func cloudFrontFiles(m *build.Manifest, o EdgeOptions, headers map[string]string) (map[string][]byte, error) {
	g := o.GateOptions(m)
	code, err := CompileCloudFront(g)
	if err != nil {
		return nil, err
	}
	policy, err := HeadersPolicy(m, headers)
	if err != nil {
		return nil, err
	}
	info := FunctionInfo{Runtime: Runtime, EventType: "viewer-request", Size: len(code), BasePath: m.BasePath, Auth: g.authModes(),
		UsersInKVS: g.Basic != nil && g.Basic.InKVS}
	if g.usesKVS() {
		info.KVSARN = g.KVSARN
	}
	infoJSON, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		FunctionFile:      []byte(code + "\n"),
		FunctionInfoFile:  append(infoJSON, '\n'),
		HeadersPolicyFile: policy,
		ReadmeFile:        cloudFrontReadme(m, g, len(code)),
	}
	return files, nil
}

func (o CloudFrontOptions) authModes() []string {
	var modes []string
	if len(o.AllowCIDRs) > 0 {
		modes = append(modes, "ip")
	}
	if o.Basic != nil {
		modes = append(modes, "basic")
	}
	if o.Cookie != nil {
		modes = append(modes, "cookie")
	}
	return modes
}

// LoadCloudFront reads the code of the gate a bake was built with (build
// --edge cloudfront); ok is false when the bake has no CloudFront gate.
// Its secrets are not in the bake: see GateKVS.
func LoadCloudFront(bakeDir string) (code string, ok bool, err error) {
	d := filepath.Join(bakeDir, build.EdgeDir, string(CloudFront))
	b, err := os.ReadFile(filepath.Join(d, FunctionFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	if _, err := os.Stat(filepath.Join(d, legacyKVSFile)); err == nil {
		return "", false, fmt.Errorf("%s is from an earlier studiobake and holds the cookie secret: delete it and rebuild; "+
			"secrets are now read when deploying (--cookie-secret-file or STUDIOBAKE_COOKIE_SECRET, --auth-users)", filepath.Join(d, legacyKVSFile))
	}
	return strings.TrimSpace(string(b)), true, nil
}

// ReadFunctionInfo reads edge/cloudfront/function.json of a bake.
func ReadFunctionInfo(bakeDir string) (FunctionInfo, error) {
	var info FunctionInfo
	p := filepath.Join(bakeDir, build.EdgeDir, string(CloudFront), FunctionInfoFile)
	b, err := os.ReadFile(p)
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return info, fmt.Errorf("read %s: %w", p, err)
	}
	return info, nil
}
