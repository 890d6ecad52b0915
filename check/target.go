package check

import (
	"net"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// Target is the kind of host serving the site, told from its answer. check
// holds each host to what studiobake's configuration for that host can do.
type Target string

const (
	TargetUnknown    Target = ""
	TargetCloudFront Target = "cloudfront"
	TargetNetlify    Target = "netlify"
	TargetCloudflare Target = "cloudflare"
	TargetNginx      Target = "nginx"
)

// detectTarget reads the headers each host adds to every answer.
func detectTarget(h http.Header) Target {
	server := strings.ToLower(h.Get("Server"))
	switch {
	case h.Get("X-Amz-Cf-Id") != "" || strings.Contains(strings.ToLower(h.Get("Via")), "cloudfront"):
		return TargetCloudFront
	case h.Get("X-Nf-Request-Id") != "" || server == "netlify":
		return TargetNetlify
	case h.Get("Cf-Ray") != "" || server == "cloudflare":
		return TargetCloudflare
	case strings.HasPrefix(server, "nginx"):
		return TargetNginx
	}
	return TargetUnknown
}

// rulesOnly says the host's studiobake configuration is rules files, which
// can rewrite and redirect but not answer 204. Cloudflare Pages is not: the
// cloudflare/ folder of build --edge cloudflare has a worker that does.
func (t Target) rulesOnly() bool { return t == TargetNetlify }

// siteOf is what SameSite cookies compare: the scheme and the registrable
// domain (eTLD+1 by the public suffix list). An IP address or a name the
// list does not cover is its own site.
func siteOf(u *url.URL) string {
	h := strings.ToLower(u.Hostname())
	if net.ParseIP(h) == nil {
		if d, err := publicsuffix.EffectiveTLDPlusOne(h); err == nil {
			h = d
		}
	}
	return u.Scheme + "://" + h
}
