package templates

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/studiobake/studiobake/build"
	"github.com/studiobake/studiobake/templates/cfrun"
)

func ev(uri, query, ip string, headers, cookies map[string]string) cfrun.Event {
	e := cfrun.Event{Version: "1.0", Context: cfrun.Context{EventType: "viewer-request"}, Viewer: cfrun.Viewer{IP: ip},
		Request: cfrun.Request{Method: "GET", URI: uri, QueryString: cfrun.ParseQuery(query),
			Headers: cfrun.Values{"host": {Value: "studio.example.com"}}, Cookies: cfrun.Values{}}}
	for k, v := range headers {
		e.Request.Headers[k] = cfrun.Value{Value: v}
	}
	for k, v := range cookies {
		e.Request.Cookies[k] = cfrun.Value{Value: v}
	}
	return e
}

// want describes an outcome: pass with uri, or answer status (+ location,
// + a header that must be present).
type want struct {
	uri      string
	status   int
	location string
	header   string
}

func (w want) check(t *testing.T, label string, r cfrun.Result, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", label, err)
		return
	}
	switch {
	case w.uri != "":
		if r.Request == nil {
			t.Errorf("%s: answered %d %q, want pass to %s", label, r.Response.StatusCode, r.Response.Headers.Get("location"), w.uri)
		} else if r.Request.URI != w.uri {
			t.Errorf("%s: uri %s, want %s", label, r.Request.URI, w.uri)
		}
	case r.Response == nil:
		t.Errorf("%s: passed to %s, want %d", label, r.Request.URI, w.status)
	case r.Response.StatusCode != w.status:
		t.Errorf("%s: status %d, want %d", label, r.Response.StatusCode, w.status)
	case w.location != "" && !strings.HasPrefix(r.Response.Headers.Get("location"), w.location):
		t.Errorf("%s: location %q, want %q", label, r.Response.Headers.Get("location"), w.location)
	case w.header != "" && r.Response.Headers.Get(w.header) == "":
		t.Errorf("%s: no %s header", label, w.header)
	}
}

type gateCase struct {
	name string
	ev   cfrun.Event
	want want
}

// runCases runs cases through every engine.
func runCases(t *testing.T, code string, kvs map[string]string, cases []gateCase) {
	t.Helper()
	evs := make([]cfrun.Event, len(cases))
	for i, c := range cases {
		evs[i] = c.ev
	}
	for _, e := range engines(t) {
		res, errs := e.run(t, code, kvs, evs)
		for i, c := range cases {
			c.want.check(t, e.name+": "+c.name, res[i], errs[i])
		}
	}
}

func TestGateRouting(t *testing.T) {
	fx := loadRouting(t)
	byBake := map[string][]gateCase{}
	for _, c := range fx.Cases {
		w := want{uri: c.Want.URI, status: c.Want.Status, location: c.Want.Location}
		byBake[c.Bake] = append(byBake[c.Bake], gateCase{c.Name, ev(c.URI, c.Query, "192.0.2.10", nil, nil), w})
	}
	for bake, cases := range byBake {
		t.Run(bake, func(t *testing.T) {
			code, err := CompileCloudFront(CloudFrontOptionsFromManifest(fx.manifest(bake)))
			if err != nil {
				t.Fatal(err)
			}
			runCases(t, code, nil, cases)
		})
	}
}

// TestGateRedirectExact checks the whole Location, which the fixture
// comparison only checks by prefix.
func TestGateRedirectExact(t *testing.T) {
	code, err := CompileCloudFront(CloudFrontOptions{BasePath: "/agents"})
	if err != nil {
		t.Fatal(err)
	}
	res, errs := runGoja(t, code, nil, []cfrun.Event{ev("/agents", "a=1&b&a=2", "", nil, nil)})
	if errs[0] != nil || res[0].Response.Headers.Get("location") != "/agents/?a=1&a=2&b" {
		t.Fatalf("got %+v %v", res[0].Response, errs[0])
	}
}

const testARN = "arn:aws:cloudfront::123456789012:key-value-store/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"

