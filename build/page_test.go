package build

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dop251/goja"
	"golang.org/x/net/html"
)

// pageRun is what evaluating a baked page's inline scripts did.
type pageRun struct {
	window       map[string]any // window.MASTRA_* values
	eventSources int            // how many times the global EventSource was constructed
}

// runPage evaluates every inline script of page in a JS engine with a small
// browser stand-in: window (the global object), localStorage, matchMedia,
// document.documentElement, and an EventSource that counts connections.
func runPage(t testing.TB, page []byte) pageRun {
	t.Helper()
	vm := goja.New()
	var opened int
	g := vm.GlobalObject()
	must(t, g.Set("window", g))
	must(t, vm.Set("EventSource", func(call goja.ConstructorCall) *goja.Object {
		opened++
		o := call.This
		must(t, o.Set("close", func() {}))
		return nil
	}))
	_, err := vm.RunString(`
		var localStorage = { getItem: function () { return null; } };
		window.localStorage = localStorage;
		window.matchMedia = function () { return { matches: true }; };
		window.addEventListener = function () {};
		window.location = { reload: function () {}, origin: 'http://127.0.0.1' };
		var document = { documentElement: { className: '' } };
		var setTimeout = function () {};`)
	must(t, err)
	for _, s := range inlineScripts(t, page) {
		if _, err := vm.RunString(s); err != nil {
			t.Fatalf("inline script does not run: %v\n%s", err, s)
		}
	}
	run := pageRun{window: map[string]any{}, eventSources: opened}
	for _, k := range g.Keys() {
		if strings.HasPrefix(k, "MASTRA_") {
			run.window[k] = g.Get(k).Export()
		}
	}
	return run
}

