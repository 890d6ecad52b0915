package env

import (
	"strconv"
	"strings"
	"testing"
)

// valueCase sets variables as flags and checks one resulting page value, or
// that Load fails with an error naming the variable, its value and reason.
type valueCase struct {
	desc   string
	flags  map[string]string
	check  string // variable whose value is checked, or which must be named in the error
	want   string
	reason string // non-empty: Load must fail with this reason
}

func runValueCases(t *testing.T, cases []valueCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			cfg, _, err := Load(Sources{Flags: c.flags})
			if c.reason != "" {
				if err == nil {
					t.Fatalf("Load accepted %s=%q (wrote %q); want error %q", c.check, c.flags[c.check], cfg.Values[c.check], c.reason)
				}
				// The error must name the variable and the value, then say why.
				named := "invalid " + c.check + " " + strconv.Quote(c.flags[c.check]) + ": "
				if !strings.HasPrefix(err.Error(), named) || !strings.Contains(err.Error(), c.reason) {
					t.Fatalf("error %q\nwant it to start with %q and say %q", err, named, c.reason)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := cfg.Values[c.check]; got != c.want {
				t.Fatalf("%s = %q, want %q", c.check, got, c.want)
			}
		})
	}
}

func one(name, value string) map[string]string { return map[string]string{name: value} }

func TestBasePath(t *testing.T) {
	const n = "MASTRA_STUDIO_BASE_PATH"
	const chars = "only letters, digits, '-', '.', '_', '~' and '/' are allowed"
	runValueCases(t, []valueCase{
		{"empty means the site root", one(n, ""), n, "", ""},
		{"a lone slash means the site root", one(n, "/"), n, "", ""},
		{"leading slash is added", one(n, "agents"), n, "/agents", ""},
		{"trailing slash is stripped", one(n, "/agents/"), n, "/agents", ""},
		{"surrounding spaces are trimmed", one(n, "  /agents  "), n, "/agents", ""},
		{"double slashes collapse", one(n, "//a//b//"), n, "/a/b", ""},
		{"all path characters pass", one(n, "/a.b_c-d~e/F9"), n, "/a.b_c-d~e/F9", ""},
		{"dot-dot is rejected", one(n, "/a/../b"), n, "", `".." is not allowed`},
		{"a query is rejected", one(n, "/a?x=1"), n, "", `"?" and "#" are not allowed`},
		{"a fragment is rejected", one(n, "/a#x"), n, "", `"?" and "#" are not allowed`},
		{"an inner space is rejected", one(n, "/a b"), n, "", chars},
		{"percent escapes are rejected", one(n, "/a%20b"), n, "", chars},
		{"a quote is rejected (raw in <base href>)", one(n, `/a"b`), n, "", chars},
		{"markup is rejected", one(n, "/<script>"), n, "", chars},
		{"non-ASCII is rejected", one(n, "/café"), n, "", chars},
	})
}

func TestServerHost(t *testing.T) {
	const n = "MASTRA_SERVER_HOST"
	runValueCases(t, []valueCase{
		{"empty means the default", one(n, ""), n, "localhost", ""},
		{"a name is lower-cased", one(n, "API.Example.COM"), n, "api.example.com", ""},
		{"a trailing dot goes", one(n, "api.example.com."), n, "api.example.com", ""},
		{"an underscore is allowed (container names)", one(n, "mastra_api"), n, "mastra_api", ""},
		{"IPv4", one(n, "10.0.0.1"), n, "10.0.0.1", ""},
		{"bare IPv6 gets brackets", one(n, "::1"), n, "[::1]", ""},
		{"bracketed IPv6 stays bracketed", one(n, "[::1]"), n, "[::1]", ""},
		{"IPv6 is written canonically", one(n, "[2001:DB8:0:0::1]"), n, "[2001:db8::1]", ""},
		{"a URL points to --server-url", one(n, "https://api.example.com"), n, "", "a URL, not a host name; use --server-url https://api.example.com"},
		{"a port is rejected", one(n, "api.example.com:8443"), n, "", "a host name has no port; set MASTRA_SERVER_PORT or use --server-url"},
		{"a path is rejected", one(n, "api.example.com/api"), n, "", "a host name has no path; set MASTRA_API_PREFIX or use --server-url"},
		{"quotes are rejected", one(n, `"api.example.com"`), n, "", "spaces and quotes are not allowed"},
		{"spaces are rejected", one(n, "api example.com"), n, "", "spaces and quotes are not allowed"},
		{"a bad IPv4 is rejected", one(n, "1.2.3.256"), n, "", "not an IPv4 address"},
		{"a leading hyphen is rejected", one(n, "-api.example.com"), n, "", "cannot start or end with '-'"},
		{"an empty label is rejected", one(n, "api..example.com"), n, "", "1 to 63 characters"},
		{"an unclosed bracket is rejected", one(n, "[::1"), n, "", "must end with ']'"},
		{"a bracketed IPv4 is rejected", one(n, "[10.0.0.1]"), n, "", "not an IPv6 address"},
		{"an IPv6 zone is rejected", one(n, "fe80::1%eth0"), n, "", "not an IPv6 address"},
		{"a non-ASCII name asks for punycode", one(n, "bücher.de"), n, "", "punycode"},
	})
}