// TestGateNamesNoStore: the gate reads the KeyValueStore associated with
// its function, kvs() without an id, so its code is the same whichever
// store (or none yet) the build was told of; under goja and node (whose
// stand-in refuses an id) it reads the users from the store.
func TestGateNamesNoStore(t *testing.T) {
	alice, pw, err := NewUser("alice")
	if err != nil {
		t.Fatal(err)
	}
	o := CloudFrontOptions{BasePath: "/agents", Routes: []string{"agents"},
		Basic:  &BasicAuth{Realm: "S", Users: []User{alice}, InKVS: true},
		Cookie: &CookieAuth{Name: "s", LoginURL: "https://login.example.com/"}}
	code, err := CompileCloudFront(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, arn := range []string{testARN, "arn:aws:cloudfront::123456789012:key-value-store/ffffffff"} {
		o.KVSARN = arn
		if other, err := CompileCloudFront(o); err != nil || other != code {
			t.Errorf("--kvs-arn %s changes the code (err %v)", arn, err)
		}
	}
	if !strings.HasPrefix(code, kvsImport) || !strings.Contains(code, "cf.kvs()") || strings.Contains(code, "0a1b2c3d") {
		t.Errorf("the gate does not read its store with cf.kvs(): %s", code)
	}
	if len(code) > MaxFunctionSize {
		t.Errorf("%d bytes", len(code))
	}
	secret := strings.Repeat("k", 40)
	auth := map[string]string{"authorization": basicHeader("alice", pw)}
	live := session(secret, "", fmt.Sprintf(`{"exp":%d}`, time.Now().Unix()+600))
	runCases(t, code, kvsEntries([]byte(secret), []User{alice}), []gateCase{
		{"user and cookie from the store", ev("/agents/", "", "", auth, map[string]string{"s": live}), want{uri: "/agents/index.html"}},
		{"no cookie", ev("/agents/", "", "", auth, nil), want{status: 302, location: "https://login.example.com/"}},
		{"no password", ev("/agents/", "", "", nil, map[string]string{"s": live}), want{status: 401}},
	})
	// An empty store denies: a deploy that has not written the keys yet
	// fails closed.
	runCases(t, code, nil, []gateCase{
		{"empty store", ev("/agents/", "", "", auth, map[string]string{"s": live}), want{status: 401}},
	})
}

func basicHeader(user, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
}

func TestGateBasic(t *testing.T) {
	alice, pw, err := NewUser("alice")
	if err != nil {
		t.Fatal(err)
	}
	for _, inKVS := range []bool{false, true} {
		t.Run(fmt.Sprintf("inKVS=%v", inKVS), func(t *testing.T) {
			o := CloudFrontOptions{BasePath: "/agents", Routes: []string{"agents"},
				Basic: &BasicAuth{Realm: "Team Studio", Users: []User{alice}, InKVS: inKVS}}
			code, err := CompileCloudFront(o)
			if err != nil {
				t.Fatal(err)
			}
			if inKVS == strings.Contains(code, alice.Hash) {
				t.Errorf("hash in code = %v with inKVS %v", !inKVS, inKVS)
			}
			h := func(v string) map[string]string { return map[string]string{"authorization": v} }
			var kvUsers []User
			if inKVS {
				kvUsers = o.Basic.Users
			}
			runCases(t, code, kvsEntries(nil, kvUsers), []gateCase{
				{"right password", ev("/agents/agents/gpt-4.1", "", "", h(basicHeader("alice", pw)), nil), want{uri: "/agents/index.html"}},
				{"lower-case scheme", ev("/agents/", "", "", h("basic "+basicHeader("alice", pw)[6:]), nil), want{uri: "/agents/index.html"}},
				{"wrong password", ev("/agents/", "", "", h(basicHeader("alice", pw+"x")), nil), want{status: 401, header: "www-authenticate"}},
				{"unknown user", ev("/agents/", "", "", h(basicHeader("mallory", pw)), nil), want{status: 401}},
				{"missing header", ev("/agents/", "", "", nil, nil), want{status: 401, header: "www-authenticate"}},
				{"not basic", ev("/agents/", "", "", h("Bearer abc"), nil), want{status: 401}},
				{"not base64", ev("/agents/", "", "", h("Basic %%%"), nil), want{status: 401}},
				{"padding inside", ev("/agents/", "", "", h("Basic YQ==YQ=="), nil), want{status: 401}},
				{"padding only", ev("/agents/", "", "", h("Basic ===="), nil), want{status: 401}},
				{"no colon", ev("/agents/", "", "", h("Basic "+base64.StdEncoding.EncodeToString([]byte("alice"))), nil), want{status: 401}},
				{"refresh-events before auth", ev("/agents/refresh-events", "", "", nil, nil), want{status: 204}},
				{"state prefix before auth", ev("/agents/_studiobake/x.json", "", "", nil, nil), want{status: 404}},
			})
		})
	}
}

func TestGateBasicRealm(t *testing.T) {
	u, _, _ := NewUser("bob")
	code, err := CompileCloudFront(CloudFrontOptions{Basic: &BasicAuth{Realm: "Team Studio", Users: []User{u}}})
	if err != nil {
		t.Fatal(err)
	}
	res, errs := runGoja(t, code, nil, []cfrun.Event{ev("/", "", "", nil, nil)})
	if errs[0] != nil || res[0].Response.Headers.Get("www-authenticate") != `Basic realm="Team Studio", charset="UTF-8"` {
		t.Fatalf("got %+v %v", res[0].Response, errs[0])
	}
}

func TestGateIP(t *testing.T) {
	o := CloudFrontOptions{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("192.0.2.128/25"), netip.MustParsePrefix("2001:db8:abcd::/48"), netip.MustParsePrefix("2001:db8::7/128")}}
	code, err := CompileCloudFront(o)
	if err != nil {
		t.Fatal(err)
	}
	at := func(ip string) cfrun.Event { return ev("/", "", ip, nil, nil) }
	ok, no := want{uri: "/index.html"}, want{status: 403}
	runCases(t, code, nil, []gateCase{
		{"v4 in /8", at("10.200.3.4"), ok},
		{"v4 in /25", at("192.0.2.200"), ok},
		{"v4 just outside /25", at("192.0.2.127"), no},
		{"v4 outside", at("11.0.0.1"), no},
		{"v4-mapped v6", at("::ffff:10.1.2.3"), ok},
		{"v6 in /48", at("2001:db8:abcd:12::1"), ok},
		{"v6 in /48, full form", at("2001:0db8:abcd:0000:0000:0000:0000:0001"), ok},
		{"v6 host /128", at("2001:db8::7"), ok},
		{"v6 neighbour of /128", at("2001:db8::8"), no},
		{"v6 outside", at("2001:db9::1"), no},
		{"loopback v6", at("::1"), no},
		{"garbage", at("not-an-ip"), no},
		{"octet over 255", at("10.0.0.256"), no},
		{"missing", at(""), no},
		{"two ::", at("2001::db8::1"), no},
	})
}

