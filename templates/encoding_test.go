package templates

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
	"github.com/studiobake/studiobake/build"
	"github.com/studiobake/studiobake/build/buildtest"
	"github.com/studiobake/studiobake/templates/cfrun"
)

// encodedManifest is a bake under /agents whose script, stylesheet and page
// have every variant; the font has none, and the odd file has only brotli
// (a manifest edited by hand), which the gate must not trust.
func encodedManifest() *build.Manifest {
	m := &build.Manifest{Schema: build.ManifestSchema, BasePath: "/agents", Entry: build.EntryFile,
		Routes: []string{"agents", "tools"}, Precompress: "best"}
	all := func(p string) []build.Variant {
		var vs []build.Variant
		for _, e := range build.Encodings {
			vs = append(vs, build.Variant{Encoding: e.Name, Path: p + e.Ext})
		}
		return vs
	}
	for _, p := range []string{"assets/main-AbCd1234.js", "assets/style-AbCd1234.css", "index.html"} {
		m.Files = append(m.Files, build.File{Path: p, Variants: all(p)})
	}
	m.Files = append(m.Files, build.File{Path: "assets/mono-AbCd1234.woff2"},
		build.File{Path: "assets/odd-AbCd1234.js", Variants: all("assets/odd-AbCd1234.js")[:1]})
	return m
}

// TestGateEncoding runs content negotiation through goja and node: the best
// coding the viewer accepts by q-value, the file itself when it accepts
// none or sends nothing, 406 only when identity is refused too, and never a
// variant the bake does not have.
func TestGateEncoding(t *testing.T) {
	o := CloudFrontOptionsFromManifest(encodedManifest())
	if strings.Join(o.Encoded, ",") != "/assets/main-AbCd1234.js,/assets/style-AbCd1234.css,/index.html" {
		t.Fatalf("Encoded = %v", o.Encoded)
	}
	code, err := CompileCloudFront(o)
	if err != nil {
		t.Fatal(err)
	}
	main := "/agents/assets/main-AbCd1234.js"
	ae := func(name, uri, header string, w want) gateCase {
		h := map[string]string{"accept-encoding": header}
		if header == "(none)" {
			h = nil
		}
		return gateCase{fmt.Sprintf("%s: %s with %q", name, uri, header), ev(uri, "", "192.0.2.1", h, nil), w}
	}
	cases := []gateCase{
		ae("Chromium", main, "gzip, deflate, br, zstd", want{uri: main + ".br"}),
		ae("gzip only", main, "gzip, deflate", want{uri: main + ".gz"}),
		ae("no header", main, "(none)", want{uri: main}),
		ae("empty header", main, "", want{uri: main}),
		ae("identity", main, "identity", want{uri: main}),
		ae("unknown coding", main, "zstd, compress", want{uri: main}),
		ae("br refused", main, "br;q=0, gzip", want{uri: main + ".gz"}),
		ae("gzip preferred", main, "br;q=0.5, gzip;q=0.8", want{uri: main + ".gz"}),
		ae("br preferred", main, "gzip;q=0.5, br", want{uri: main + ".br"}),
		ae("tie goes to br", main, "gzip;q=1.0, br;q=1", want{uri: main + ".br"}),
		ae("identity preferred", main, "identity;q=1, br;q=0.5", want{uri: main}),
		ae("star", main, "*", want{uri: main + ".br"}),
		ae("star but br", main, "br;q=0, *;q=0.1", want{uri: main + ".gz"}),
		ae("case and spaces", main, "  BR ; Q=1 ", want{uri: main + ".br"}),
		ae("x-gzip", main, "x-gzip", want{uri: main + ".gz"}),
		ae("bad q", main, "br;q=abc", want{uri: main}),
		ae("q zero with decimals", main, "br;q=0.000, gzip;q=0", want{uri: main}),
		ae("identity refused, nothing else", main, "identity;q=0", want{status: 406}),
		ae("all refused", main, "*;q=0", want{status: 406}),
		ae("identity refused, gzip ok", main, "identity;q=0, gzip", want{uri: main + ".gz"}),
		ae("identity refused, no variants", "/agents/assets/mono-AbCd1234.woff2", "identity;q=0, br", want{status: 406}),
		ae("stylesheet", "/agents/assets/style-AbCd1234.css", "br", want{uri: "/agents/assets/style-AbCd1234.css.br"}),
		ae("entry page", "/agents/", "gzip, br", want{uri: "/agents/index.html.br"}),
		ae("deep link", "/agents/agents/gpt-4.1/chat", "gzip", want{uri: "/agents/index.html.gz"}),
		ae("font has no variants", "/agents/assets/mono-AbCd1234.woff2", "br", want{uri: "/agents/assets/mono-AbCd1234.woff2"}),
		ae("only one variant in the manifest", "/agents/assets/odd-AbCd1234.js", "br", want{uri: "/agents/assets/odd-AbCd1234.js"}),
		ae("missing file", "/agents/assets/gone-AbCd1234.js", "br", want{uri: "/agents/assets/gone-AbCd1234.js"}),
		ae("a variant asked for by name", main+".br", "gzip", want{uri: main + ".br"}),
		ae("escaped name", "/agents/assets/main%2DAbCd1234.js", "br", want{uri: "/agents/assets/main%2DAbCd1234.js.br"}),
		ae("same name elsewhere", "/agents/main-AbCd1234.js", "br", want{uri: "/agents/main-AbCd1234.js"}),
		ae("refresh-events is answered first", "/agents/refresh-events", "identity;q=0", want{status: 204}),
	}
	runCases(t, code, nil, cases)
}

