package templates

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/evanw/esbuild/pkg/api"
)

// unsupportedSyntax is what cloudfront-js-2.0 does not list (ES5.1 plus
// const/let, arrows, template literals, rest parameters, ** and async/await),
// by esbuild feature name. Unlisted means unsupported: a function that fails
// at the edge fails every request.
var unsupportedSyntax = map[string]string{
	"array-spread":                    "spread (...)",
	"async-generator":                 "async generators",
	"bigint":                          "BigInt literals",
	"class":                           "classes",
	"class-field":                     "class fields",
	"class-private-accessor":          "private class members",
	"class-private-brand-check":       "private class members",
	"class-private-field":             "private class members",
	"class-private-method":            "private class members",
	"class-private-static-accessor":   "private class members",
	"class-private-static-field":      "private class members",
	"class-private-static-method":     "private class members",
	"class-static-blocks":             "class static blocks",
	"class-static-field":              "class fields",
	"decorators":                      "decorators",
	"default-argument":                "default parameters",
	"destructuring":                   "destructuring",
	"dynamic-import":                  "import()",
	"for-await":                       "for await",
	"for-of":                          "for-of loops",
	"generator":                       "generators",
	"hashbang":                        "#! lines",
	"import-meta":                     "import.meta",
	"logical-assignment":              "logical assignment (||=, &&=, ??=)",
	"nested-rest-binding":             "destructuring",
	"new-target":                      "new.target",
	"nullish-coalescing":              "nullish coalescing (??)",
	"object-extensions":               "object literal shorthand, methods or computed keys",
	"object-rest-spread":              "object spread/rest (...)",
	"optional-catch-binding":          "catch without a binding",
	"optional-chain":                  "optional chaining (?.)",
	"regexp-dot-all-flag":             "regular expression flag s",
	"regexp-lookbehind-assertions":    "regular expression lookbehind",
	"regexp-match-indices":            "regular expression flag d",
	"regexp-named-capture-groups":     "regular expression named groups",
	"regexp-set-notation":             "regular expression flag v",
	"regexp-sticky-and-unicode-flags": "regular expression flags y and u",
	"regexp-unicode-property-escapes": "regular expression \\p{...}",
	"top-level-await":                 "top-level await",
	"unicode-escapes":                 "\\u{...} escapes",
	"using":                           "using declarations",
}

const kvsImport = `import cf from"cloudfront";`

// cloudFrontModules are the modules a function may import or require.
var cloudFrontModules = map[string]bool{"crypto": true, "querystring": true, "buffer": true, "cloudfront": true}

// unavailableGlobals are functions the runtime does not have (no network, no
// timers, no eval).
var unavailableGlobals = []string{"eval", "Function", "setTimeout", "setInterval", "setImmediate",
	"fetch", "XMLHttpRequest", "process", "globalThis", "WebAssembly", "Proxy", "Reflect"}

func cloudFrontSupported() map[string]bool {
	m := map[string]bool{}
	for f := range unsupportedSyntax {
		m[f] = false
	}
	return m
}

// CompileCloudFront compiles the viewer-request gate for o: minified,
// checked against cloudfront-js-2.0 and against CloudFront's size limit.
func CompileCloudFront(o CloudFrontOptions) (string, error) {
	if err := o.Validate(); err != nil {
		return "", err
	}
	src, err := o.source()
	if err != nil {
		return "", err
	}
	defines, err := o.defines()
	if err != nil {
		return "", err
	}
	code, err := minify(src, defines)
	if err != nil {
		return "", err
	}
	if o.usesKVS() {
		// Added after minifying: esbuild treats a file with import syntax as
		// a module and renames its top-level names, handler included. The
		// templates refer to cf as a global, which the minifier leaves alone.
		code = kvsImport + code
	}
	if err := CheckCloudFront(code); err != nil {
		if len(code) > MaxFunctionSize && o.Basic != nil && !o.Basic.InKVS {
			return "", fmt.Errorf("compiled gate: %w: %d users in the code; keep them in the KeyValueStore with --users-in-kvs", err, len(o.Basic.Users))
		}
		return "", fmt.Errorf("compiled gate: %w", err)
	}
	return code, nil
}

// source concatenates the template files the options need.
func (o CloudFrontOptions) source() (string, error) {
	var b strings.Builder
	for _, name := range o.sources() {
		js, err := jsFS.ReadFile("js/" + name)
		if err != nil {
			return "", err
		}
		b.Write(js)
		b.WriteString("\n")
	}
	return b.String(), nil
}