// inlineScripts parses page as a browser would and returns the text of its
// inline script elements.
func inlineScripts(t testing.TB, page []byte) []string {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	must(t, err)
	var out []string
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "script" && attr(n, "src") == "" {
			var b strings.Builder
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				b.WriteString(c.Data)
			}
			out = append(out, b.String())
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return out
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestJSEscape(t *testing.T) {
	cases := []struct{ desc, in, want string }{
		{"plain host", "api.example.com", "api.example.com"},
		{"single quote", "it's", `it\u0027s`},
		{"backslash", `a\b`, `a\u005Cb`},
		{"script close", "</script>", `\u003C/script\u003E`},
		{"html comment open", "<!--", `\u003C!--`},
		{"newline and CR", "a\nb\rc", `a\u000Ab\u000Dc`},
		{"line separators", "\u2028\u2029", `\u2028\u2029`},
		{"template literal", "${x}`", `\u0024{x}\u0060`},
		{"astral plane", "😀", `\uD83D\uDE00`},
		{"empty", "", ""},
	}
	for _, c := range cases {
		if got := jsEscape(c.in); got != c.want {
			t.Errorf("%s: jsEscape(%q) = %q, want %q", c.desc, c.in, got, c.want)
		}
	}
}

func TestFillPageValuesReadBack(t *testing.T) {
	page := readTestdata(t, "v1.31/index.html")
	values := fullValues()
	values["MASTRA_ORGANIZATION_ID"] = "org '\"</script><script>alert(1)</script>\u2028`${x}`"
	values["MASTRA_REQUEST_CONTEXT_PRESETS"] = `{"dev":{"userId":"a'b"}}`
	f, err := FillPage(page, values)
	must(t, err)
	if len(f.Unknown) != 0 {
		t.Fatalf("unknown tokens %v in the 1.31 tree", f.Unknown)
	}
	if len(f.Tokens) != 19 {
		t.Errorf("found %d tokens in the 1.31 tree, want 19: %v", len(f.Tokens), f.Tokens)
	}
	run := runPage(t, f.HTML)
	for name, want := range values {
		if !bytes.Contains(page, []byte("window."+name+" =")) {
			continue
		}
		if got := run.window[name]; got != want {
			t.Errorf("window.%s = %q, want %q", name, got, want)
		}
	}
	if run.eventSources != 0 {
		t.Errorf("baked page opened %d EventSource connections, want 0", run.eventSources)
	}
}

// TestUnbakedPageOpensEventSource proves the harness can see the connection
// that baking removes.
func TestUnbakedPageOpensEventSource(t *testing.T) {
	for _, v := range []string{"v0.18", "v1.0", "v1.10", "v1.31"} {
		page := tokenRE.ReplaceAll(readTestdata(t, v+"/index.html"), []byte(""))
		if run := runPage(t, page); run.eventSources != 1 {
			t.Errorf("%s: unbaked page opened %d EventSource connections, want 1", v, run.eventSources)
		}
	}
}

func TestFillPageUnknownToken(t *testing.T) {
	page := []byte(`<script>window.MASTRA_NEW_THING = '%%MASTRA_NEW_THING%%'; window.MASTRA_SERVER_HOST = '%%MASTRA_SERVER_HOST%%';</script>`)
	f, err := FillPage(page, map[string]string{"MASTRA_SERVER_HOST": "h"})
	must(t, err)
	if fmt.Sprint(f.Unknown) != "[MASTRA_NEW_THING]" {
		t.Errorf("Unknown = %v, want [MASTRA_NEW_THING]", f.Unknown)
	}
	if got := runPage(t, f.HTML).window["MASTRA_NEW_THING"]; got != "" {
		t.Errorf("unknown token filled with %q, want \"\"", got)
	}
}

func TestFillPageBareTokenBecomesString(t *testing.T) {
	page := []byte(`<script>window.MASTRA_X = %%MASTRA_X%%;</script>`)
	f, err := FillPage(page, map[string]string{"MASTRA_X": "alert(1)"})
	must(t, err)
	if got := runPage(t, f.HTML).window["MASTRA_X"]; got != "alert(1)" {
		t.Errorf("bare token = %#v, want the string \"alert(1)\"", got)
	}
}

func TestFillPageInvalidUTF8(t *testing.T) {
	_, err := FillPage([]byte(`<script>'%%MASTRA_X%%'</script>`), map[string]string{"MASTRA_X": "\xff"})
	if err == nil || !strings.Contains(err.Error(), "MASTRA_X") {
		t.Fatalf("err = %v, want an error naming MASTRA_X", err)
	}
}

func TestLocalRef(t *testing.T) {
	cases := []struct{ desc, ref, base, want string }{
		{"relative", "./assets/a.js", "/agents", "assets/a.js"},
		{"relative without dot", "assets/a.js", "", "assets/a.js"},
		{"absolute at root", "/assets/a.js", "", "assets/a.js"},
		{"absolute under base", "/agents/assets/a.js", "/agents", "assets/a.js"},
		{"absolute outside base", "/other/a.js", "/agents", ""},
		{"query and fragment", "./a.svg?v=1#x", "", "a.svg"},
		{"other origin", "https://cdn.example.com/a.js", "", ""},
		{"protocol relative", "//cdn.example.com/a.js", "", ""},
		{"data url", "data:image/svg+xml,abc", "", ""},
		{"parent escape", "../a.js", "", ""},
	}
	for _, c := range cases {
		if got := localRef(c.ref, c.base); got != c.want {
			t.Errorf("%s: localRef(%q, %q) = %q, want %q", c.desc, c.ref, c.base, got, c.want)
		}
	}
}

// FuzzFillPage: for any value, the baked page's inline script evaluates to
// exactly that value, and the page keeps exactly the script elements it had
// (no "</script>" break-out). The seed corpus in testdata/fuzz runs in CI.
func FuzzFillPage(f *testing.F) {
	for _, s := range []string{"", "api.example.com", "</script><script>alert(1)</script>", "'\"\\\n\r\u2028\u2029", "<!--<script>", "${1}`", "😀\x00"} {
		f.Add(s)
	}
	page := readTestdata(f, "v1.31/index.html")
	want := len(inlineScripts(f, page))
	f.Fuzz(func(t *testing.T, v string) {
		values := fullValues()
		values["MASTRA_ORGANIZATION_ID"] = v
		got, err := FillPage(page, values)
		if !utf8.ValidString(v) {
			if err == nil {
				t.Fatalf("invalid UTF-8 %q accepted", v)
			}
			return
		}
		must(t, err)
		if n := len(inlineScripts(t, got.HTML)); n != want {
			t.Fatalf("value %q: page has %d inline scripts, want %d", v, n, want)
		}
		if read := runPage(t, got.HTML).window["MASTRA_ORGANIZATION_ID"]; read != v {
			t.Fatalf("value %q read back as %q", v, read)
		}
	})
}

// fullValues is a complete, valid configuration for the test trees.
func fullValues() map[string]string {
	return map[string]string{
		"MASTRA_STUDIO_BASE_PATH": "/agents", "MASTRA_SERVER_HOST": "api.example.com",
		"MASTRA_SERVER_PORT": "443", "MASTRA_SERVER_PROTOCOL": "https", "MASTRA_API_PREFIX": "/api",
		"MASTRA_TELEMETRY_DISABLED": "true", "MASTRA_HIDE_CLOUD_CTA": "true", "MASTRA_CLOUD_API_ENDPOINT": "",
		"MASTRA_EXPERIMENTAL_FEATURES": "false", "MASTRA_TEMPLATES": "false", "MASTRA_EXPERIMENTAL_UI": "false",
		"MASTRA_SIGNALS_UI": "false", "MASTRA_AGENT_SIGNALS": "true", "MASTRA_AUTO_DETECT_URL": "false",
		"MASTRA_REQUEST_CONTEXT_PRESETS": "", "MASTRA_ORGANIZATION_ID": "", "MASTRA_PLATFORM_PROJECT_ID": "",
		"MASTRA_PLATFORM_OBSERVABILITY_ENDPOINT": "", "MASTRA_DEV_SERVER_INSTANCE_ID": "",
	}
}

func readTestdata(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "studio", filepath.FromSlash(rel)))
	must(t, err)
	return b
}

func TestInlineScripts(t *testing.T) {
	page := []byte("<script>a()</script><script type=\"module\" src=\"./x.js\"></script>\n<SCRIPT data-x=1>\nb()\n</script >")
	got := InlineScripts(page)
	if len(got) != 2 || string(got[0]) != "a()" || string(got[1]) != "\nb()\n" {
		t.Errorf("InlineScripts = %q, want [\"a()\" \"\\nb()\\n\"]", got)
	}
}
