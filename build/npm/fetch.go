// Package npm fetches the mastra package from an npm registry, verifies it
// against the registry's published integrity, caches it, and extracts only
// the Studio tree. The registry always comes from configuration (flag, env,
// .npmrc, npm itself): no registry host is built in.
package npm

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"
)

// FetchOptions says what to fetch, from where, and where to cache it.
type FetchOptions struct {
	Registry Registry
	Name     string                  // "mastra"
	Version  string                  // exact version "1.31.0" or a dist-tag such as "latest"
	CacheDir string                  // e.g. os.UserCacheDir()/studiobake; "" = no cache
	Subdirs  []string                // paths inside the tarball to extract, first found wins
	Client   *http.Client            // nil = default with timeouts
	Progress func(done, total int64) // optional download progress; total is -1 when unknown
}

// Fetched is an extracted Studio tree.
type Fetched struct {
	Dir       string   // the Studio tree's files directly (index.html, assets/...); with no CacheDir, a temp dir the caller removes
	Version   string   // resolved exact version
	Integrity string   // the SRI that was verified ("sha1-..." when only dist.shasum existed)
	Subdir    string   // which of Subdirs was found
	Cached    bool     // served from the cache without downloading
	Warnings  []string // e.g. only the weaker sha1 shasum could be verified
}

const (
	maxPackumentBytes = 128 << 20 // mastra's abbreviated packument is a few MB
	maxTarballBytes   = 512 << 20 // the 1.31.0 tarball is about 5 MB
)

