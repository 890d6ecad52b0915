package cfrun

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/dop251/goja"
)

// Timeout stops a run that loops: CloudFront allows about a millisecond of
// compute, so anything near this is a bug in the function.
var Timeout = time.Second

// Function is a compiled CloudFront Function, safe for concurrent use: each
// run takes a runtime of its own from a pool.
type Function struct {
	prog *goja.Program
	kvs  map[string]string
	pool sync.Pool
}

// vm is one goja runtime with the function loaded.
type vm struct {
	rt      *goja.Runtime
	handler goja.Callable
}

var importLine = regexp.MustCompile(`(?m)^\s*import\s+([A-Za-z_$][\w$]*)\s+from\s*["']([^"']+)["'];?`)

// New compiles code, a function as deployed (it may start with
// `import cf from "cloudfront"`). kvs backs cloudfront's kvs().get; nil
// means an empty store.
func New(code string, kvs map[string]string) (*Function, error) {
	// goja runs scripts, not modules: turn the imports CloudFront accepts
	// into the equivalent require calls.
	script := importLine.ReplaceAllString(code, `var $1=require("$2");`)
	prog, err := goja.Compile("function.js", script, true)
	if err != nil {
		return nil, fmt.Errorf("compile function: %w", err)
	}
	f := &Function{prog: prog, kvs: map[string]string{}}
	for k, v := range kvs {
		f.kvs[k] = v
	}
	v, err := f.newVM()
	if err != nil {
		return nil, err
	}
	f.pool.Put(v)
	return f, nil
}

func (f *Function) newVM() (*vm, error) {
	rt := goja.New()
	rt.SetFieldNameMapper(goja.TagFieldNameMapper("json", true))
	if err := installGlobals(rt, f.kvs); err != nil {
		return nil, err
	}
	if _, err := rt.RunProgram(f.prog); err != nil {
		return nil, fmt.Errorf("load function: %w", err)
	}
	h, ok := goja.AssertFunction(rt.Get("handler"))
	if !ok {
		return nil, errors.New("load function: no top-level function handler")
	}
	return &vm{rt: rt, handler: h}, nil
}

// Run calls the handler with ev and waits for its promise, if any.
func (f *Function) Run(ev Event) (Result, error) {
	v, _ := f.pool.Get().(*vm)
	if v == nil {
		var err error
		if v, err = f.newVM(); err != nil {
			return Result{}, err
		}
	}
	res, err := v.run(ev)
	if err == nil {
		// A runtime that failed may hold half-changed state; drop it.
		f.pool.Put(v)
	}
	return res, err
}

func (v *vm) run(ev Event) (Result, error) {
	// CloudFront always sends these objects, possibly empty; a hand-built
	// event with nil maps must not turn into nulls the function trips on.
	for _, m := range []*Values{&ev.Request.QueryString, &ev.Request.Headers, &ev.Request.Cookies} {
		if *m == nil {
			*m = Values{}
		}
	}
	if ev.Version == "" {
		ev.Version = "1.0"
	}
	if ev.Context.EventType == "" {
		ev.Context.EventType = "viewer-request"
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return Result{}, err
	}
	obj, err := v.rt.RunString("(" + string(b) + ")")
	if err != nil {
		return Result{}, err
	}
	timer := time.AfterFunc(Timeout, func() { v.rt.Interrupt("function timed out") })
	out, err := v.handler(goja.Undefined(), obj)
	timer.Stop()
	v.rt.ClearInterrupt()
	if err != nil {
		return Result{}, fmt.Errorf("function threw: %w", err)
	}
	if p, ok := out.Export().(*goja.Promise); ok {
		// Promise jobs run when the call returns; the KeyValueStore answers
		// at once, so a pending promise means the function awaits forever.
		switch p.State() {
		case goja.PromiseStateRejected:
			return Result{}, fmt.Errorf("function threw: %v", p.Result())
		case goja.PromiseStatePending:
			return Result{}, errors.New("function did not finish: its promise is still pending")
		}
		out = p.Result()
	}
	return decodeResult(v.rt, out)
}

func decodeResult(rt *goja.Runtime, out goja.Value) (Result, error) {
	if out == nil || goja.IsUndefined(out) || goja.IsNull(out) {
		return Result{}, errors.New("function returned nothing: it must return the request or a response")
	}
	js, err := rt.RunString("JSON.stringify")
	if err != nil {
		return Result{}, err
	}
	stringify, _ := goja.AssertFunction(js)
	s, err := stringify(goja.Undefined(), out)
	if err != nil {
		return Result{}, fmt.Errorf("function result: %w", err)
	}
	raw := []byte(s.String())
	var probe struct {
		StatusCode *int `json:"statusCode"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return Result{}, fmt.Errorf("function result: %w", err)
	}
	if probe.StatusCode != nil {
		var r Response
		if err := json.Unmarshal(raw, &r); err != nil {
			return Result{}, fmt.Errorf("function response: %w", err)
		}
		return Result{Response: &r}, nil
	}
	var r Request
	if err := json.Unmarshal(raw, &r); err != nil {
		return Result{}, fmt.Errorf("function request: %w", err)
	}
	return Result{Request: &r}, nil
}

// decodeBody reads a body given as a string or as {encoding, data}.
func decodeBody(raw json.RawMessage, dst *string) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if raw[0] == '"' {
		return json.Unmarshal(raw, dst)
	}
	var b struct {
		Encoding string `json:"encoding"`
		Data     string `json:"data"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	if b.Encoding != "base64" {
		*dst = b.Data
		return nil
	}
	d, err := base64.StdEncoding.DecodeString(b.Data)
	if err != nil {
		return fmt.Errorf("body: %w", err)
	}
	*dst = string(d)
	return nil
}