// minify runs esbuild with the runtime's feature set, so that the minifier
// never introduces syntax the runtime lacks (it would turn a != null ? a : b
// into ?? for a modern target). Syntax in the source that esbuild would have
// to lower is rejected first, by the same check as the output.
func minify(src string, defines map[string]string) (string, error) {
	if err := checkRuntime(src); err != nil {
		return "", fmt.Errorf("gate template: %w", err)
	}
	r := api.Transform(src, api.TransformOptions{
		Loader:            api.LoaderJS,
		Sourcefile:        "gate.js",
		Define:            defines,
		MinifyWhitespace:  true,
		MinifyIdentifiers: true,
		MinifySyntax:      true,
		Supported:         cloudFrontSupported(),
		LegalComments:     api.LegalCommentsNone,
		Charset:           api.CharsetASCII,
	})
	if err := esbuildErr(r.Errors); err != nil {
		return "", fmt.Errorf("compile gate: %w", err)
	}
	return strings.TrimSpace(string(r.Code)), nil
}

// CheckCloudFront reports code that cloudfront-js-2.0 would reject or run
// differently: unsupported syntax, modules other than crypto, querystring,
// buffer and cloudfront, and globals the runtime lacks. It also enforces the
// 10 KB limit.
//
// esbuild is the parser: with the unsupported features switched off it
// either refuses the syntax ("Transforming destructuring ... is not
// supported") or lowers it; lowering is detected by comparing with the
// output of a transform that has every feature on.
func CheckCloudFront(code string) error {
	if len(code) > MaxFunctionSize {
		return fmt.Errorf("function is %d bytes; CloudFront allows %d", len(code), MaxFunctionSize)
	}
	return checkRuntime(code)
}

func checkRuntime(code string) error {
	base := api.Transform(code, api.TransformOptions{Loader: api.LoaderJS, Sourcefile: "function.js"})
	if err := esbuildErr(base.Errors); err != nil {
		return err
	}
	if err := checkSyntax(code, string(base.Code)); err != nil {
		return err
	}
	if err := checkSpread(code); err != nil {
		return err
	}
	if err := checkModules(string(base.Code)); err != nil {
		return err
	}
	return checkGlobals(code, string(base.Code))
}

func checkSyntax(code, base string) error {
	all := api.Transform(code, api.TransformOptions{Loader: api.LoaderJS, Sourcefile: "function.js", Supported: cloudFrontSupported()})
	if len(all.Errors) == 0 && string(all.Code) == base {
		return nil
	}
	// Name each feature: probe them one by one, in a stable order.
	var found []string
	seen := map[string]bool{}
	for _, f := range slices.Sorted(maps.Keys(unsupportedSyntax)) {
		r := api.Transform(code, api.TransformOptions{Loader: api.LoaderJS, Sourcefile: "function.js", Supported: map[string]bool{f: false}})
		name := unsupportedSyntax[f]
		if (len(r.Errors) > 0 || string(r.Code) != base) && !seen[name] {
			seen[name] = true
			found = append(found, name+where(r.Errors))
		}
	}
	if len(found) == 0 {
		found = append(found, "unknown syntax"+where(all.Errors))
	}
	return fmt.Errorf("cloudfront-js-2.0 does not support %s", strings.Join(found, ", "))
}

func where(msgs []api.Message) string {
	if len(msgs) == 0 || msgs[0].Location == nil {
		return ""
	}
	l := msgs[0].Location
	return fmt.Sprintf(" (line %d: %s)", l.Line, strings.TrimSpace(l.LineText))
}

var moduleRef = regexp.MustCompile(`(?:\bfrom\s*|\brequire\(\s*|\bimport\s*)["']([^"']*)["']`)

func checkModules(code string) error {
	for _, m := range moduleRef.FindAllStringSubmatch(code, -1) {
		if !cloudFrontModules[m[1]] {
			return fmt.Errorf("cloudfront-js-2.0 has no module %q (it has crypto, querystring, buffer, cloudfront)", m[1])
		}
	}
	return nil
}

// checkGlobals finds references to globals the runtime lacks. Replacing a
// global through define changes the output only where the code really
// refers to it (a local variable of the same name is not replaced).
func checkGlobals(code, base string) error {
	var found []string
	for _, g := range unavailableGlobals {
		r := api.Transform(code, api.TransformOptions{Loader: api.LoaderJS, Sourcefile: "function.js",
			Define: map[string]string{g: "__studiobake_unavailable__"}})
		if len(r.Errors) == 0 && string(r.Code) != base {
			found = append(found, g)
		}
	}
	if len(found) > 0 {
		return fmt.Errorf("cloudfront-js-2.0 has no %s (no eval, timers or network)", strings.Join(found, ", "))
	}
	return nil
}

func esbuildErr(msgs []api.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	text := api.FormatMessages(msgs, api.FormatMessagesOptions{Kind: api.ErrorMessage})
	return fmt.Errorf("%s", strings.TrimSpace(strings.Join(text, "\n")))
}