var (
	nameRe = regexp.MustCompile(`^(@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*$`)
	tagRe  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._-]*$`)
)

// FromCache returns an exact version already in the cache, touching no
// network and no registry configuration (a runner without npm on its PATH
// still bakes a cached Studio).
func FromCache(o FetchOptions) (*Fetched, bool) {
	if o.check() != nil || o.CacheDir == "" || !isExactVersion(o.Version) {
		return nil, false
	}
	f, err := loadEntry(o.entryDir(o.Version), o.Name, o.Version, o.Subdirs)
	return f, err == nil
}

// Fetch resolves the version via the packument, downloads dist.tarball,
// verifies dist.integrity (dist.shasum only when integrity is absent, with a
// warning), extracts the Studio subtree into the cache and returns it. An exact
// version already in the cache is used without any network.
func Fetch(ctx context.Context, o FetchOptions) (*Fetched, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	if f, ok := FromCache(o); ok {
		return f, nil
	}
	// Checked only now, so that a cached exact version works offline even
	// with no registry configured at all.
	u, err := normalizeRegistryURL(o.Registry.URL)
	if err != nil {
		return nil, fmt.Errorf("invalid registry %q: %w", redactURL(o.Registry.URL), err)
	}
	o.Registry.URL = u
	client := o.Client
	if client == nil {
		client = defaultClient()
	}
	doc, err := getPackument(ctx, client, o.Registry, o.Name)
	if err != nil {
		return nil, fmt.Errorf("fetch %s@%s from %s: %w", o.Name, o.Version, o.Registry, err)
	}
	version, dist, err := doc.resolve(o.Version)
	if err != nil {
		return nil, fmt.Errorf("fetch %s@%s from %s: %w", o.Name, o.Version, o.Registry, err)
	}
	if o.CacheDir == "" {
		return fetchTemp(ctx, client, o, version, dist)
	}
	return fetchCached(ctx, client, o, version, dist)
}

func (o FetchOptions) check() error {
	if !nameRe.MatchString(o.Name) {
		return fmt.Errorf("invalid package name %q", o.Name)
	}
	if !isExactVersion(o.Version) && !tagRe.MatchString(o.Version) {
		return fmt.Errorf("invalid version %q: want an exact version such as 1.31.0 or a dist-tag such as latest", o.Version)
	}
	if len(o.Subdirs) == 0 {
		return errors.New("fetch: no Studio subdirectories given")
	}
	return nil
}

func defaultClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone() // keeps proxy settings from the environment
	t.TLSHandshakeTimeout = 15 * time.Second
	t.ResponseHeaderTimeout = time.Minute
	return &http.Client{Transport: t, Timeout: 10 * time.Minute}
}

type distInfo struct {
	Tarball   string `json:"tarball"`
	Integrity string `json:"integrity"`
	Shasum    string `json:"shasum"`
}

type packument struct {
	DistTags map[string]string `json:"dist-tags"`
	Versions map[string]struct {
		Dist distInfo `json:"dist"`
	} `json:"versions"`
}

func getPackument(ctx context.Context, client *http.Client, reg Registry, name string) (*packument, error) {
	// Scoped names keep their "@" but escape the "/" as npm does.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, reg.URL+strings.Replace(name, "/", "%2f", 1), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8")
	setAuth(req, reg)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if err := checkStatus(resp); err != nil {
		return nil, err
	}
	var doc packument
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxPackumentBytes)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("read package metadata: %w", err)
	}
	return &doc, nil
}

// setAuth sends the token only to the registry's own scheme and host, so that
// a tarball served from elsewhere never receives it.
func setAuth(req *http.Request, reg Registry) {
	req.Header.Set("User-Agent", "studiobake")
	if reg.AuthToken == "" {
		return
	}
	ru, err := url.Parse(reg.URL)
	if err == nil && ru.Scheme == req.URL.Scheme && ru.Host == req.URL.Host {
		req.Header.Set("Authorization", "Bearer "+reg.AuthToken)
	}
}

func checkStatus(resp *http.Response) error {
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	msg := fmt.Sprintf("GET %s: %s", redactURL(resp.Request.URL.String()), resp.Status)
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		msg += " (check the _authToken for this registry in .npmrc)"
	case http.StatusNotFound:
		msg += " (not found at this registry)"
	}
	return errors.New(msg)
}

func (d *packument) resolve(want string) (string, distInfo, error) {
	if v, ok := d.Versions[want]; ok {
		return want, v.Dist, nil
	}
	if tagged, ok := d.DistTags[want]; ok {
		v, ok := d.Versions[tagged]
		if !ok {
			return "", distInfo{}, fmt.Errorf("dist-tag %s points to %s, which the registry does not list", want, tagged)
		}
		if !isExactVersion(tagged) { // the version becomes a cache path component
			return "", distInfo{}, fmt.Errorf("dist-tag %s points to invalid version %q", want, tagged)
		}
		return tagged, v.Dist, nil
	}
	all := make([]string, 0, len(d.Versions))
	for v := range d.Versions {
		all = append(all, v)
	}
	tags := make([]string, 0, len(d.DistTags))
	for t := range d.DistTags {
		tags = append(tags, t)
	}
	sort.Strings(tags)
	msg := "version not found"
	if near := nearestVersions(all, want, 5); len(near) > 0 {
		msg += "; nearest: " + strings.Join(near, ", ")
	}
	if len(tags) > 0 {
		msg += "; dist-tags: " + strings.Join(tags[:min(len(tags), 8)], ", ")
	}
	return "", distInfo{}, errors.New(msg)
}

func tarballName(name, version string) string {
	return name[strings.LastIndex(name, "/")+1:] + "-" + version + ".tgz"
}

// fetchTemp serves FetchOptions without a cache: a fresh temp dir per call.
func fetchTemp(ctx context.Context, client *http.Client, o FetchOptions, version string, dist distInfo) (*Fetched, error) {
	dir, err := os.MkdirTemp("", "studiobake-"+entryKey(o.Name, version)+"-")
	if err != nil {
		return nil, err
	}
	f, err := downloadAndExtract(ctx, client, o, version, dist, os.TempDir(), dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return f, nil
}

// downloadAndExtract streams the tarball to a temp file in tmpDir while hashing
// it, and extracts it into dest only once the hash matches.
func downloadAndExtract(ctx context.Context, client *http.Client, o FetchOptions, version string, dist distInfo, tmpDir, dest string) (*Fetched, error) {
	spec, file := o.Name+"@"+version, tarballName(o.Name, version)
	sum, warning, err := expectedSum(dist, spec)
	if err != nil {
		return nil, fmt.Errorf("fetch %s from %s: %w", spec, o.Registry, err)
	}
	tarURL, err := resolveTarballURL(o.Registry.URL, dist.Tarball)
	if err != nil {
		return nil, fmt.Errorf("fetch %s from %s: dist.tarball: %w", spec, o.Registry, err)
	}
	tmp, err := os.CreateTemp(tmpDir, ".tarball-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sum.newHash()
	if err := download(ctx, client, o, tarURL, io.MultiWriter(tmp, h)); err != nil {
		return nil, fmt.Errorf("fetch %s from %s: %w", spec, o.Registry, err)
	}
	got := sum.algo + "-" + b64(h.Sum(nil))
	if !sum.matches(h.Sum(nil)) {
		return nil, fmt.Errorf("integrity check failed for %s: expected %s, got %s", file, sum.display, got)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	subdir, pkgVersion, err := ExtractTarball(bufio.NewReader(tmp), o.Subdirs, dest)
	var noStudio *NoStudioError
	if errors.As(err, &noStudio) {
		noStudio.Name, noStudio.Version = o.Name, version
		return nil, noStudio
	}
	if err != nil {
		return nil, fmt.Errorf("extract %s: %w", file, err)
	}
	if pkgVersion != "" && pkgVersion != version {
		return nil, fmt.Errorf("extract %s: its package.json says version %s, not %s", file, pkgVersion, version)
	}
	f := &Fetched{Dir: dest, Version: version, Integrity: got, Subdir: subdir}
	if warning != "" {
		f.Warnings = append(f.Warnings, warning)
	}
	return f, nil
}

func resolveTarballURL(registryURL, tarball string) (string, error) {
	if tarball == "" {
		return "", errors.New("missing")
	}
	base, err := url.Parse(registryURL)
	if err != nil {
		return "", err
	}
	ref, err := url.Parse(tarball)
	if err != nil {
		return "", err
	}
	u := base.ResolveReference(ref)
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("unsupported URL %q", redactURL(u.String()))
	}
	return u.String(), nil
}

func download(ctx context.Context, client *http.Client, o FetchOptions, tarURL string, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, tarURL, nil)
	if err != nil {
		return err
	}
	setAuth(req, o.Registry)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := checkStatus(resp); err != nil {
		return err
	}
	var body io.Reader = io.LimitReader(resp.Body, maxTarballBytes+1)
	if o.Progress != nil {
		body = &progressReader{r: body, total: resp.ContentLength, fn: o.Progress}
	}
	n, err := io.Copy(w, body)
	if err != nil {
		return fmt.Errorf("download %s: %w", redactURL(tarURL), err)
	}
	if n > maxTarballBytes {
		return fmt.Errorf("download %s: over %d MiB", redactURL(tarURL), maxTarballBytes>>20)
	}
	return nil
}

type progressReader struct {
	r     io.Reader
	done  int64
	total int64
	fn    func(done, total int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.done += int64(n)
		p.fn(p.done, p.total)
	}
	return n, err
}
