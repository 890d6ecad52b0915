package serve

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"

	"github.com/studiobake/studiobake/build"
	"github.com/studiobake/studiobake/templates"
	"github.com/studiobake/studiobake/templates/cfrun"
)

// cfGate runs the compiled CloudFront function (cfrun.Function pools its
// runtimes, so concurrent requests are fine).
type cfGate struct {
	fn   *cfrun.Function
	code string
	info *templates.FunctionInfo // the bake's function.json; nil when compiled here
}

// loadGate uses the function a bake built with --edge cloudfront carries
// (with its auth settings), else compiles the routing-only gate from the
// manifest exactly as build --edge cloudfront would. The gate gets its
// KeyValueStore entries from UseSecrets.
func loadGate(dir string, m *build.Manifest) (*cfGate, error) {
	code, ok, err := templates.LoadCloudFront(dir)
	if err != nil {
		return nil, fmt.Errorf("load the bake's CloudFront function: %w", err)
	}
	g := &cfGate{code: code}
	if ok {
		// function.json says what the gate reads from the KeyValueStore;
		// a hand-written function.js without one reads nothing.
		info, err := templates.ReadFunctionInfo(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("load the bake's CloudFront function: %w", err)
		}
		g.info = &info
	} else if g.code, err = templates.CompileCloudFront(templates.CloudFrontOptionsFromManifest(m)); err != nil {
		return nil, fmt.Errorf("compile the CloudFront gate for %s: %w", dir, err)
	}
	if g.fn, err = cfrun.New(g.code, nil); err != nil { // fail at start, not on the first request
		return nil, fmt.Errorf("load the CloudFront gate: %w", err)
	}
	return g, nil
}

// UseSecrets gives the gate the KeyValueStore entries it reads (the cookie
// secret, users kept in the store), read from where the user keeps them,
// as publish does when it deploys them; they are never in the bake. A gate
// that reads none needs nothing; one that does refuses to start without
// them rather than turn every viewer away.
func (h *Handler) UseSecrets(in templates.SecretInput) error {
	g, ok := h.gate.(*cfGate)
	if !ok || g.info == nil || !g.info.UsesKVS() {
		return nil
	}
	kvs, err := templates.GateKVS(*g.info, in)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	fn, err := cfrun.New(g.code, kvs)
	if err != nil {
		return fmt.Errorf("load the CloudFront gate: %w", err)
	}
	g.fn = fn
	return nil
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
