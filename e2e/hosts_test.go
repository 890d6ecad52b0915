package e2e

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/studiobake/studiobake/build"
	"github.com/studiobake/studiobake/check"
	"github.com/studiobake/studiobake/check/checktest"
	"github.com/studiobake/studiobake/env"
	"github.com/studiobake/studiobake/templates"
	"github.com/studiobake/studiobake/templates/hosttest"
)

// TestCheckReadyFolders bakes the real Studio under /agents with --edge
// cloudflare and netlify, direct to a fake Mastra API and in one-origin
// mode, serves each ready folder exactly as built in its host's local
// runtime, and runs check against it: a correct deployment passes every
// item. The one exception is netlify dev's own: its static server sets
// Cache-Control: public, max-age=0 on every file over the _headers rules
// (Netlify itself applies them), so the hashed asset is not immutable
// there; the rule itself is in the golden _headers.
func TestCheckReadyFolders(t *testing.T) {
	src := studioSource(t)
	runners := map[templates.Host]func(t *testing.T) func(pub string) string{
		templates.Cloudflare: func(t *testing.T) func(string) string {
			exe := hosttest.Wrangler(t)
			return func(pub string) string { return hosttest.StartWrangler(t, exe, pub) }
		},
		templates.Netlify: func(t *testing.T) func(string) string {
			exe := hosttest.Netlify(t)
			return func(pub string) string { return hosttest.StartNetlify(t, exe, pub) }
		},
	}
	for h, runner := range runners {
		for _, oneOrigin := range []bool{false, true} {
			name := string(h) + " direct"
			if oneOrigin {
				name = string(h) + " one-origin"
			}
			t.Run(name, func(t *testing.T) {
				start := runner(t)
				api := checktest.New(checktest.Options{})
				t.Cleanup(api.Close)
				dir := bakeReady(t, src, h, api.URL, oneOrigin)
				origin := start(filepath.Join(dir, string(h)))
				api.AllowOrigin(origin)
				rep := runCheck(t, origin+"/agents/")
				if rep.Target != "" && rep.Target != check.Target(h) {
					t.Errorf("check took the site for %q", rep.Target)
				}
				var want []string
				if h == templates.Netlify {
					want = append(want, check.IDAsset)
					for _, it := range rep.Items {
						if it.ID == check.IDAsset && !strings.Contains(it.Detail, `Cache-Control "public, max-age=0"`) {
							t.Errorf("hashed asset failed for another reason than netlify dev's Cache-Control: %s", it.Detail)
						}
					}
				}
				wantFailed(t, name, rep, want...)
			})
		}
	}
}

// bakeReady bakes src under /agents with the ready folder of h, the page
// calling apiURL directly or, one origin, its own origin with the host
// forwarding /api/ to apiURL.
func bakeReady(t *testing.T, src *build.Source, h templates.Host, apiURL string, oneOrigin bool) string {
	t.Helper()
	u, _ := url.Parse(apiURL)
	s := env.Sources{Flags: map[string]string{"MASTRA_STUDIO_BASE_PATH": "/agents", "MASTRA_TELEMETRY_DISABLED": "true"}}
	if oneOrigin {
		s.APIOrigin = apiURL
	} else {
		s.Flags["MASTRA_SERVER_PROTOCOL"], s.Flags["MASTRA_SERVER_HOST"], s.Flags["MASTRA_SERVER_PORT"] = "http", u.Hostname(), u.Port()
	}
	cfg, _, err := env.Load(s)
	if err != nil {
		t.Fatalf("env: %v", err)
	}
	out := filepath.Join(t.TempDir(), "dist")
	_, err = build.Run(context.Background(), build.Options{
		Source: src, Out: out, Values: cfg.Values, BasePath: cfg.BasePath,
		APIEndpoint: cfg.APIEndpoint, APIOrigin: cfg.APIOrigin, API: cfg.API, TelemetryEnabled: cfg.TelemetryEnabled,
		Version: "e2e",
		Finish: func(dir string, m *build.Manifest) error {
			return templates.WriteEdge(dir, m, templates.EdgeOptions{Hosts: []templates.Host{h}})
		},
	})
	if err != nil {
		t.Fatalf("bake: %v", err)
	}
	return out
}
