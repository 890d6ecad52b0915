package check

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/studiobake/studiobake/build"
)

const fixIndexCache = "serve index.html with Cache-Control: public, max-age=0, must-revalidate " +
	"(studiobake publish sets it on the object; check that no CDN cache or response-headers policy overrides it)"

// siteItems checks what the CDN serves, everything but the page itself.
// The items are independent requests, so they run at once: a slow CDN costs
// one timeout, not six.
func (c *checker) siteItems(ctx context.Context, pg *page) []Item {
	index, err := c.index(ctx, pg)
	if err != nil {
		// The page loaded a moment ago; report the index failure on the items
		// that need it and still run the rest.
		items := parallel(
			func() Item { return c.assetItem(ctx, pg) },
			func() Item { return c.missingItem(ctx, pg) },
			func() Item { return c.refreshItem(ctx, pg) },
		)
		return append(items,
			failErr(IDIndexCache, err, fixIndexCache),
			failErr(IDDeepLink, err, "check that the base path URL serves index.html"),
			failErr(IDSecurity, err, "check that the base path URL serves index.html"))
	}
	return parallel(
		func() Item { return indexCacheItem(index) },
		func() Item { return c.assetItem(ctx, pg) },
		func() Item { return c.deepLinkItem(ctx, pg, index) },
		func() Item { return c.missingItem(ctx, pg) },
		func() Item { return c.refreshItem(ctx, pg) },
		func() Item { return c.securityItem(pg, index) },
	)
}

// parallel runs each check in its own goroutine and returns the items in
// argument order.
func parallel(fns ...func() Item) []Item {
	out := make([]Item, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = fn()
		}()
	}
	wg.Wait()
	return out
}

// index fetches the base URL itself: the user may have given a deep link.
func (c *checker) index(ctx context.Context, pg *page) (*fetched, error) {
	base := pg.baseURL()
	if pg.url.String() == base.String() {
		return &fetched{url: pg.url, status: http.StatusOK, header: pg.header, body: pg.body}, nil
	}
	f, err := c.get(ctx, base, nil)
	if err != nil {
		return nil, err
	}
	if f.status != http.StatusOK {
		return nil, fmt.Errorf("%s answered %d", redact(base), f.status)
	}
	return f, nil
}

func indexCacheItem(f *fetched) Item {
	cc := f.header.Get("Cache-Control")
	d := cacheDirectives(cc)
	where := redact(f.url)
	switch {
	case cc == "":
		return fail(IDIndexCache, where+": no Cache-Control (browsers and CDNs then guess a lifetime)", fixIndexCache)
	case d.has("immutable"):
		return fail(IDIndexCache, fmt.Sprintf("%s: Cache-Control %q marks the page immutable", where, cc), fixIndexCache)
	case d.has("no-cache") || d.has("no-store") || d.maxAge() == 0:
		return pass(IDIndexCache, "Cache-Control: "+cc)
	}
	return fail(IDIndexCache, fmt.Sprintf("%s: Cache-Control %q lets browsers keep an old page after a publish", where, cc), fixIndexCache)
}

type directives map[string]string

func cacheDirectives(cc string) directives {
	d := directives{}
	for _, part := range strings.Split(cc, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		if k != "" {
			d[strings.ToLower(k)] = strings.Trim(v, `"`)
		}
	}
	return d
}

func (d directives) has(k string) bool { _, ok := d[k]; return ok }

