package npm

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/studiobake/studiobake/build/npm/tartest"
)

// publish adds versions with the 1.x layout and sets dist-tags.
func publish(t *testing.T, r *fakeRegistry, versions ...string) map[string][]byte {
	t.Helper()
	tgzs := map[string][]byte{}
	for _, v := range versions {
		tgzs[v] = makeTarball(t, packageEntries(v, "dist/studio"))
		r.add(v, tgzs[v])
	}
	r.distTags["latest"] = versions[len(versions)-1]
	return tgzs
}

func fetchOpts(r *fakeRegistry, version, cache string) FetchOptions {
	return FetchOptions{
		Registry: Registry{URL: r.URL + "/"},
		Name:     "mastra",
		Version:  version,
		CacheDir: cache,
		Subdirs:  studioSubdirs,
	}
}

// cacheContents lists <cache>/npm without lock files, which may stay.
func cacheContents(t *testing.T, cache string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(cache, "npm"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".lock") {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestFetch(t *testing.T) {
	r := newFakeRegistry(t)
	tgzs := publish(t, r, "1.30.0", "1.31.0")
	cache := t.TempDir()
	var done, total int64
	o := fetchOpts(r, "1.31.0", cache)
	o.Progress = func(d, tot int64) { done, total = d, tot }
	f, err := Fetch(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	want := Fetched{Dir: filepath.Join(cache, "npm", "mastra@1.31.0", "studio"), Version: "1.31.0",
		Integrity: sri512(tgzs["1.31.0"]), Subdir: "package/dist/studio"}
	if f.Dir != want.Dir || f.Version != want.Version || f.Integrity != want.Integrity || f.Subdir != want.Subdir || f.Cached {
		t.Errorf("got %+v\nwant %+v", *f, want)
	}
	sameTree(t, readTree(t, f.Dir), studioFiles("1.31.0"))
	if n := int64(len(tgzs["1.31.0"])); done != n || total != n {
		t.Errorf("progress ended at %d/%d, want %d/%d", done, total, n, n)
	}
	if got := cacheContents(t, cache); len(got) != 1 || got[0] != "mastra@1.31.0" {
		t.Errorf("cache holds %v, want just mastra@1.31.0", got)
	}
}

func TestFetchDistTag(t *testing.T) {
	r := newFakeRegistry(t)
	publish(t, r, "1.30.0", "1.31.0", "1.32.0-alpha.1")
	r.distTags["latest"] = "1.31.0"
	r.distTags["alpha"] = "1.32.0-alpha.1"
	tests := []struct{ tag, want string }{
		{"latest", "1.31.0"},
		{"alpha", "1.32.0-alpha.1"},
		{"1.30.0", "1.30.0"},
	}
	for _, tc := range tests {
		t.Run(tc.tag, func(t *testing.T) {
			f, err := Fetch(context.Background(), fetchOpts(r, tc.tag, t.TempDir()))
			if err != nil {
				t.Fatal(err)
			}
			if f.Version != tc.want {
				t.Errorf("%s resolved to %s, want %s", tc.tag, f.Version, tc.want)
			}
			sameTree(t, readTree(t, f.Dir), studioFiles(tc.want))
		})
	}
}

func TestFetchErrors(t *testing.T) {
	tests := []struct {
		desc    string
		setup   func(t *testing.T, r *fakeRegistry)
		version string
		want    []string
	}{
		{"tampered tarball", func(t *testing.T, r *fakeRegistry) {
			publish(t, r, "1.31.0")
			r.tarballs["1.31.0"] = makeTarball(t, packageEntries("1.31.0-evil", "dist/studio"))
		}, "1.31.0", []string{"integrity check failed for mastra-1.31.0.tgz: expected sha512-", ", got sha512-"}},
		{"corrupt gzip", func(t *testing.T, r *fakeRegistry) {
			r.add("1.31.0", []byte("this is not gzip"))
		}, "1.31.0", []string{"extract mastra-1.31.0.tgz: corrupt tarball: gzip: invalid header"}},
		{"version not found lists the nearest", func(t *testing.T, r *fakeRegistry) {
			publish(t, r, "1.29.0", "1.30.0", "1.31.0", "1.32.0", "1.33.0-alpha.1", "2.0.0")
		}, "1.31.5", []string{"fetch mastra@1.31.5 from http://127.0.0.1:", "version not found; nearest: 1.29.0, 1.30.0, 1.31.0, 1.32.0, 2.0.0; dist-tags: latest"}},
		{"unknown dist-tag", func(t *testing.T, r *fakeRegistry) { publish(t, r, "1.31.0") }, "nightly",
			[]string{"fetch mastra@nightly from", "version not found; nearest: 1.31.0; dist-tags: latest"}},
		{"HTTP 500", func(t *testing.T, r *fakeRegistry) { publish(t, r, "1.31.0"); r.status = 500 }, "1.31.0",
			[]string{"fetch mastra@1.31.0 from http://127.0.0.1:", "/mastra: 500 Internal Server Error"}},
		{"HTTP 404 on the tarball", func(t *testing.T, r *fakeRegistry) {
			publish(t, r, "1.31.0")
			r.dists["1.31.0"]["tarball"] = r.URL + "/mastra/-/gone.tgz"
		}, "1.31.0", []string{"gone.tgz: 404 Not Found"}},
		{"old mastra without Studio", func(t *testing.T, r *fakeRegistry) {
			r.add("0.10.0", makeTarball(t, packageEntries("0.10.0", "")))
		}, "0.10.0", []string{"mastra@0.10.0 has no dist/studio or dist/playground: studiobake supports mastra 0.18 to 1.x"}},
		{"unsafe entry", func(t *testing.T, r *fakeRegistry) {
			r.add("1.31.0", makeTarball(t, append(packageEntries("1.31.0", "dist/studio"), tarEntry{Name: "package/dist/studio/x", Type: '2', Link: "/etc"})))
		}, "1.31.0", []string{`unsafe tar entry "package/dist/studio/x": symlink not allowed`}},
		{"sparse bomb with a valid integrity hash (the registry supplies both)", func(t *testing.T, r *fakeRegistry) {
			w := tartest.Package("1.31.0")
			w.Sparse(tartest.PAX01, "package/dist/studio/assets/bomb.js", 500<<20)
			r.add("1.31.0", w.Gzip())
		}, "1.31.0", []string{`extract mastra-1.31.0.tgz: unsafe tar entry "package/dist/studio/assets/bomb.js": sparse file not allowed`}},
		{"package.json disagrees with the version", func(t *testing.T, r *fakeRegistry) {
			r.add("1.31.0", makeTarball(t, packageEntries("1.30.0", "dist/studio")))
		}, "1.31.0", []string{"package.json says version 1.30.0, not 1.31.0"}},
		{"no checksum at all", func(t *testing.T, r *fakeRegistry) {
			publish(t, r, "1.31.0")
			r.dists["1.31.0"]["integrity"], r.dists["1.31.0"]["shasum"] = "", ""
		}, "1.31.0", []string{"neither dist.integrity nor dist.shasum"}},
		{"wrong shasum without integrity", func(t *testing.T, r *fakeRegistry) {
			publish(t, r, "1.31.0")
			r.dists["1.31.0"]["integrity"] = ""
			r.dists["1.31.0"]["shasum"] = strings.Repeat("ab", 20)
		}, "1.31.0", []string{"integrity check failed for mastra-1.31.0.tgz: expected sha1-"}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			r := newFakeRegistry(t)
			tc.setup(t, r)
			cache := t.TempDir()
			f, err := Fetch(context.Background(), fetchOpts(r, tc.version, cache))
			if err == nil {
				t.Fatalf("no error; fetched %+v", *f)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nwant it to contain %q", err, w)
				}
			}
			if got := cacheContents(t, cache); len(got) > 0 {
				t.Errorf("cache holds %v after a failure", got)
			}
		})
	}
}

func TestFetchShasumFallback(t *testing.T) {
	r := newFakeRegistry(t)
	publish(t, r, "1.31.0")
	r.dists["1.31.0"]["integrity"] = ""
	f, err := Fetch(context.Background(), fetchOpts(r, "1.31.0", t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(f.Integrity, "sha1-") || len(f.Warnings) != 1 || !strings.Contains(f.Warnings[0], "sha1") {
		t.Errorf("integrity %q warnings %q, want sha1 and a warning saying so", f.Integrity, f.Warnings)
	}
}

func TestFetchUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	o := FetchOptions{Registry: Registry{URL: "http://" + addr + "/"}, Name: "mastra", Version: "1.31.0",
		CacheDir: t.TempDir(), Subdirs: studioSubdirs}
	_, err = Fetch(context.Background(), o)
	want := "fetch mastra@1.31.0 from http://" + addr + "/: "
	if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("error %v, want %q... connection refused", err, want)
	}
}

func TestFetchCacheHitOffline(t *testing.T) {
	r := newFakeRegistry(t)
	publish(t, r, "1.31.0")
	cache := t.TempDir()
	first, err := Fetch(context.Background(), fetchOpts(r, "1.31.0", cache))
	if err != nil {
		t.Fatal(err)
	}
	o := fetchOpts(r, "1.31.0", cache)
	r.Close() // any network use now fails
	second, err := Fetch(context.Background(), o)
	if err != nil {
		t.Fatalf("cache hit with the registry down: %v", err)
	}
	if !second.Cached || second.Dir != first.Dir || second.Integrity != first.Integrity || second.Subdir != first.Subdir {
		t.Errorf("second fetch %+v, want a cache hit of %+v", *second, *first)
	}
	o.Registry = Registry{} // nothing configured at all: a cached exact version still works
	if _, err := Fetch(context.Background(), o); err != nil {
		t.Errorf("cache hit with no registry: %v", err)
	}
	// A dist-tag needs the registry to say which version it means.
	o.Version = "latest"
	if _, err := Fetch(context.Background(), o); err == nil {
		t.Error("dist-tag resolved with the registry down")
	}
}

func TestFetchCorruptCacheRefetched(t *testing.T) {
	tests := []struct {
		desc  string
		spoil func(entry string) error
	}{
		{"edited file", func(e string) error {
			return os.WriteFile(filepath.Join(e, "studio", "index.html"), []byte("edited"), 0o644)
		}},
		{"edited file of the same size", func(e string) error {
			p := filepath.Join(e, "studio", "index.html")
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			time.Sleep(10 * time.Millisecond) // a new modification time, as any editor makes
			return os.WriteFile(p, bytes.Repeat([]byte("x"), len(b)), 0o644)
		}},
		{"deleted file", func(e string) error { return os.Remove(filepath.Join(e, "studio", "assets", "style-EfGh5678.css")) }},
		{"extra file", func(e string) error {
			return os.WriteFile(filepath.Join(e, "studio", "assets", "stray.js"), nil, 0o644)
		}},
		{"no metadata (half-written)", func(e string) error { return os.Remove(filepath.Join(e, cacheMetaFile)) }},
		{"garbled metadata", func(e string) error { return os.WriteFile(filepath.Join(e, cacheMetaFile), []byte("{"), 0o644) }},
		{"symlink planted", func(e string) error {
			return os.Symlink("/etc/passwd", filepath.Join(e, "studio", "assets", "x.js"))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			r := newFakeRegistry(t)
			publish(t, r, "1.31.0")
			cache := t.TempDir()
			f, err := Fetch(context.Background(), fetchOpts(r, "1.31.0", cache))
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.spoil(filepath.Dir(f.Dir)); err != nil {
				t.Fatal(err)
			}
			again, err := Fetch(context.Background(), fetchOpts(r, "1.31.0", cache))
			if err != nil {
				t.Fatal(err)
			}
			if again.Cached || r.tarHits.Load() != 2 {
				t.Errorf("cached=%v, %d downloads: want the corrupt entry fetched again", again.Cached, r.tarHits.Load())
			}
			sameTree(t, readTree(t, again.Dir), studioFiles("1.31.0"))
			if got := cacheContents(t, cache); len(got) != 1 {
				t.Errorf("cache holds %v, want just the entry", got)
			}
		})
	}
}

func TestFetchAuthToken(t *testing.T) {
	r := newFakeRegistry(t)
	publish(t, r, "1.31.0")
	r.token = "s3cret-token"
	project := t.TempDir()
	host := strings.TrimPrefix(r.URL, "http://")
	npmrc := "//" + host + "/:_authToken=${TEST_NPM_TOKEN}\n//elsewhere.invalid/:_authToken=wrong\n"
	if err := os.WriteFile(filepath.Join(project, ".npmrc"), []byte(npmrc), 0o600); err != nil {
		t.Fatal(err)
	}
	environ := isolatedEnv(t, "TEST_NPM_TOKEN=s3cret-token")
	reg, err := ResolveRegistry(context.Background(), r.URL, project, environ)
	if err != nil {
		t.Fatal(err)
	}
	o := fetchOpts(r, "1.31.0", t.TempDir())
	o.Registry = reg
	if _, err := Fetch(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	for i, a := range r.authSeen {
		if a != "Bearer s3cret-token" {
			t.Errorf("request %d sent Authorization %q", i, a)
		}
	}
	if strings.Contains(reg.String()+reg.GoString(), "s3cret") {
		t.Errorf("Registry prints its token: %s %s", reg, reg.GoString())
	}
	o.Registry.AuthToken = ""
	o.CacheDir = t.TempDir()
	_, err = Fetch(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "401 Unauthorized (check the _authToken") {
		t.Errorf("without a token: error %v, want 401 with a hint", err)
	}
}

func TestFetchTokenNotSentElsewhere(t *testing.T) {
	other := newFakeRegistry(t) // serves the tarball from another host:port
	tgz := makeTarball(t, packageEntries("1.31.0", "dist/studio"))
	other.add("1.31.0", tgz)
	r := newFakeRegistry(t)
	r.add("1.31.0", tgz)
	r.dists["1.31.0"]["tarball"] = other.dists["1.31.0"]["tarball"]
	o := fetchOpts(r, "1.31.0", t.TempDir())
	o.Registry.AuthToken = "s3cret-token"
	if _, err := Fetch(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if len(other.authSeen) != 1 || other.authSeen[0] != "" {
		t.Errorf("tarball host got Authorization %q, want none", other.authSeen)
	}
}

func TestFetchConcurrent(t *testing.T) {
	r := newFakeRegistry(t)
	publish(t, r, "1.31.0")
	cache := t.TempDir()
	const n = 6
	var wg sync.WaitGroup
	results := make([]*Fetched, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { results[i], errs[i] = Fetch(context.Background(), fetchOpts(r, "1.31.0", cache)) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("fetch %d: %v", i, errs[i])
		}
		sameTree(t, readTree(t, results[i].Dir), studioFiles("1.31.0"))
	}
	if got := r.tarHits.Load(); got != 1 {
		t.Errorf("%d downloads, want 1: the entry lock should make the others wait and reuse it", got)
	}
	if got := cacheContents(t, cache); len(got) != 1 {
		t.Errorf("cache holds %v, want just the entry", got)
	}
}

func TestFetchNoCache(t *testing.T) {
	r := newFakeRegistry(t)
	publish(t, r, "1.31.0")
	f, err := Fetch(context.Background(), fetchOpts(r, "1.31.0", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(f.Dir)
	sameTree(t, readTree(t, f.Dir), studioFiles("1.31.0"))
}

func TestFetchCancel(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		select {
		case <-release:
		case <-req.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	o := FetchOptions{Registry: Registry{URL: srv.URL}, Name: "mastra", Version: "1.31.0", Subdirs: studioSubdirs}
	_, err := Fetch(ctx, o)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want the context's deadline", err)
	}
}

func TestFetchOptionsCheck(t *testing.T) {
	base := FetchOptions{Registry: Registry{URL: "http://127.0.0.1:1/"}, Name: "mastra", Version: "1.31.0", Subdirs: studioSubdirs}
	tests := []struct {
		desc string
		edit func(o *FetchOptions)
		want string
	}{
		{"version range", func(o *FetchOptions) { o.Version = "^1.31.0" }, `invalid version "^1.31.0"`},
		{"path in version", func(o *FetchOptions) { o.Version = "../../x" }, "invalid version"},
		{"bad name", func(o *FetchOptions) { o.Name = "../mastra" }, "invalid package name"},
		{"no registry", func(o *FetchOptions) { o.Registry.URL = "" }, "invalid registry"},
		{"no subdirs", func(o *FetchOptions) { o.Subdirs = nil }, "no Studio subdirectories"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			o := base
			tc.edit(&o)
			_, err := Fetch(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestFetchRemovesStaleTemp(t *testing.T) {
	if !haveLock {
		t.Skip("stale temp dirs are cleaned only where the entry lock exists")
	}
	r := newFakeRegistry(t)
	publish(t, r, "1.31.0")
	cache := t.TempDir()
	// Left by builds killed mid-way; another version's temp dir is not ours to remove.
	stale := []string{".tmp-mastra@1.31.0-123", ".old-mastra@1.31.0-456"}
	other := ".tmp-mastra@1.30.0-789"
	for _, d := range append(stale, other) {
		if err := os.MkdirAll(filepath.Join(cache, "npm", d, "studio"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Fetch(context.Background(), fetchOpts(r, "1.31.0", cache)); err != nil {
		t.Fatal(err)
	}
	got := cacheContents(t, cache)
	if len(got) != 2 || got[0] != other || got[1] != "mastra@1.31.0" {
		t.Errorf("cache holds %v, want %s and mastra@1.31.0", got, other)
	}
}