func TestServerPortAndProtocol(t *testing.T) {
	const p, pr = "MASTRA_SERVER_PORT", "MASTRA_SERVER_PROTOCOL"
	both := func(port, proto string) map[string]string { return map[string]string{p: port, pr: proto} }
	const notPort = "not a port number (1-65535)"
	runValueCases(t, []valueCase{
		{"a port number passes", one(p, "8443"), p, "8443", ""},
		{"empty with https means 443, never blank", both("", "https"), p, "443", ""},
		{"empty with http means 80", both("", "http"), p, "80", ""},
		{"https on 443 is written as 443", both("443", "https"), p, "443", ""},
		{"leading zeros go", one(p, "08443"), p, "8443", ""},
		{"spaces are trimmed", one(p, " 8080 "), p, "8080", ""},
		{"letters are rejected", one(p, "80a"), p, "", notPort},
		{"zero is rejected", one(p, "0"), p, "", notPort},
		{"above 65535 is rejected", one(p, "65536"), p, "", notPort},
		{"a sign is rejected", one(p, "+80"), p, "", notPort},
		{"a negative is rejected", one(p, "-1"), p, "", notPort},
		{"a decimal is rejected", one(p, "4111.0"), p, "", notPort},
		{"protocol: empty means http", one(pr, ""), pr, "http", ""},
		{"protocol: case is folded", one(pr, "HTTPS"), pr, "https", ""},
		{"protocol: a trailing colon goes", one(pr, "https:"), pr, "https", ""},
		{"protocol: :// goes too", one(pr, "http://"), pr, "http", ""},
		{"protocol: ftp is rejected", one(pr, "ftp"), pr, "", "want http or https"},
		{"protocol: ws is rejected", one(pr, "ws"), pr, "", "want http or https"},
	})
}

func TestAPIPrefix(t *testing.T) {
	const n = "MASTRA_API_PREFIX"
	runValueCases(t, []valueCase{
		{"empty means /api", one(n, ""), n, "/api", ""},
		{"a leading slash is added (as the mastra CLI does)", one(n, "api"), n, "/api", ""},
		{"a trailing slash goes", one(n, "/mastra/api/"), n, "/mastra/api", ""},
		{"double slashes collapse", one(n, "//x//y"), n, "/x/y", ""},
		{"the root is rejected: Studio reads '' as /api", one(n, "/"), n, "", "Studio cannot call an API at the root"},
		{"a space is rejected", one(n, "/a b"), n, "", "only letters, digits"},
		{"a query is rejected", one(n, "/api?x"), n, "", "only letters, digits"},
		{"a dot-dot segment is rejected", one(n, "/a/../b"), n, "", `"." and ".." segments are not allowed`},
		{"non-ASCII is rejected", one(n, "/ü"), n, "", "only letters, digits"},
	})
}

func TestBooleans(t *testing.T) {
	var cases []valueCase
	for _, v := range Vars {
		if _, isBool := map[string]bool{"true": true, "false": true}[v.Default]; !isBool || !v.Token {
			continue
		}
		n := v.Name
		cases = append(cases,
			valueCase{n + ": empty means the default", one(n, ""), n, v.Default, ""},
			valueCase{n + ": TRUE", one(n, "TRUE"), n, "true", ""},
			valueCase{n + ": 1", one(n, "1"), n, "true", ""},
			valueCase{n + ": yes", one(n, " yes "), n, "true", ""},
			valueCase{n + ": False", one(n, "False"), n, "false", ""},
			valueCase{n + ": 0", one(n, "0"), n, "false", ""},
			valueCase{n + ": no", one(n, "no"), n, "false", ""},
			valueCase{n + ": maybe is rejected", one(n, "maybe"), n, "", "not a boolean (true/false, 1/0, yes/no)"},
			valueCase{n + ": on is rejected", one(n, "on"), n, "", "not a boolean"},
		)
	}
	if len(cases) != 8*9 {
		t.Fatalf("found %d boolean cases, want 8 variables x 9", len(cases))
	}
	runValueCases(t, cases)
}

func TestBooleanDefaults(t *testing.T) {
	cfg, _, err := Load(Sources{})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"MASTRA_AGENT_SIGNALS": "true", "MASTRA_TELEMETRY_DISABLED": "false",
		"MASTRA_AUTO_DETECT_URL": "false", "MASTRA_HIDE_CLOUD_CTA": "false",
	} {
		if got := cfg.Values[name]; got != want {
			t.Errorf("default %s = %q, want %q", name, got, want)
		}
	}
}