// maxAge is max-age in seconds, or -1 when absent or unreadable.
func (d directives) maxAge() int64 {
	n, err := strconv.ParseInt(d["max-age"], 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// hashedRe matches Vite's content-hashed names: name-XXXXXXXX.ext.
var hashedRe = regexp.MustCompile(`-[A-Za-z0-9_-]{8}\.[a-z0-9]+$`)

// pickAsset prefers the entry module script: the one whose failure blanks the page.
func pickAsset(pg *page) (assetRef, bool) {
	var found []assetRef
	for _, a := range pg.assets {
		u, err := url.Parse(a.ref)
		if err == nil && hashedRe.MatchString(u.Path) {
			found = append(found, a)
		}
	}
	for _, a := range found {
		if strings.HasSuffix(a.ref, ".js") {
			return a, true
		}
	}
	if len(found) > 0 {
		return found[0], true
	}
	return assetRef{}, false
}

const fixAssetCache = "serve hashed files with Cache-Control: public, max-age=31536000, immutable " +
	"(studiobake publish sets it; check that no CDN policy overrides it)"

func (c *checker) assetItem(ctx context.Context, pg *page) Item {
	a, ok := pickAsset(pg)
	if !ok {
		return fail(IDAsset, "the page links no content-hashed asset (name-XXXXXXXX.js)", "check that the page is a Studio bake")
	}
	u := pg.resolve(a.ref)
	// As a browser asks: the answer may be a precompressed variant, whose
	// decoded body is what the integrity covers.
	f, err := c.get(ctx, u, http.Header{"Accept-Encoding": {"br, gzip"}})
	if err != nil {
		return failErr(IDAsset, err, "check that every file of site/ was uploaded")
	}
	where := redact(u)
	if f.status != http.StatusOK {
		return fail(IDAsset, fmt.Sprintf("%s answered %d", where, f.status), "upload every file of site/ under the base path (studiobake publish)")
	}
	if looksLikeIndex(f.body) {
		return fail(IDAsset, where+" answered with index.html instead of the file", "upload every file of site/ under the base path (studiobake publish)")
	}
	cc := f.header.Get("Cache-Control")
	d := cacheDirectives(cc)
	if !d.has("immutable") || d.maxAge() < 2592000 {
		return fail(IDAsset, fmt.Sprintf("%s: Cache-Control %q is not a long immutable lifetime", where, cc), fixAssetCache)
	}
	if msg := badType(u.Path, f.header.Get("Content-Type")); msg != "" {
		return fail(IDAsset, where+": "+msg, "serve .js as text/javascript and .css as text/css (studiobake publish sets Content-Type)")
	}
	body, enc, err := decoded(f)
	if err != nil {
		return fail(IDAsset, fmt.Sprintf("%s: %v", where, err), fixEncoding)
	}
	if a.integrity == "" {
		return pass(IDAsset, fmt.Sprintf("%s: Cache-Control %q, %s (the page carries no integrity attribute to compare)", where, cc, enc))
	}
	if !sriMatches(a.integrity, body) {
		return fail(IDAsset, fmt.Sprintf("%s: content (%s) does not match the page's integrity %q", where, enc, a.integrity),
			"something between the bucket and the browser rewrites files (minify, compression at the origin), a precompressed FILE.br or FILE.gz was uploaded without its Content-Encoding, or the page and assets come from different bakes: publish again")
	}
	return pass(IDAsset, fmt.Sprintf("%s: Cache-Control %q, %s, integrity matches", where, cc, enc))
}

const fixEncoding = "upload each precompressed FILE.br and FILE.gz with Content-Encoding br or gzip (studiobake publish does), or leave them out"

// decoded is an answer's body as the browser reads it, and how it came.
func decoded(f *fetched) ([]byte, string, error) {
	ce := strings.ToLower(strings.TrimSpace(f.header.Get("Content-Encoding")))
	if ce == "" || ce == "identity" {
		return f.body, fmt.Sprintf("uncompressed, %d bytes", len(f.body)), nil
	}
	if ce != "br" && ce != "gzip" {
		return nil, "", fmt.Errorf("Content-Encoding %q, which the browser did not ask for", ce)
	}
	r, err := build.NewDecoder(ce, bytes.NewReader(f.body))
	var body []byte
	if err == nil {
		body, err = io.ReadAll(io.LimitReader(r, maxBody))
	}
	if err != nil {
		return nil, "", fmt.Errorf("Content-Encoding %s, but the body does not decode (%v)", ce, err)
	}
	return body, fmt.Sprintf("%s, %d bytes for %d", ce, len(f.body), len(body)), nil
}

func badType(p, ct string) string {
	ct = strings.ToLower(strings.TrimSpace(strings.Split(ct, ";")[0]))
	switch {
	case strings.HasSuffix(p, ".js") && ct != "text/javascript" && ct != "application/javascript":
		return fmt.Sprintf("Content-Type %q; browsers refuse module scripts that are not JavaScript", ct)
	case strings.HasSuffix(p, ".css") && ct != "text/css":
		return fmt.Sprintf("Content-Type %q; browsers refuse stylesheets that are not text/css", ct)
	}
	return ""
}

// sriMatches reports whether body matches any of the integrity's hashes.
func sriMatches(integrity string, body []byte) bool {
	for _, tok := range strings.Fields(integrity) {
		alg, want, ok := strings.Cut(tok, "-")
		if !ok {
			continue
		}
		want, _, _ = strings.Cut(want, "?") // options, reserved by the SRI spec
		var h hash.Hash
		switch alg {
		case "sha256":
			h = sha256.New()
		case "sha384":
			h = sha512.New384()
		case "sha512":
			h = sha512.New()
		default:
			continue
		}
		h.Write(body)
		if base64.StdEncoding.EncodeToString(h.Sum(nil)) == want {
			return true
		}
	}
	return false
}

func looksLikeIndex(body []byte) bool {
	head := body
	if len(head) > 4096 {
		head = head[:4096]
	}
	h := bytes.ToLower(head)
	return bytes.Contains(h, []byte("<!doctype html")) || bytes.Contains(h, []byte("<html"))
}

const fixDeepLink = "route extension-less paths under the base path to index.html in the viewer-request function " +
	"(studiobake build --edge cloudfront); avoid 403/404 custom error responses, they also hide missing assets"

func (c *checker) deepLinkItem(ctx context.Context, pg *page, index *fetched) Item {
	// "agents" is a top-level Studio route in every version.
	u := pg.resolve("agents/studiobake-check/deep-link")
	f, err := c.get(ctx, u, http.Header{"Accept": {"text/html"}})
	if err != nil {
		return failErr(IDDeepLink, err, fixDeepLink)
	}
	where := redact(u)
	if f.status != http.StatusOK {
		return fail(IDDeepLink, fmt.Sprintf("%s answered %d", where, f.status), fixDeepLink)
	}
	if !bytes.Equal(f.body, index.body) {
		return fail(IDDeepLink, where+" answered 200 but not with index.html", fixDeepLink)
	}
	return pass(IDDeepLink, where+" answered index.html (200)")
}

func (c *checker) missingItem(ctx context.Context, pg *page) Item {
	u := pg.resolve("assets/studiobake-check-missing-" + randomHex() + ".js")
	f, err := c.get(ctx, u, nil)
	if err != nil {
		return failErr(IDMissingAsset, err, "check that the site is reachable")
	}
	where := redact(u)
	switch {
	case f.status == http.StatusNotFound || f.status == http.StatusGone:
		return pass(IDMissingAsset, fmt.Sprintf("%s answered %d", where, f.status))
	case f.status == http.StatusOK && looksLikeIndex(f.body):
		return fail(IDMissingAsset, where+" answered 200 with index.html: a missing chunk then fails as a MIME-type error, not a 404",
			"remove 403/404 -> /index.html custom error responses (or catch-all rewrites) and let the studiobake gate do the SPA fallback")
	case f.status == http.StatusForbidden:
		return fail(IDMissingAsset, where+" answered 403, not 404",
			"let the CDN list the bucket (s3:ListBucket for the origin access control) so that missing files answer 404")
	}
	return fail(IDMissingAsset, fmt.Sprintf("%s answered %d, not 404", where, f.status),
		"missing files under the base path must answer 404")
}

func randomHex() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
