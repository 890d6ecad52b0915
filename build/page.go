package build

import (
	"fmt"
	"html"
	"path"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/evanw/esbuild/pkg/api"
)

// tokenRE finds Studio's placeholders. The set grows between Studio versions,
// so tokens are found by pattern, never from a fixed list.
var tokenRE = regexp.MustCompile(`%%MASTRA_[A-Z0-9_]+%%`)

// scriptRE finds script elements. index.html is Vite's own small, regular
// output; a full HTML parser would re-serialise it and change bytes we must
// keep.
var scriptRE = regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script\s*>`)

// Fill is the result of filling one index.html.
type Fill struct {
	HTML    []byte
	Tokens  []string // every distinct token found, sorted (MASTRA_X, without %%)
	Unknown []string // tokens with no value, filled with ""
}

// FillPage replaces every %%MASTRA_*%% token in page. Inside inline scripts a
// value is written as an escaped JavaScript string; elsewhere (the <base href>
// attribute) it is HTML-escaped. Tokens with no entry in values are filled with
// "" and reported in Fill.Unknown. Inline scripts that open the dev server's
// live-reload EventSource get a local stand-in so the baked page never calls
// refresh-events on a static host.
func FillPage(page []byte, values map[string]string) (*Fill, error) {
	for name, v := range values {
		if !utf8.ValidString(v) {
			return nil, fmt.Errorf("invalid %s %q: not valid UTF-8", name, v)
		}
	}
	f := &Fill{}
	seen := map[string]bool{}
	lookup := func(tok string) string {
		name := strings.Trim(tok, "%")
		v, ok := values[name]
		if !seen[name] {
			seen[name] = true
			f.Tokens = append(f.Tokens, name)
			if !ok {
				f.Unknown = append(f.Unknown, name)
			}
		}
		return v
	}
	var out strings.Builder
	src := string(page)
	last := 0
	for _, m := range scriptRE.FindAllStringSubmatchIndex(src, -1) {
		out.WriteString(fillHTML(src[last:m[4]], lookup))
		body := src[m[4]:m[5]]
		if !hasAttr(src[m[2]:m[3]], "src") {
			var err error
			if body, err = fillScript(body, lookup); err != nil {
				return nil, err
			}
		}
		out.WriteString(body)
		last = m[5]
	}
	out.WriteString(fillHTML(src[last:], lookup))
	sort.Strings(f.Tokens)
	sort.Strings(f.Unknown)
	f.HTML = []byte(out.String())
	return f, nil
}

func fillHTML(s string, lookup func(string) string) string {
	return tokenRE.ReplaceAllStringFunc(s, func(tok string) string {
		return html.EscapeString(lookup(tok))
	})
}

// fillScript fills the tokens of one inline script. A token inside quotes
// becomes the escaped characters of the value; a bare token (not seen in any
// Studio version, but possible) becomes a whole string literal, so that no
// value can ever be read as code.
func fillScript(body string, lookup func(string) string) (string, error) {
	var b strings.Builder
	last := 0
	for _, m := range tokenRE.FindAllStringIndex(body, -1) {
		v := jsEscape(lookup(body[m[0]:m[1]]))
		b.WriteString(body[last:m[0]])
		if quoted(body, m[0], m[1]) {
			b.WriteString(v)
		} else {
			b.WriteString(`"` + v + `"`)
		}
		last = m[1]
	}
	b.WriteString(body[last:])
	out := b.String()
	if strings.Contains(out, "EventSource") {
		out = silenceEventSource(out)
	}
	if err := checkJS(out); err != nil {
		return "", err
	}
	return out, nil
}

func quoted(s string, start, end int) bool {
	if start == 0 || end >= len(s) {
		return false
	}
	q := s[start-1]
	return (q == '\'' || q == '"' || q == '`') && s[end] == q
}

// silenceEventSource runs the script with a local EventSource that never
// connects. Studio's inline script reconnects to <base>/refresh-events forever
// (a dev-server live-reload feature); on a CDN that is a request every few
// seconds that can only fail. Shadowing the name inside the script keeps the
// rest of the script (placeholder values, theme) unchanged and leaves the
// browser's own EventSource alone for the app.
func silenceEventSource(body string) string {
	return "\n(function (EventSource) {" + body +
		"})(function () { return { close: function () {}, addEventListener: function () {} }; });\n"
}

// checkJS parses a rewritten inline script with esbuild, so that a page that
// would not run is an error at bake time, not in a user's browser.
func checkJS(code string) error {
	r := api.Transform(code, api.TransformOptions{Loader: api.LoaderJS, LogLevel: api.LogLevelSilent})
	if len(r.Errors) == 0 {
		return nil
	}
	msgs := api.FormatMessages(r.Errors, api.FormatMessagesOptions{Kind: api.ErrorMessage})
	return fmt.Errorf("index.html: inline script does not parse after filling placeholders:\n%s", strings.Join(msgs, ""))
}