// session makes a cookie value: a JWT when header is set, else payload.sig.
func session(secret, header string, claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	body := enc([]byte(claims))
	if header != "" {
		body = enc([]byte(header)) + "." + body
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	return body + "." + enc(mac.Sum(nil))
}

func TestGateCookie(t *testing.T) {
	secret := strings.Repeat("s3cr3t-", 6)
	o := CloudFrontOptions{BasePath: "/agents",
		Cookie: &CookieAuth{Name: "studio_session", LoginURL: "https://login.example.com/start?app=studio", ReturnParam: "return_to"}}
	code, err := CompileCloudFront(o)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(code, secret) {
		t.Fatal("secret compiled into the code")
	}
	now := time.Now().Unix()
	jwtHS := `{"alg":"HS256","typ":"JWT"}`
	live := fmt.Sprintf(`{"sub":"alice","exp":%d}`, now+3600)
	c := func(v string) map[string]string { return map[string]string{"studio_session": v} }
	login := "https://login.example.com/start?app=studio&return_to=" + "https%3A%2F%2Fstudio.example.com%2Fagents%2Ftools%3Fx%3D1"
	redirect := want{status: 302, location: "https://login.example.com/start?app=studio&return_to="}
	runCases(t, code, kvsEntries([]byte(secret), nil), []gateCase{
		{"valid JWT", ev("/agents/tools", "", "", nil, c(session(secret, jwtHS, live))), want{uri: "/agents/index.html"}},
		{"valid session", ev("/agents/tools", "", "", nil, c(session(secret, "", live))), want{uri: "/agents/index.html"}},
		{"expired", ev("/agents/tools", "x=1", "", nil, c(session(secret, jwtHS, fmt.Sprintf(`{"exp":%d}`, now-10)))), want{status: 302, location: login}},
		{"no exp", ev("/agents/tools", "", "", nil, c(session(secret, jwtHS, `{"sub":"a"}`))), redirect},
		{"not yet valid", ev("/agents/tools", "", "", nil, c(session(secret, jwtHS, fmt.Sprintf(`{"exp":%d,"nbf":%d}`, now+60, now+30)))), redirect},
		{"wrong secret", ev("/agents/tools", "", "", nil, c(session(secret+"x", jwtHS, live))), redirect},
		{"alg none", ev("/agents/tools", "", "", nil, c(session(secret, `{"alg":"none"}`, live))), redirect},
		{"tampered payload", ev("/agents/tools", "", "", nil, c(tamper(session(secret, "", live)))), redirect},
		{"garbage", ev("/agents/tools", "", "", nil, c("abc")), redirect},
		{"missing", ev("/agents/tools", "x=1", "", nil, nil), want{status: 302, location: login}},
		{"refresh-events before auth", ev("/agents/refresh-events", "", "", nil, nil), want{status: 204}},
	})
	// Without the secret in the store every session is refused.
	runCases(t, code, map[string]string{}, []gateCase{
		{"no secret in store", ev("/agents/tools", "", "", nil, c(session(secret, jwtHS, live))), redirect},
	})
}

// tamper swaps the payload of a payload.sig session for one with a later
// expiry, keeping the signature.
func tamper(s string) string {
	_, sig, _ := strings.Cut(s, ".")
	return base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"alice","exp":9999999999}`)) + "." + sig
}

func TestGateCombined(t *testing.T) {
	u, pw, _ := NewUser("alice")
	o := CloudFrontOptions{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		Basic: &BasicAuth{Realm: "S", Users: []User{u}}}
	code, err := CompileCloudFront(o)
	if err != nil {
		t.Fatal(err)
	}
	h := map[string]string{"authorization": basicHeader("alice", pw)}
	runCases(t, code, nil, []gateCase{
		{"ip and password", ev("/", "", "10.1.1.1", h, nil), want{uri: "/index.html"}},
		{"password from outside", ev("/", "", "8.8.8.8", h, nil), want{status: 403}},
		{"inside without password", ev("/", "", "10.1.1.1", nil, nil), want{status: 401}},
	})
}

// TestGateConstantTime counts the character reads of the gate's compare:
// a mismatch in the first character must cost as much as one in the last.
// (basicOK also hashes for unknown users, against a hash that never
// matches, so a miss does the same work as a wrong password.)
func TestGateConstantTime(t *testing.T) {
	u, _, _ := NewUser("alice")
	code, err := CompileCloudFront(CloudFrontOptions{Basic: &BasicAuth{Realm: "S", Users: []User{u}}})
	if err != nil {
		t.Fatal(err)
	}
	probe := code + `
function handler(e) {
  var n = 0, orig = String.prototype.charCodeAt;
  String.prototype.charCodeAt = function (i) { n++; return orig.call(this, i); };
  var h = e.request.headers;
  try { same(h.a.value, h.b.value); } finally { String.prototype.charCodeAt = orig; }
  return { statusCode: 200, headers: { n: { value: String(n) } } };
}`
	ref := strings.Repeat("0123456789abcdef", 4)
	flip := func(i int) string { b := []byte(ref); b[i] ^= 1; return string(b) }
	cases := map[string]string{"equal": ref, "first differs": flip(0), "last differs": flip(63), "all differ": strings.Repeat("z", 64)}
	var evs []cfrun.Event
	var names []string
	for name, other := range cases {
		names = append(names, name)
		evs = append(evs, ev("/", "", "", map[string]string{"a": ref, "b": other}, nil))
	}
	for _, e := range engines(t) {
		res, errs := e.run(t, probe, nil, evs)
		counts := map[string]bool{}
		for i := range res {
			if errs[i] != nil {
				t.Fatalf("%s %s: %v", e.name, names[i], errs[i])
			}
			counts[res[i].Response.Headers.Get("n")] = true
		}
		if len(counts) != 1 {
			t.Errorf("%s: character reads differ by where strings differ: %v", e.name, counts)
		}
	}
}

// TestGateOneOrigin: with the API on the page's origin the gate passes the
// API prefix on untouched (no SPA routing, no basic or cookie auth, which
// belong to Studio's files), keeps the IP rule on it, tells the server the
// viewer's host, and answers Studio's root probe.
func TestGateOneOrigin(t *testing.T) {
	u, pw, err := NewUser("alice")
	if err != nil {
		t.Fatal(err)
	}
	m := &build.Manifest{Schema: build.ManifestSchema, BasePath: "/agents", Routes: []string{"agents", "workflows"}, Entry: build.EntryFile,
		API:   build.API{Mode: build.APIOneOrigin, Prefix: "/api", Upstream: "https://mastra.internal"},
		Files: []build.File{{Path: "index.html"}, {Path: "assets/main-AbCdEf12.js"}}}
	o := CloudFrontOptionsFromManifest(m)
	o.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	o.Basic = &BasicAuth{Realm: "Studio", Users: []User{u}}
	code, err := CompileCloudFront(o)
	if err != nil {
		t.Fatal(err)
	}
	in, out := "192.0.2.10", "198.51.100.7"
	auth := map[string]string{"authorization": basicHeader("alice", pw)}
	runCases(t, code, nil, []gateCase{
		{"API call passes untouched", ev("/api/agents/support.bot-v1.2", "", in, nil, nil), want{uri: "/api/agents/support.bot-v1.2"}},
		{"API prefix itself", ev("/api", "", in, nil, nil), want{uri: "/api"}},
		{"auth capabilities at the prefix", ev("/api/auth/capabilities", "", in, nil, nil), want{uri: "/api/auth/capabilities"}},
		{"API from outside the allowed network", ev("/api/agents", "", out, nil, nil), want{status: 403}},
		{"encoded prefix is not the API", ev("/%61pi/agents", "", in, nil, nil), want{status: 401}},
		{"a longer first segment is not the API", ev("/apix/agents", "", in, auth, nil), want{status: 404}},
		{"root probe without credentials", ev("/", "", in, nil, nil), want{status: 200}},
		{"root probe from outside", ev("/", "", out, nil, nil), want{status: 403}},
		{"Studio still needs basic auth", ev("/agents/agents", "", in, nil, nil), want{status: 401}},
		{"Studio with credentials", ev("/agents/agents/support.bot-v1.2", "", in, auth, nil), want{uri: "/agents/index.html"}},
	})
	for _, e := range engines(t) {
		res, errs := e.run(t, code, nil, []cfrun.Event{ev("/api/agents", "", in, map[string]string{"x-forwarded-host": "evil.example"}, nil)})
		if errs[0] != nil || res[0].Request == nil {
			t.Fatalf("%s: %v %+v", e.name, errs[0], res[0].Response)
		}
		h := res[0].Request.Headers
		if h["x-forwarded-host"].Value != "studio.example.com" || h["x-forwarded-proto"].Value != "https" {
			t.Errorf("%s: forwarded headers %+v, want the viewer's host and https", e.name, h)
		}
	}
}

// TestGateWithoutAPIOnTheOrigin: a bake that calls another origin keeps
// routing /api like any other path outside the base, and / stays a 404.
func TestGateWithoutAPIOnTheOrigin(t *testing.T) {
	m := &build.Manifest{Schema: build.ManifestSchema, BasePath: "/agents", Entry: build.EntryFile,
		API: build.API{Mode: build.APIDirect, Prefix: "/api"}, Files: []build.File{{Path: "index.html"}}}
	code, err := CompileCloudFront(CloudFrontOptionsFromManifest(m))
	if err != nil {
		t.Fatal(err)
	}
	runCases(t, code, nil, []gateCase{
		{"API path is not forwarded", ev("/api/agents", "", "192.0.2.1", nil, nil), want{status: 404}},
		{"no root probe answer", ev("/", "", "192.0.2.1", nil, nil), want{status: 404}},
	})
}
