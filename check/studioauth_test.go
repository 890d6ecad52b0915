package check

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/studiobake/studiobake/check/checktest"
)

// hostsClient resolves every *.test name to 127.0.0.1, as a DNS entry
// would, so that the page and the API can be on named sites.
func hostsClient() *http.Client {
	d := &net.Dialer{}
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err == nil && strings.HasSuffix(host, ".test") {
			addr = net.JoinHostPort("127.0.0.1", port)
		}
		return d.DialContext(ctx, network, addr)
	}}}
}

// TestStudioAuthSites: with Studio Auth on, the page and the API must be on
// one site (registrable domain, by the public suffix list), or the
// SameSite=Lax session cookie never reaches the API; the fix names one origin.
func TestStudioAuthSites(t *testing.T) {
	for _, c := range []struct {
		desc, pageHost, apiHost string
		auth                    bool
		fails                   bool
	}{
		{"auth, different sites", "studio.acme-cdn.test", "api.acme.test", true, true},
		{"auth, one site, two origins", "studio.acme.test", "api.acme.test", true, false},
		{"no auth, different sites", "studio.acme-cdn.test", "api.acme.test", false, false},
	} {
		t.Run(c.desc, func(t *testing.T) {
			s := newSite()
			srv := httptest.NewServer(s)
			defer srv.Close()
			pagePort := mustParse(srv.URL).Port()
			pageOrigin := "http://" + c.pageHost + ":" + pagePort
			fake := checktest.New(checktest.Options{Origins: []string{pageOrigin}, Auth: c.auth})
			defer fake.Close()
			s.apiURL = "http://" + c.apiHost + ":" + mustParse(fake.URL).Port()
			rep := run(t, Options{URL: pageOrigin + "/agents/", Client: hostsClient()})
			f := failed(rep)
			if len(f) > 1 || (len(f) == 1) != c.fails {
				t.Fatalf("failed items %v, want studio-auth failing: %v", f, c.fails)
			}
			if !c.fails {
				return
			}
			it := f[IDStudioAuth]
			if !strings.Contains(it.Detail, "http://acme-cdn.test") || !strings.Contains(it.Detail, "http://acme.test") ||
				!strings.Contains(it.Fix, "studiobake build --api-origin "+s.apiURL) {
				t.Fatalf("item %+v: want both sites named and the one-origin command", it)
			}
		})
	}
}

// TestRootProbeFix: when Studio's first request fails, the item names the
// URL Studio requested and the fix for the shape of the deployment.
func TestRootProbeFix(t *testing.T) {
	fake := checktest.New(checktest.Options{})
	defer fake.Close()
	// A gateway that routes only /mastra/api to Mastra: its root is a 404.
	gw := httptest.NewServer(http.StripPrefix("/mastra", fake.Config.Handler))
	defer gw.Close()
	u, _ := setup(t, func(s *site) {}, checktest.Options{})
	rep := run(t, Options{URL: u, API: gw.URL + "/mastra/api"})
	it := failed(rep)[IDAPIRoot]
	if !strings.Contains(it.Detail, "Studio's first request, GET "+gw.URL+"/") || !strings.Contains(it.Fix, "mounted under /mastra/api") {
		t.Fatalf("gateway: item %+v", it)
	}

	// A page that calls its own origin, under a base path, on a host that
	// does not answer / (and does not forward the API).
	s := newSite()
	srv := httptest.NewServer(s)
	defer srv.Close()
	s.apiURL = srv.URL
	rep = run(t, Options{URL: srv.URL + "/agents/", API: srv.URL + "/api"})
	f := failed(rep)
	if it := f[IDAPIRoot]; !strings.Contains(it.Fix, "--api-origin") || !strings.Contains(it.Detail, "GET "+srv.URL+"/,") {
		t.Fatalf("same origin: root item %+v", it)
	}
	if it := f[IDAPICaps]; !strings.Contains(it.Fix, "forward /api/ to the Mastra server") {
		t.Fatalf("same origin: capabilities item %+v", it)
	}
}

// TestRefreshOnRulesHosts: Netlify, configured by rules files, cannot
// answer 204; its 404 for refresh-events is what studiobake's configuration
// does, so it passes there. Cloudflare's folder has a worker that answers
// 204, so a 404 there fails with that fix, as it does elsewhere.
func TestRefreshOnRulesHosts(t *testing.T) {
	for _, c := range []struct {
		header, value string
		pass          bool
	}{
		{"X-Nf-Request-Id", "01H", true},
		{"Cf-Ray", "8a1b-AMS", false},
		{"Server", "nginx/1.22.1", false},
	} {
		s := newSite()
		inner := http.Handler(s)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set(c.header, c.value)
			if r.URL.Path == "/agents/refresh-events" {
				http.NotFound(w, r)
				return
			}
			inner.ServeHTTP(w, r)
		}))
		fake := checktest.New(checktest.Options{Origins: []string{srv.URL}})
		s.apiURL = fake.URL
		rep := run(t, Options{URL: srv.URL + "/agents/"})
		_, failedRefresh := failed(rep)[IDRefresh]
		if failedRefresh == c.pass {
			t.Errorf("%s: refresh-events 404 failed=%v, want pass=%v (target %q)", c.header, failedRefresh, c.pass, rep.Target)
		}
		if it := failed(rep)[IDRefresh]; c.header == "Cf-Ray" && !strings.Contains(it.Fix, "_worker.js") {
			t.Errorf("Cloudflare: refresh-events fix %q does not name the worker", it.Fix)
		}
		srv.Close()
		fake.Close()
	}
}