// jsEscape writes s so that it reads back exactly as s inside any JavaScript
// string literal (”, "" or “) within an HTML <script> element. Everything
// but a conservative set of ASCII characters becomes a \u escape: quotes,
// backslash, '<' (no "</script>" or "<!--"), '$' (template literals), line
// terminators including U+2028/U+2029, and all non-ASCII.
func jsEscape(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf && jsSafe[r]:
			b.WriteRune(r)
		case r <= 0xFFFF:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			r -= 0x10000
			fmt.Fprintf(&b, `\u%04X\u%04X`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
		}
	}
	return b.String()
}

var jsSafe = func() (t [utf8.RuneSelf]bool) {
	for _, c := range "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-.,:/@+=!?*~#%&;()[]{}|^" {
		t[c] = true
	}
	return t
}()

var (
	tagRE  = regexp.MustCompile(`(?is)<(script|link|img|source|meta)\b[^>]*>`)
	attrRE = regexp.MustCompile(`(?is)\s([a-z-]+)\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+)`)
)

// InlineScripts returns the text of the page's inline script elements, in
// page order: what browsers run and what a CSP 'sha256-' source hashes. The
// edge templates use it so that the bake and the CSP agree on what an inline
// script is.
func InlineScripts(page []byte) [][]byte {
	var out [][]byte
	for _, m := range scriptRE.FindAllSubmatchIndex(page, -1) {
		if !hasAttr(string(page[m[2]:m[3]]), "src") {
			out = append(out, page[m[4]:m[5]])
		}
	}
	return out
}

func hasAttr(attrs, name string) bool {
	for _, m := range attrRE.FindAllStringSubmatch(" "+attrs, -1) {
		if strings.EqualFold(m[1], name) {
			return true
		}
	}
	return false
}

// localRef maps a reference in the page to a path under site/, or "" when it
// points elsewhere (another origin, a data: URL, outside the base path).
func localRef(ref, basePath string) string {
	if i := strings.IndexAny(ref, "?#"); i >= 0 {
		ref = ref[:i]
	}
	switch {
	case ref == "", strings.HasPrefix(ref, "//"), strings.Contains(ref, ":"):
		return ""
	case strings.HasPrefix(ref, "/"):
		if basePath != "" {
			if !strings.HasPrefix(ref, basePath+"/") {
				return ""
			}
			ref = ref[len(basePath):]
		}
		return strings.TrimPrefix(path.Clean(ref), "/")
	default:
		p := path.Clean(ref)
		if strings.HasPrefix(p, "../") || p == ".." {
			return ""
		}
		return p
	}
}

// rewriteRefs renames references to fingerprinted files and adds SRI to every
// local script and stylesheet/modulepreload link. files maps a site path to
// its output entry; renamed maps an original site path to its new one; sri
// returns a file's SHA-384 integrity.
func rewriteRefs(page []byte, basePath string, renamed map[string]string, files map[string]*File, sri func(*File) (string, error)) ([]byte, error) {
	var err error
	out := tagRE.ReplaceAllStringFunc(string(page), func(tag string) string {
		if err != nil {
			return tag
		}
		var t string
		t, err = rewriteTag(tag, basePath, renamed, files, sri)
		return t
	})
	return []byte(out), err
}

func rewriteTag(tag, basePath string, renamed map[string]string, files map[string]*File, sri func(*File) (string, error)) (string, error) {
	name := strings.ToLower(tagRE.FindStringSubmatch(tag)[1])
	attrs := map[string]string{}
	for _, m := range attrRE.FindAllStringSubmatch(tag, -1) {
		attrs[strings.ToLower(m[1])] = strings.Trim(m[2], `"'`)
	}
	refAttr := "src"
	if name == "link" {
		refAttr = "href"
	}
	ref, ok := attrs[refAttr]
	if !ok {
		return tag, nil
	}
	target := localRef(ref, basePath)
	if target == "" {
		return tag, nil
	}
	if to, ok := renamed[target]; ok {
		newRef := strings.TrimSuffix(ref, path.Base(target)) + path.Base(to)
		tag = strings.Replace(tag, ref, newRef, 1)
		target = to
	}
	rel := strings.ToLower(attrs["rel"])
	if !(name == "script" || (name == "link" && (rel == "stylesheet" || rel == "modulepreload"))) {
		return tag, nil
	}
	f := files[target]
	if f == nil {
		return "", fmt.Errorf("index.html references %s, which is not in the Studio tree", ref)
	}
	integrity, err := sri(f)
	if err != nil {
		return "", err
	}
	return setIntegrity(tag, integrity), nil
}

var integrityRE = regexp.MustCompile(`(?is)\sintegrity\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+)`)

func setIntegrity(tag, integrity string) string {
	tag = integrityRE.ReplaceAllString(tag, "")
	end := strings.LastIndex(tag, ">")
	if end > 0 && tag[end-1] == '/' {
		end--
	}
	head := strings.TrimRight(tag[:end], " ")
	return head + ` integrity="` + integrity + `"` + tag[len(head):]
}
