package cfrun

import (
	"net/http/httptest"
	"strings"
	"testing"
)

const modulesProbe = `import cf from "cloudfront";
var crypto = require('crypto');
var qs = require('querystring');
async function handler(event) {
  var r = event.request;
  var b = Buffer.from('aGVsbG8=', 'base64');
  r.headers['x-sha256'] = { value: crypto.createHash('sha256').update('abc').digest('hex') };
  r.headers['x-md5'] = { value: crypto.createHash('md5').update('abc').digest('base64') };
  r.headers['x-sha1'] = { value: crypto.createHash('sha1').update('abc').digest().toString('hex') };
  r.headers['x-hmac'] = { value: crypto.createHmac('sha256', 'key').update('The quick brown fox jumps over the lazy dog').digest('hex') };
  r.headers['x-buf'] = { value: b.toString() + ':' + b.length + ':' + Buffer.from('hi').toString('base64') };
  r.headers['x-qs'] = { value: JSON.stringify(qs.parse('a=1&b=x%20y&a=2')) + ' ' + qs.stringify({ k: 'v w', n: [1, 2] }) };
  r.headers['x-kvs'] = { value: await cf.kvs('id').get('k') };
  try { await cf.kvs().get('missing'); r.headers['x-miss'] = { value: 'found' }; } catch (e) { r.headers['x-miss'] = { value: 'rejected' }; }
  r.headers['x-eval'] = { value: typeof eval };
  return r;
}`

func TestModules(t *testing.T) {
	f, err := New(modulesProbe, map[string]string{"k": "stored"})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "http://studio.example.com/a/b?x=1&y&x=2", nil)
	req.Header.Set("Cookie", "s=abc; t=1")
	res, err := f.Run(EventFromHTTP(req, "192.0.2.1"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Request == nil {
		t.Fatalf("want a request, got %+v", res.Response)
	}
	h := res.Request.Headers
	want := map[string]string{
		"x-sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		"x-md5":    "kAFQmDzST7DWlj99KOF/cg==",
		"x-sha1":   "a9993e364706816aba3e25717850c26c9cd0d89d",
		"x-hmac":   "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",
		"x-buf":    "hello:5:aGk=",
		"x-qs":     `{"a":["1","2"],"b":"x y"} k=v%20w&n=1&n=2`,
		"x-kvs":    "stored",
		"x-miss":   "rejected",
		"x-eval":   "undefined",
		"host":     "studio.example.com",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if got := res.Request.RawQuery(); got != "x=1&x=2&y" {
		t.Errorf("query = %q", got)
	}
	if res.Request.Cookies.Get("s") != "abc" || h.Get("cookie") != "" {
		t.Errorf("cookies = %+v, cookie header %q", res.Request.Cookies, h.Get("cookie"))
	}
}

func TestResponseAndErrors(t *testing.T) {
	f, err := New(`function handler(e) { if (e.request.uri === '/x') throw new Error('boom'); if (e.request.uri === '/loop') { for (;;) {} } return { statusCode: 302, statusDescription: 'Found', headers: { location: { value: '/y' } }, body: { encoding: 'base64', data: 'aGk=' } }; }`, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.Run(EventFromHTTP(httptest.NewRequest("GET", "/", nil), "::1"))
	if err != nil || res.Response == nil || res.Response.StatusCode != 302 || res.Response.Headers.Get("location") != "/y" || res.Response.Body != "hi" {
		t.Fatalf("got %+v, %v", res.Response, err)
	}
	if _, err := f.Run(EventFromHTTP(httptest.NewRequest("GET", "/x", nil), "::1")); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("throw: %v", err)
	}
	old := Timeout
	Timeout = 50e6
	defer func() { Timeout = old }()
	if _, err := f.Run(EventFromHTTP(httptest.NewRequest("GET", "/loop", nil), "::1")); err == nil {
		t.Error("loop: no error")
	}
	if _, err := New("function nothandler() {}", nil); err == nil {
		t.Error("no handler: no error")
	}
}

func TestNilMapsBecomeEmptyObjects(t *testing.T) {
	f, err := New(`function handler(e) { var r = e.request; r.headers['x-n'] = { value: String(Object.keys(r.cookies).length + Object.keys(r.querystring).length) }; return r; }`, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.Run(Event{Request: Request{Method: "GET", URI: "/"}})
	if err != nil || res.Request.Headers.Get("x-n") != "0" {
		t.Fatalf("got %+v, %v", res.Request, err)
	}
}