// TestGateEncodingOff: a bake without variants compiles no negotiation.
func TestGateEncodingOff(t *testing.T) {
	m := encodedManifest()
	for i := range m.Files {
		m.Files[i].Variants = nil
	}
	code, err := CompileCloudFront(CloudFrontOptionsFromManifest(m))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(code, "accept-encoding") || strings.Contains(code, ".br") {
		t.Errorf("negotiation compiled into a bake without variants: %s", code)
	}
	runCases(t, code, nil, []gateCase{{"br accepted, no variants", ev("/agents/assets/main-AbCd1234.js", "", "", map[string]string{"accept-encoding": "br"}, nil),
		want{uri: "/agents/assets/main-AbCd1234.js"}}})
}

// TestGateEncodingSize compiles every mode with the encoded files of a
// Studio 1.31 bake (33 names, 689 bytes of them): under 3/4 of CloudFront's
// limit, which leaves room for basic-auth users in the code.
func TestGateEncodingSize(t *testing.T) {
	u, _, _ := NewUser("alice")
	o := CloudFrontOptions{BasePath: "/agents", Routes: legacyRoutes, APIPrefix: "/api", RootProbe: true,
		AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, Basic: &BasicAuth{Realm: DefaultRealm, Users: []User{u}},
		Cookie: &CookieAuth{Name: DefaultCookieName, LoginURL: "https://login.example.com/", ReturnParam: DefaultReturnParam},
		KVSARN: testARN}
	for i := 0; i < 31; i++ {
		o.Encoded = append(o.Encoded, fmt.Sprintf("/assets/chunk-name-%02d-AbCdEf12.js", i))
	}
	o.Encoded = append(o.Encoded, "/index.html", "/routes-manifest.json")
	code, err := CompileCloudFront(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("every mode + API + 33 encoded files: %d bytes", len(code))
	if len(code) > MaxFunctionSize*3/4 {
		t.Errorf("%d bytes, over 3/4 of CloudFront's limit", len(code))
	}
	res, errs := runGoja(t, code, map[string]string{KVSCookieSecret: strings.Repeat("k", 40)},
		[]cfrun.Event{ev("/agents/assets/chunk-name-07-AbCdEf12.js", "", "10.1.2.3", map[string]string{"accept-encoding": "br"}, nil)})
	if errs[0] != nil || res[0].Response == nil || res[0].Response.StatusCode != 401 {
		t.Errorf("unauthenticated request: %+v %v", res[0], errs[0])
	}
}

// TestEdgeFilesWithVariants: the headers policy adds Vary (as CloudFront's
// API reads the document), the CloudFront README says what the cache
// needs, nginx serves the variants, and nothing generated for the hosts
// that compress by themselves (Netlify, Cloudflare Pages) names a variant.
// TestReadyFoldersWithoutVariants checks their folders.
func TestEdgeFilesWithVariants(t *testing.T) {
	dir, m := testBake(t, "/agents", false)
	for i := range m.Files {
		if build.Compressible(m.Files[i].Path) {
			for _, e := range build.Encodings {
				m.Files[i].Variants = append(m.Files[i].Variants, build.Variant{Encoding: e.Name, Path: m.Files[i].Path + e.Ext})
			}
		}
	}
	files, err := EdgeFiles(dir, m, EdgeOptions{Hosts: Hosts})
	if err != nil {
		t.Fatal(err)
	}
	var policy types.ResponseHeadersPolicyConfig
	if err := json.Unmarshal(files["edge/cloudfront/"+HeadersPolicyFile], &policy); err != nil {
		t.Fatal(err)
	}
	c := policy.CustomHeadersConfig
	if c == nil || aws.ToInt32(c.Quantity) != 1 || len(c.Items) != 1 || aws.ToString(c.Items[0].Header) != "Vary" ||
		aws.ToString(c.Items[0].Value) != "Accept-Encoding" || aws.ToBool(c.Items[0].Override) {
		t.Errorf("headers policy custom headers: %+v", c)
	}
	if readme := string(files["edge/cloudfront/"+ReadmeFile]); !strings.Contains(readme, "CachingOptimized") || !strings.Contains(readme, "Content-Encoding") {
		t.Errorf("CloudFront README does not explain the variants:\n%s", readme)
	}
	for name, b := range files {
		if strings.HasPrefix(name, "edge/cloudfront/") || strings.HasPrefix(name, "edge/nginx/") {
			continue
		}
		for _, f := range m.Files {
			for _, v := range f.Variants {
				if strings.Contains(string(b), v.Path) {
					t.Errorf("%s names the variant %s:\n%s", name, v.Path, b)
				}
			}
		}
	}

	if conf := string(files["edge/nginx/"+NginxFile]); !strings.Contains(conf, "gzip_static on;") ||
		!strings.Contains(conf, "include studio-brotli.con[f];") || string(files["edge/nginx/"+NginxBrotliFile]) == "" {
		t.Errorf("nginx: no gzip_static or brotli include:\n%s", conf)
	}

	m.Files = encodedManifest().Files[3:4] // no variants left
	if p, _ := HeadersPolicy(m, map[string]string{}); strings.Contains(string(p), "Vary") {
		t.Errorf("a bake without variants gets Vary: %s", p)
	}
	if nf, _ := nginxFiles(m, map[string]string{}); nf[NginxBrotliFile] != nil || strings.Contains(string(nf[NginxFile]), "gzip_static") {
		t.Errorf("nginx serves variants of a bake without them:\n%s", nf[NginxFile])
	}
}

// TestReadyFoldersWithoutVariants: the folders deployed as they are to
// Netlify and Cloudflare Pages hold every file of a bake with variants,
// and none of the variants: those hosts compress by themselves and would
// serve a FILE.br as a file of its own.
func TestReadyFoldersWithoutVariants(t *testing.T) {
	dir, m := buildtest.PrecompressedBake(t)
	if err := WriteEdge(dir, m, EdgeOptions{Hosts: []Host{Netlify, Cloudflare}}); err != nil {
		t.Fatal(err)
	}
	for _, h := range []Host{Netlify, Cloudflare} {
		site := filepath.Join(dir, string(h), strings.TrimPrefix(m.BasePath, "/"))
		for _, f := range m.Files {
			if _, err := os.Stat(filepath.Join(site, filepath.FromSlash(f.Path))); err != nil {
				t.Errorf("%s: %v", h, err)
			}
			for _, v := range f.Variants {
				if _, err := os.Stat(filepath.Join(site, filepath.FromSlash(v.Path))); err == nil {
					t.Errorf("%s/ holds the variant %s", h, v.Path)
				}
			}
		}
	}
}