func TestPresetsValue(t *testing.T) {
	const n = "MASTRA_REQUEST_CONTEXT_PRESETS"
	runValueCases(t, []valueCase{
		{"empty means none", one(n, ""), n, "", ""},
		{"blank means none", one(n, "  \n"), n, "", ""},
		{"compacted", one(n, "{ \"dev\": { \"userId\": \"1\" },\n \"prod\": {} }"), n, `{"dev":{"userId":"1"},"prod":{}}`, ""},
		{"key order is kept (Studio lists presets in it)", one(n, `{"z":{},"a":{}}`), n, `{"z":{},"a":{}}`, ""},
		{"no HTML escaping here (build escapes)", one(n, `{"a":{"x":"</script>"}}`), n, `{"a":{"x":"</script>"}}`, ""},
		{"broken JSON is rejected", one(n, `{"a":`), n, "", "not valid JSON"},
		{"an array is rejected", one(n, `[]`), n, "", "the top level must be a JSON object"},
		{"null is rejected", one(n, `null`), n, "", "the top level must be a JSON object"},
		{"a string is rejected", one(n, `"x"`), n, "", "the top level must be a JSON object"},
		{"a number preset is rejected", one(n, `{"a":1}`), n, "", `preset "a" must be a JSON object`},
		{"a null preset is rejected", one(n, `{"a":null}`), n, "", `preset "a" must be a JSON object`},
		{"an array preset is rejected", one(n, `{"ok":{},"a":[]}`), n, "", `preset "a" must be a JSON object`},
	})
}

func TestURLsAndText(t *testing.T) {
	const c, o, org = "MASTRA_CLOUD_API_ENDPOINT", "MASTRA_PLATFORM_OBSERVABILITY_ENDPOINT", "MASTRA_ORGANIZATION_ID"
	const abs = "want an absolute http:// or https:// URL"
	runValueCases(t, []valueCase{
		{"cloud: empty stays empty", one(c, ""), c, "", ""},
		{"cloud: a trailing slash goes (Studio appends the prefix)", one(c, "https://cloud.example.com/"), c, "https://cloud.example.com", ""},
		{"cloud: a bare host is rejected", one(c, "cloud.example.com"), c, "", abs},
		{"cloud: ftp is rejected", one(c, "ftp://cloud.example.com"), c, "", abs},
		{"cloud: user info is rejected", one(c, "https://u:p@cloud.example.com"), c, "", "user info"},
		{"cloud: a query is rejected", one(c, "https://cloud.example.com/?a=1"), c, "", "a query or fragment is not allowed"},
		{"observability: an absolute URL passes", one(o, "https://obs.example.com/v1"), o, "https://obs.example.com/v1", ""},
		{"observability: a relative URL is rejected", one(o, "/v1/traces"), o, "", abs},
		{"text: any valid UTF-8 passes as is", one(org, "组织-1 'x'"), org, "组织-1 'x'", ""},
		{"text: invalid UTF-8 is rejected", one(org, "a\xffb"), org, "", "not valid UTF-8"},
		{"text: NUL is rejected", one(org, "a\x00b"), org, "", "contains a NUL byte"},
		{"text: a NUL in a host is rejected too", one("MASTRA_SERVER_HOST", "a\x00b"), "MASTRA_SERVER_HOST", "", "contains a NUL byte"},
	})
}

func TestErrorsListEveryBadValue(t *testing.T) {
	_, _, err := Load(Sources{Flags: map[string]string{
		"MASTRA_SERVER_PORT": "80a", "MASTRA_TEMPLATES": "maybe", "MASTRA_STUDIO_BASE_PATH": "/a?b",
	}})
	if err == nil {
		t.Fatal("Load accepted three bad values")
	}
	want := `invalid MASTRA_STUDIO_BASE_PATH "/a?b": "?" and "#" are not allowed: a base path is a path only (from flag)
invalid MASTRA_SERVER_PORT "80a": not a port number (1-65535) (from flag)
invalid MASTRA_TEMPLATES "maybe": not a boolean (true/false, 1/0, yes/no) (from flag)`
	if err.Error() != want {
		t.Fatalf("error:\n%s\nwant:\n%s", err, want)
	}
}

func TestQuoteCutsLongValues(t *testing.T) {
	long := strings.Repeat("é", 200)
	got := quote(long)
	if len(got) > 110 || !strings.HasSuffix(got, `"...`) {
		t.Fatalf("quote(200 runes) = %s; want at most ~100 bytes ending in \"...", got)
	}
	if q := quote("short"); q != `"short"` {
		t.Fatalf("quote(short) = %s", q)
	}
}
