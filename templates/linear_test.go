package templates

import (
	"encoding/base64"
	"encoding/hex"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/studiobake/studiobake/templates/cfrun"
)

// TestGateHugeAuthorization: a 1 MB Authorization header gets the gate's 401
// well inside serve's runtime limit (it used to time out into a 503), and a
// header at the length bound is still decoded and checked.
func TestGateHugeAuthorization(t *testing.T) {
	u, pw, _ := NewUser("alice")
	code, err := CompileCloudFront(CloudFrontOptions{Basic: &BasicAuth{Realm: "S", Users: []User{u}}})
	if err != nil {
		t.Fatal(err)
	}
	h := func(v string) map[string]string { return map[string]string{"authorization": v} }
	huge := basicHeader("alice", pw+strings.Repeat("x", 1<<20))[:1<<20]
	bound := basicHeader("alice", pw+strings.Repeat("x", 4096))[:4096]
	cases := []gateCase{
		{"1 MB header", ev("/", "", "", h(huge), nil), want{status: 401, header: "www-authenticate"}},
		{"4096 characters, wrong password", ev("/", "", "", h(bound), nil), want{status: 401}},
		{"right password after the huge ones", ev("/", "", "", h(basicHeader("alice", pw)), nil), want{uri: "/index.html"}},
	}
	runCases(t, code, nil, cases)

	f, err := cfrun.New(code, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r, err := f.Run(cases[0].ev)
	if took := time.Since(start); err != nil || r.Response == nil || r.Response.StatusCode != 401 || took > cfrun.Timeout/4 {
		t.Errorf("goja: 1 MB header took %v (limit %v), err %v; want a 401 within a quarter of the limit", took, cfrun.Timeout, err)
	}
}

// b64Probe calls the gate's b64 on the x-in header and returns the decoded
// bytes in hex, so binary output crosses the event boundary intact.
const b64Probe = `
function handler(e) {
  var s = b64(e.request.headers['x-in'].value);
  var out = [];
  for (var i = 0; i < s.length; i++) {
    out.push((s.charCodeAt(i) + 256).toString(16).slice(1));
  }
  return { statusCode: 200, headers: { out: { value: out.join('') } } };
}`

// b64Length returns only the decoded length, to time b64 alone.
const b64Length = `
function handler(e) {
  return { statusCode: 200, headers: { n: { value: String(b64(e.request.headers['x-in'].value).length) } } };
}`

func gateWith(t *testing.T, probe string) string {
	t.Helper()
	u, _, _ := NewUser("alice")
	code, err := CompileCloudFront(CloudFrontOptions{Basic: &BasicAuth{Realm: "S", Users: []User{u}}})
	if err != nil {
		t.Fatal(err)
	}
	return code + probe
}

// TestGateB64 decodes every byte value, across the 4096-byte chunks b64
// gathers its output in, in base64 and base64url, in every engine.
func TestGateB64(t *testing.T) {
	var raw []byte
	for i := range 5000 {
		raw = append(raw, byte(i*7))
	}
	var evs []cfrun.Event
	encs := []string{base64.StdEncoding.EncodeToString(raw), base64.RawURLEncoding.EncodeToString(raw), "QQ==", ""}
	wants := []string{hex.EncodeToString(raw), hex.EncodeToString(raw), "41", ""}
	for _, s := range encs {
		evs = append(evs, ev("/", "", "", map[string]string{"x-in": s}, nil))
	}
	code := gateWith(t, b64Probe)
	for _, e := range engines(t) {
		res, errs := e.run(t, code, nil, evs)
		for i := range evs {
			if errs[i] != nil || res[i].Response.Headers.Get("out") != wants[i] {
				t.Errorf("%s: b64 of %.20q... = %.40q, err %v; want %.40q", e.name, encs[i], res[i].Response.Headers.Get("out"), errs[i], wants[i])
			}
		}
	}
}

// TestGateB64Linear: under goja, 8 times the input costs about 8 times the
// memory allocated, not 64 (appending to a string, as b64 once did, copies
// it each time). Bytes allocated are counted rather than time measured: they
// do not depend on how busy the machine is.
func TestGateB64Linear(t *testing.T) {
	f, err := cfrun.New(gateWith(t, b64Length), nil)
	if err != nil {
		t.Fatal(err)
	}
	allocated := func(n int) uint64 {
		e := ev("/", "", "", map[string]string{"x-in": strings.Repeat("QUFB", n/4)}, nil)
		f.Run(e) // warm the runtime pool
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		r, err := f.Run(e)
		runtime.ReadMemStats(&after)
		if err != nil || r.Response.Headers.Get("n") != strconv.Itoa(n/4*3) {
			t.Fatalf("b64 of %d characters: %+v, %v", n, r.Response, err)
		}
		return after.TotalAlloc - before.TotalAlloc
	}
	small, large := allocated(8<<10), allocated(64<<10)
	t.Logf("b64: 8 KB allocates %d bytes, 64 KB %d", small, large)
	if ratio := float64(large) / float64(small); ratio > 16 {
		t.Errorf("b64: 8 KB allocates %d bytes, 64 KB %d: %.0f times more for 8 times the input", small, large, ratio)
	}
}
