package serve

import (
	"fmt"
	"net/http"

	"github.com/studiobake/studiobake/build"
	"github.com/studiobake/studiobake/templates"
	"github.com/studiobake/studiobake/templates/cfrun"
)

// cfGate runs the compiled CloudFront function (cfrun.Function pools its
// runtimes, so concurrent requests are fine).
type cfGate struct{ fn *cfrun.Function }

// loadGate uses the function a bake built with --edge cloudfront carries
// (with its auth settings), else compiles the routing-only gate from the
// manifest exactly as build --edge cloudfront would.
func loadGate(dir string, m *build.Manifest) (*cfGate, error) {
	code, kvs, ok, err := templates.LoadCloudFront(dir)
	if err != nil {
		return nil, fmt.Errorf("load the bake's CloudFront function: %w", err)
	}
	if !ok {
		code, err = templates.CompileCloudFront(templates.CloudFrontOptionsFromManifest(m))
		if err != nil {
			return nil, fmt.Errorf("compile the CloudFront gate for %s: %w", dir, err)
		}
	}
	fn, err := cfrun.New(code, kvs) // fail at start, not on the first request
	if err != nil {
		return nil, fmt.Errorf("load the CloudFront gate: %w", err)
	}
	return &cfGate{fn: fn}, nil
}

func (g *cfGate) run(r *http.Request, viewerIP string) (gateResult, error) {
	res, err := g.fn.Run(cfrun.EventFromHTTP(r, viewerIP))
	if err != nil {
		return gateResult{}, err
	}
	if res.Response == nil {
		if res.Request == nil {
			return gateResult{}, fmt.Errorf("the function returned neither a request nor a response")
		}
		return gateResult{uri: res.Request.URI}, nil
	}
	out := gateResult{status: res.Response.StatusCode, headers: http.Header{}, body: []byte(res.Response.Body)}
	for name, v := range res.Response.Headers {
		for _, s := range values(v) {
			out.headers.Add(name, s)
		}
	}
	for name, v := range res.Response.Cookies {
		for _, s := range values(v) {
			out.headers.Add("Set-Cookie", name+"="+s)
		}
	}
	return out, nil
}

func values(v cfrun.Value) []string {
	if len(v.MultiValue) == 0 {
		return []string{v.Value}
	}
	out := make([]string, len(v.MultiValue))
	for i, m := range v.MultiValue {
		out[i] = m.Value
	}
	return out
}

func securityHeaders(m *build.Manifest, site string) (map[string]string, error) {
	h, err := templates.SecurityHeaders(m, site)
	if err != nil {
		return nil, fmt.Errorf("security headers for %s: %w", site, err)
	}
	return h, nil
}
